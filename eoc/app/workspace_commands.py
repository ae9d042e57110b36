"""The workspaces' commands (request bodies): linking calls, conflicts, danger flags,
call-backs, duress, held places. Strict like every command (``commands.py``)."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from eoc.app.commands import Command, PersonDetails
from eoc.app.fields import Count, Flag, FreeText, Moment, Name, SubjectId
from events.catalogue import Point
from events.workspace import DangerKind, DangerReview


class LinkCall(Command):
    """This call is about an incident already open: link it instead of opening a duplicate."""

    incident_id: UUID


class RecordTeamConflict(Command):
    team_id: UUID
    reason: FreeText(200)  # type: ignore[valid-type]


class RecordDangerFlag(Command):
    flag_id: UUID | None = Field(None, description="the new flag's id, chosen by the client")
    kinds: list[DangerKind] = Field(min_length=1, max_length=len(DangerKind))
    location: Point | None = None
    radius_m: Count = Field(100, ge=10, le=2000)
    person: SubjectId | None = None
    incident_id: UUID | None = None
    county: Name(60) | None = Field(None, description="needed when the flag is not on an incident")  # type: ignore[valid-type]
    note: FreeText(500) | None = None  # type: ignore[valid-type]
    days: Count = Field(30, ge=1, le=365, description="in force for this many days")
    review_days: Count | None = Field(None, ge=1, le=365, description="reviewed after (default: at expiry)")


class ReviewDangerFlag(Command):
    decision: DangerReview
    days: Count | None = Field(None, ge=1, le=365, description="kept: in force this many days more")


class ScheduleFollowUp(Command):
    call_id: UUID | None = None
    centre_id: UUID | None = None
    person: SubjectId | None = None
    after_hours: list[Count] = Field(min_length=1, max_length=4, description="e.g. [24, 72]")


class CompleteFollowUp(Command):
    reached: Flag = True
    note: FreeText(500) | None = None  # type: ignore[valid-type]


class RaiseDuress(Command):
    covert: Flag = Field(False, description="covert: the team's screen shows nothing")
    position: Point | None = None


class ClearDuress(Command):
    note: FreeText(500) | None = None  # type: ignore[valid-type]


class HoldPlace(Command):
    hold_id: UUID | None = None
    minutes: Count = Field(90, ge=5, le=24 * 60)
    incident_id: UUID | None = None


class ReleasePlaceHold(Command):
    pass


class IntakeLookup(Command):
    """What the call-taker has typed so far: the number (never stored) and/or the address."""

    phone: str | None = Field(None, min_length=3, max_length=32, pattern=r"^\+?[0-9][0-9 \-]*$")
    location: Point | None = None
    limit: int = Field(20, ge=1, le=100, description="at most this many of each list (newest or nearest first); "
                                                    "``totals`` says how many there are")


__all__ = ["Moment", "PersonDetails"]
