"""The commands (imperative): what call-takers, dispatchers, teams and centre staff ask for.

These are the request bodies of the command API (and so its OpenAPI schemas). Shape and
range are checked here; the domain checks the rules that need state.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from events.catalogue import CallService, Point
from events.places import PROVINCES
from events.vocabulary import (
    CallCategory,
    CentreKind,
    DischargeReason,
    IncidentOutcome,
    Line,
    Priority,
    ReferralRoute,
    ReferralTarget,
    RiskFlag,
    ShiftKind,
    TeamStatus,
)


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exercise: bool = Field(False, description="a drill (مانور): kept apart from the real figures")
    occurred_at: AwareDatetime | None = Field(
        None, description="when it happened, for a late entry (ثبت با تأخیر); default: now")


class Placed(Command):
    """A command that creates something in a province and county."""

    province: str = Field(description="province code, e.g. QZV", examples=["QZV"])
    county: str = Field(min_length=1, max_length=60, examples=["Qazvin"])

    @field_validator("province")
    @classmethod
    def _known_province(cls, code: str) -> str:
        if code not in PROVINCES:
            raise ValueError(f"unknown province {code!r}; one of {', '.join(sorted(PROVINCES))}")
        return code


class PersonDetails(BaseModel):
    """Identifying details: sealed with the person's own key, never stored in clear."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=120)
    phone: str | None = Field(None, max_length=32)
    age: int | None = Field(None, ge=0, le=120)
    sex: str | None = Field(None, pattern="^(female|male|other)$")
    note: str | None = Field(None, max_length=2000)


# ------------------------------------------------------------------ calls


class ReceiveCall(Placed):
    line: Line = Line.LINE_123
    received_at: AwareDatetime | None = None
    caller_id: str | None = Field(
        None, min_length=3, max_length=64, description="pseudonymous id of a known caller"
    )
    caller: PersonDetails | None = None


class ClassifyCall(Command):
    category: CallCategory
    priority: Priority
    risk_flags: list[RiskFlag] = []


class CounselCall(Command):
    services: list[CallService] = Field(min_length=1)
    duration_s: int = Field(ge=0, le=6 * 3600)


class ReferCall(Command):
    target: ReferralTarget
    centre_id: UUID | None = None
    agency: str | None = Field(None, max_length=200)


class EscalateCall(Command):
    """Open an incident from this call (the call's category and priority carry over)."""

    location: Point
    priority: Priority | None = None


# ------------------------------------------------------------------ incidents


class OpenIncident(Placed):
    route: ReferralRoute
    category: CallCategory
    priority: Priority
    risk_flags: list[RiskFlag] = []
    location: Point


class CloseIncident(Command):
    outcome: IncidentOutcome


# ------------------------------------------------------------------ teams


class RegisterTeam(Placed):
    name: str = Field(min_length=1, max_length=80)
    home: Point
    base_id: UUID | None = None


class StartShift(Command):
    shift: ShiftKind
    members: list[str] = Field(min_length=1, max_length=8)


class EndShift(Command):
    pass


class DispatchTeam(Command):
    incident_id: UUID


class ChangeTeamStatus(Command):
    status: TeamStatus
    position: Point | None = None


class ReportPosition(Command):
    position: Point
    speed_kmh: float | None = Field(None, ge=0, le=250)
    heading: float | None = Field(None, ge=0, lt=360)
    reported_at: AwareDatetime | None = None


class CheckIn(Command):
    position: Point | None = None


class RecordMissedCheckIn(Command):
    due_at: AwareDatetime


# ------------------------------------------------------------------ centres and stays


class RegisterCentre(Placed):
    name: str = Field(min_length=1, max_length=120)
    kind: CentreKind
    capacity: int = Field(ge=0, le=10_000)
    location: Point
    secret: bool = Field(False, description="safe and health houses are always secret")


class ChangeCapacity(Command):
    capacity: int = Field(ge=0, le=10_000)


class CloseCentre(Command):
    reason: str = Field(min_length=1, max_length=200)


class AdmitClient(Command):
    route: ReferralRoute
    client_id: str | None = Field(None, min_length=3, max_length=64)
    client: PersonDetails | None = None
    incident_id: UUID | None = None


class StartHolding(Command):
    client_id: str = Field(min_length=3, max_length=64)
    days: int = Field(ge=15, le=20, description="the holding period (قرنطینه), 15 to 20 days")
    destination_kind: CentreKind


class TransferClient(Command):
    client_id: str = Field(min_length=3, max_length=64)
    to_centre_id: UUID


class DischargeClient(Command):
    client_id: str = Field(min_length=3, max_length=64)
    reason: DischargeReason
