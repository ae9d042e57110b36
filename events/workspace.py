"""Events and words of the workspaces (میز کار): danger-to-staff flags, follow-up call-backs,
duress alarms, place holds, linked calls and conflicts of interest.

They are registered in the one catalogue (``events.catalogue.CATALOGUE``) like every other
event type; this module only keeps them together.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field

from events.catalogue import Payload, Point, event_type
from events.vocabulary import Word


class DangerKind(Word):
    """A danger to staff (خطر برای کارکنان) recorded on an address or a person."""

    WEAPON = "weapon"  # سلاح
    VIOLENT_RELATIVE = "violent_relative"  # بستگان خشن
    DOG = "dog"  # سگ
    ASSAULT_ON_STAFF = "assault_on_staff"  # سابقه ضرب و جرح کارکنان


class DangerReview(Word):
    KEEP = "keep"  # تمدید
    LIFT = "lift"  # رفع


class FollowUpSubject(Word):
    CALL = "call"  # تماس
    CLIENT = "client"  # مددجو


# ---------------------------------------------------------------- danger to staff (aggregate "danger")


@event_type("danger")
class DangerFlagRecorded(Payload):
    """On an address (a point and a radius) or a person (pseudonymous id), until expiry."""

    kinds: list[DangerKind] = Field(min_length=1, max_length=len(DangerKind))
    location: Point | None = None
    radius_m: int = Field(100, ge=10, le=2000)
    person: str | None = Field(None, min_length=3, max_length=64)
    incident_id: UUID | None = None
    note: str | None = Field(None, max_length=500)
    expires_at: AwareDatetime
    review_at: AwareDatetime


@event_type("danger")
class DangerFlagReviewed(Payload):
    decision: DangerReview
    expires_at: AwareDatetime
    review_at: AwareDatetime | None = None


# ---------------------------------------------------------------- follow-up call-backs (aggregate "follow_up")


@event_type("follow_up")
class FollowUpScheduled(Payload):
    """A call-back (تماس پیگیری) due at a moment, after counselling or a discharge."""

    subject: FollowUpSubject
    call_id: UUID | None = None
    centre_id: UUID | None = None
    person: str | None = Field(None, min_length=3, max_length=64)
    due_at: AwareDatetime
    after_hours: int = Field(ge=1, le=24 * 90)


@event_type("follow_up")
class FollowUpDone(Payload):
    note: str | None = Field(None, max_length=500)
    reached: bool = True


# ---------------------------------------------------------------- teams: duress (هشدار اضطرار)


@event_type("team")
class DuressRaised(Payload):
    """SOS from a team: covert when the team cannot be seen raising it."""

    covert: bool = False
    position: Point | None = None
    incident_id: UUID | None = None


@event_type("team")
class DuressCleared(Payload):
    note: str | None = Field(None, max_length=500)


# ---------------------------------------------------------------- centres: held places (رزرو تخت)


@event_type("centre")
class PlaceHeld(Payload):
    hold_id: UUID
    until: AwareDatetime
    incident_id: UUID | None = None


@event_type("centre")
class PlaceHoldReleased(Payload):
    hold_id: UUID
    reason: str = Field(max_length=40)  # admitted | cancelled | expired


# ---------------------------------------------------------------- calls and incidents


@event_type("call")
class CallLinked(Payload):
    """The call is about an incident already open (no duplicate incident is opened)."""

    incident_id: UUID


@event_type("incident")
class IncidentCallLinked(Payload):
    call_id: UUID


@event_type("incident")
class TeamConflictRecorded(Payload):
    """A team may not go to this family (a relative, an earlier complaint): excluded."""

    team_id: UUID
    reason: str = Field(min_length=1, max_length=200)
