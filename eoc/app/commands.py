"""The commands (imperative): what call-takers, dispatchers, teams and centre staff ask for.

These are the request bodies of the command API (and so its OpenAPI schemas). Shape and
range are checked here, strictly and in one place (the field types are in ``fields.py``: no
coercion, every string and list bounded, no control or bidi characters, moments between 1378
and now, province and county from the reference table); the domain checks the rules that
need state.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from eoc.app.fields import Count, Flag, FreeText, Moment, Name, Number, SubjectId
from events.catalogue import CallService, Point
from events.places import PROVINCES
from events.reference import county as reference_county
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
    Skill,
    TeamStatus,
)


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exercise: Flag = Field(False, description="a drill (مانور): kept apart from the real figures")
    occurred_at: Moment | None = Field(
        None, description="when it happened, for a late entry (ثبت با تأخیر); default: now")


def _known_province(code: str) -> str:
    if code not in PROVINCES:
        raise ValueError(f"unknown province {code!r}; one of {', '.join(sorted(PROVINCES))}")
    return code


# A province by its code, one of the reference table's.
Province = Annotated[str, Field(min_length=3, max_length=3, description="province code, e.g. QZV", examples=["QZV"]),
                     AfterValidator(_known_province)]


def _county_named(province: str, county: str) -> str:
    """The reference table's (English) name of one of the province's counties, named in English
    or Persian; a county the province does not have is refused."""
    found = reference_county(province, county)
    if found is None:
        raise ValueError(f"{province} has no county {county!r} (see events/data/counties.json)")
    return found.name


class Placed(Command):
    """A command that creates something in a province and county (شهرستان).

    The county is one of the province's counties in the reference table (events/data), by its
    English or Persian name; it is stored under the table's English name.
    """

    province: Province = Field(json_schema_extra={"enum": [*sorted(PROVINCES)]})
    county: Name(60) = Field(examples=["Qazvin"])  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _county_of_the_province(self) -> Placed:
        self.county = _county_named(self.province, self.county)
        return self


class PersonDetails(BaseModel):
    """Identifying details: sealed with the person's own key, never stored in clear."""

    model_config = ConfigDict(extra="forbid")
    name: Name(120) | None = None  # type: ignore[valid-type]
    phone: str | None = Field(None, min_length=3, max_length=32, pattern=r"^\+?[0-9][0-9 \-]*$")
    age: Count | None = Field(None, ge=0, le=120)
    sex: Literal["female", "male", "other"] | None = None
    note: FreeText(2000) | None = None  # type: ignore[valid-type]


# ------------------------------------------------------------------ calls


NEW_ID = "the new aggregate's id, chosen by the client so that a retried create cannot make two"


class ReceiveCall(Placed):
    call_id: UUID | None = Field(None, description=NEW_ID)
    line: Line = Line.LINE_123
    received_at: Moment | None = None
    caller_id: SubjectId | None = Field(None, description="pseudonymous id of a known caller")
    caller: PersonDetails | None = None


class Classification(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: CallCategory
    priority: Priority
    risk_flags: list[RiskFlag] = Field([], max_length=len(RiskFlag))


class Counselling(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: list[CallService] = Field(min_length=1, max_length=len(CallService))
    duration_s: Count = Field(ge=0, le=6 * 3600)


class Referral(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: ReferralTarget
    centre_id: UUID | None = None
    agency: Name(200) | None = None  # type: ignore[valid-type]


class Escalation(BaseModel):
    """Open an incident from this call (the call's category and priority carry over)."""

    model_config = ConfigDict(extra="forbid")
    location: Point
    priority: Priority | None = None
    incident_id: UUID | None = Field(None, description=NEW_ID)


class ClassifyCall(Command, Classification):
    pass


class CounselCall(Command, Counselling):
    pass


class ReferCall(Command, Referral):
    pass


class EscalateCall(Command, Escalation):
    """Open an incident from this call (the call's category and priority carry over)."""


class TakeCall(ReceiveCall, Classification):
    """The intake in one command (ثبت تماس): the call received and classified, then at most one
    of escalated to an incident, counselled or referred — every event in one transaction, so a
    call-taker's form is one request (one Idempotency-Key) and never half stored."""

    escalate: Escalation | None = None
    counsel: Counselling | None = None
    refer: Referral | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> TakeCall:
        if sum(x is not None for x in (self.escalate, self.counsel, self.refer)) > 1:
            raise ValueError("a call is escalated, counselled or referred: at most one of them")
        return self


# ------------------------------------------------------------------ incidents


class OpenIncident(Placed):
    incident_id: UUID | None = Field(None, description=NEW_ID)
    route: ReferralRoute
    category: CallCategory
    priority: Priority
    risk_flags: list[RiskFlag] = Field([], max_length=len(RiskFlag))
    location: Point


class CloseIncident(Command):
    outcome: IncidentOutcome


# ------------------------------------------------------------------ teams


class RegisterTeam(Placed):
    team_id: UUID | None = Field(None, description=NEW_ID)
    name: Name(80)  # type: ignore[valid-type]
    home: Point
    base_id: UUID | None = None


class StartShift(Command):
    shift: ShiftKind
    members: list[Name(80)] = Field(min_length=1, max_length=8)  # type: ignore[valid-type]
    skills: list[Skill] = Field([], max_length=len(Skill), description="what the crew brings (مهارت)")


class EndShift(Command):
    pass


class DispatchTeam(Command):
    incident_id: UUID
    release_drill: bool = Field(
        False, description="a real dispatch calls the team back from a drill (مانور) it is taking part in")


class ChangeTeamStatus(Command):
    status: TeamStatus
    position: Point | None = None


class ReportPosition(Command):
    position: Point
    speed_kmh: Number | None = Field(None, ge=0, le=250)
    heading: Number | None = Field(None, ge=0, lt=360)
    reported_at: Moment | None = None


MAX_REPORTS = 5_000  # position reports in one batch: a province's second of reports at 10 a second each


class TeamPositionReport(ReportPosition):
    """One report of a batch: a team's position, as ``ReportPosition`` with the team named."""

    team_id: UUID


class ReportPositions(BaseModel):
    """A batch of position reports (a gateway's or a tablet connection's second of reports): each
    one checked, thinned and answered as ``ReportPosition``, one by one and in this order."""

    model_config = ConfigDict(extra="forbid")
    reports: list[TeamPositionReport] = Field(min_length=1, max_length=MAX_REPORTS)


class CheckIn(Command):
    position: Point | None = None


class RecordMissedCheckIn(Command):
    due_at: Moment


# ------------------------------------------------------------------ centres and stays


class RegisterCentre(Placed):
    centre_id: UUID | None = Field(None, description=NEW_ID)
    name: Name(120)  # type: ignore[valid-type]
    kind: CentreKind
    capacity: Count = Field(ge=0, le=10_000)
    location: Point
    secret: Flag = Field(False, description="safe and health houses are always secret")


class ChangeCapacity(Command):
    capacity: Count = Field(ge=0, le=10_000)


class CloseCentre(Command):
    reason: FreeText(200)  # type: ignore[valid-type]


class AdmitClient(Command):
    route: ReferralRoute
    client_id: SubjectId | None = None
    client: PersonDetails | None = None
    incident_id: UUID | None = None
    hold_id: UUID | None = Field(None, description="the place held for this client (taken by the admission)")


class StartHolding(Command):
    client_id: SubjectId
    days: Count = Field(ge=15, le=20, description="the holding period (قرنطینه), 15 to 20 days")
    destination_kind: CentreKind


class TransferClient(Command):
    client_id: SubjectId
    to_centre_id: UUID
    override_reason: str | None = Field(
        None, min_length=10, max_length=500,
        description="a provincial supervisor's reason to move a client to a safe or health house "
                    "before a served holding period (قرنطینه); recorded for auditors")


class DischargeClient(Command):
    client_id: SubjectId
    reason: DischargeReason
    call_back_hours: list[Count] = Field([], max_length=4, description="call-backs after discharge, e.g. [24, 72]")


# ------------------------------------------------------------------ rosters (برنامه نوبت‌کاری)


class SetRoster(Command):
    """A county's shift pattern: planned teams per shift (0 or absent: the shift does not run
    there). County ``*`` is the pattern of every county without one of its own."""

    province: Province
    county: str = Field(min_length=1, max_length=60, description="a county of the province, or * for every county",
                        examples=["Qazvin", "*"])
    shifts: dict[ShiftKind, Count] = Field(
        max_length=3, description="planned teams per shift, e.g. {\"morning\": 2, \"evening\": 2}",
        examples=[{"morning": 2, "evening": 2, "night": 1}])

    @field_validator("shifts")
    @classmethod
    def _teams(cls, shifts: dict[ShiftKind, int]) -> dict[ShiftKind, int]:
        if any(not 0 <= n <= 500 for n in shifts.values()):
            raise ValueError("planned teams per shift are 0 to 500")
        return shifts

    @model_validator(mode="after")
    def _county_of_the_province(self) -> SetRoster:
        if self.county != "*":
            self.county = _county_named(self.province, self.county)
        return self
