"""The event catalogue: one versioned payload schema per event type.

This is the contract that the write side, the projections, the Kafka topics, the dashboard
and the auditors share. A payload is a pydantic model only at the edges (when an event is
made, and when a foreign message is decoded); inside the system it travels as a plain JSON
dict, already brought up to the current version by :func:`upcast`.

Changing a payload:
- adding an optional field keeps the version;
- renaming, removing, or adding a required field makes a new version, with an upcaster
  from the previous one in ``UPCASTERS`` so that stored history stays readable.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar, cast
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from events.places import in_iran
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
    Word,
)


def _json_number(value: Any) -> Any:
    """A coordinate is a JSON number: text and true/false are refused, not coerced."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("a number is expected (not text, not true/false)")
    return value


class Point(BaseModel):
    """A WGS84 position that must lie inside Iran (its boundary polygon, not a box)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    lat: Annotated[float, BeforeValidator(_json_number)] = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: Annotated[float, BeforeValidator(_json_number)] = Field(ge=-180, le=180, allow_inf_nan=False)

    @field_validator("lon")
    @classmethod
    def _inside_iran(cls, lon: float, info: Any) -> float:
        lat = info.data.get("lat")
        if lat is not None and not in_iran(lat, lon):
            raise ValueError(f"position {lat},{lon} is outside Iran")
        return lon


class CallService(Word):
    """What a call-taker gave on the phone (خدمات تلفنی)."""

    COUNSELLING = "counselling"  # مشاوره
    SOCIAL_WORK = "social_work"  # مددکاری
    MEDICAL = "medical"  # بهداشتی و درمانی
    PSYCHOLOGICAL = "psychological"  # روانشناختی
    LEGAL = "legal"  # حقوقی
    FINANCIAL = "financial"  # مالی
    EDUCATIONAL = "educational"  # فرهنگی و آموزشی


class Payload(BaseModel):
    """Base of every event payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    AGGREGATE: ClassVar[str]
    # Telemetry events are not kept in the aggregate streams (see consumers/telemetry).
    TELEMETRY: ClassVar[bool] = False

    def to_json(self) -> dict[str, Any]:
        return cast(dict[str, Any], _plain(self.model_dump(exclude_none=True)))


def _plain(value: Any) -> Any:
    """JSON-native form with every moment in the canonical ``...Z`` text."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("moments must carry a timezone")
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, (UUID, Word)):
        return str(value)
    return value


CATALOGUE: dict[str, type[Payload]] = {}


_PayloadClass = TypeVar("_PayloadClass", bound=type[Payload])


def event_type(aggregate: str, version: int = 1,
               telemetry: bool = False) -> Callable[[_PayloadClass], _PayloadClass]:
    """Register a payload class in the catalogue under its class name."""

    def register(cls: _PayloadClass) -> _PayloadClass:
        cls.TYPE = cls.__name__
        cls.VERSION = version
        cls.AGGREGATE = aggregate
        cls.TELEMETRY = telemetry
        CATALOGUE[cls.TYPE] = cls
        return cls

    return register


# ---------------------------------------------------------------- line 123 calls (تماس)


@event_type("call", version=2)
class CallReceived(Payload):
    """A call came in on line 123 (or was taken over from 1480).

    v1 (before 1480 hand-overs were recorded) had no ``line`` and named the sealed details
    ``caller_details``; see ``_call_received_v1_to_v2``.
    """

    line: Line
    caller: str = Field(min_length=3, max_length=64, description="pseudonymous subject id")
    caller_sealed: str | None = Field(None, description="caller's details, encrypted per subject")
    received_at: AwareDatetime


@event_type("call")
class CallClassified(Payload):
    category: CallCategory
    priority: Priority
    risk_flags: list[RiskFlag] = []
    received_at: AwareDatetime  # copied so key figures need no memory of the call


@event_type("call")
class CallCounselled(Payload):
    services: list[CallService] = Field(min_length=1)
    duration_s: int = Field(ge=0, le=6 * 3600)


@event_type("call")
class CallReferred(Payload):
    target: ReferralTarget
    centre_id: UUID | None = None
    agency: str | None = Field(None, max_length=200)


@event_type("call")
class CallEscalated(Payload):
    incident_id: UUID


# ---------------------------------------------------------------- incidents (مورد / حادثه)


@event_type("incident")
class IncidentOpened(Payload):
    route: ReferralRoute
    category: CallCategory
    priority: Priority
    risk_flags: list[RiskFlag] = []
    location: Point
    call_id: UUID | None = None
    call_received_at: AwareDatetime | None = None


@event_type("incident")
class IncidentClosed(Payload):
    outcome: IncidentOutcome
    opened_at: AwareDatetime
    released_teams: list[UUID] = []


# ---------------------------------------------------------------- mobile teams (گروه سیار)


@event_type("team")
class TeamRegistered(Payload):
    name: str = Field(min_length=1, max_length=80)
    home: Point
    base_id: UUID | None = None


@event_type("team")
class ShiftStarted(Payload):
    shift: ShiftKind
    members: list[str] = Field(min_length=1, max_length=8, description="pseudonymous staff ids")
    skills: list[Skill] | None = Field(None, description="what the crew brings (the recommendation reads it)")


@event_type("team")
class ShiftEnded(Payload):
    shift: ShiftKind


@event_type("team")
class TeamDispatched(Payload):
    """Sent to an incident (اعزام). The incident's times are copied for the key figures."""

    incident_id: UUID
    priority: Priority
    incident_opened_at: AwareDatetime
    call_received_at: AwareDatetime | None = None


@event_type("team")
class TeamStatusChanged(Payload):
    status: TeamStatus
    previous: TeamStatus
    incident_id: UUID | None = None
    position: Point | None = None
    dispatched_at: AwareDatetime | None = None


@event_type("team", telemetry=True)
class TeamPositionReported(Payload):
    position: Point
    speed_kmh: float | None = Field(None, ge=0, le=250)
    heading: float | None = Field(None, ge=0, lt=360)


@event_type("team")
class SafetyCheckedIn(Payload):
    incident_id: UUID | None = None
    position: Point | None = None


@event_type("team")
class SafetyCheckInMissed(Payload):
    due_at: AwareDatetime
    incident_id: UUID | None = None


# ---------------------------------------------------------------- centres and houses (مراکز)


@event_type("centre")
class CentreRegistered(Payload):
    """A place opened. Secret places keep their location only sealed (encrypted)."""

    name: str = Field(min_length=1, max_length=120)
    kind: CentreKind
    capacity: int = Field(ge=0, le=10_000)
    secret: bool
    location: Point | None = None
    sealed_location: str | None = None


@event_type("centre")
class CentreCapacityChanged(Payload):
    capacity: int = Field(ge=0, le=10_000)
    previous: int


@event_type("centre")
class CentreClosed(Payload):
    reason: str = Field(max_length=200)


@event_type("centre")
class ClientAdmitted(Payload):
    client: str = Field(min_length=3, max_length=64)
    client_sealed: str | None = None
    route: ReferralRoute
    incident_id: UUID | None = None


@event_type("centre")
class AdmissionDeclined(Payload):
    """Refused for lack of capacity: unmet demand, which the EOC counts."""

    route: ReferralRoute
    capacity: int
    occupied: int
    client: str | None = None
    incident_id: UUID | None = None


@event_type("centre")
class HoldingPeriodStarted(Payload):
    """The 15 to 20 day holding (قرنطینه) before a transfer to a safe or health house."""

    client: str
    days: int = Field(ge=15, le=20)
    ends_at: AwareDatetime
    destination_kind: CentreKind


@event_type("centre")
class ClientTransferredOut(Payload):
    client: str
    to_centre_id: UUID
    to_province: str


@event_type("centre")
class ClientTransferredIn(Payload):
    client: str
    from_centre_id: UUID
    from_province: str


@event_type("centre")
class ClientDischarged(Payload):
    client: str
    reason: DischargeReason


# ---------------------------------------------------------------- rules the reports state, drills, rosters


@event_type("centre")
class HoldingRuleOverridden(Payload):
    """A provincial supervisor let a client move to a safe or health house before a served
    holding period (قرنطینه) of 15–20 days; the reason is kept for auditors."""

    client: str
    to_centre_id: UUID
    reason: str = Field(min_length=10, max_length=500)
    holding_until: AwareDatetime | None = None


@event_type("team")
class TeamReleasedFromDrill(Payload):
    """A real team taking part in a drill (مانور) is called back to real work by a dispatcher."""

    drill_incident_id: UUID | None = None
    status: TeamStatus  # the drill status it leaves


@event_type("roster")
class RosterSet(Payload):
    """The shift pattern (برنامه نوبت‌کاری) of one county: which shifts run and with how many teams.
    A shift not in the pattern (zero teams) does not run there."""

    county: str = Field(min_length=1, max_length=60)
    shifts: dict[ShiftKind, int]


# ---------------------------------------------------------------- upcasting

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _call_received_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    new = {k: v for k, v in payload.items() if k != "caller_details"}
    new.setdefault("line", Line.LINE_123.value)  # only line 123 existed then
    if payload.get("caller_details") is not None:
        new["caller_sealed"] = payload["caller_details"]
    return new


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("CallReceived", 1): _call_received_v1_to_v2,
}


class UnknownEventType(ValueError):
    pass


class InvalidPayload(ValueError):
    pass


def upcast(type_: str, version: int, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Bring a stored payload to the current version of its type."""
    try:
        current = CATALOGUE[type_].VERSION
    except KeyError:
        raise UnknownEventType(f"unknown event type {type_!r}") from None
    if version > current:
        raise InvalidPayload(f"{type_} v{version} is newer than this code (v{current})")
    while version < current:
        try:
            payload = UPCASTERS[(type_, version)](payload)
        except KeyError:
            raise InvalidPayload(f"no upcaster for {type_} v{version}") from None
        version += 1
    return version, payload


def validate(type_: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Check a current-version payload against its schema; returns the normalised dict."""
    normalised: dict[str, Any] = check(type_, payload).to_json()
    return normalised


def check(type_: str, payload: dict[str, Any]) -> Any:
    """The payload as its event class, or ``UnknownEventType``/``InvalidPayload``. Every runner
    folds only payloads that pass (projections/fold.py): one decision, the same reason."""
    try:
        cls = CATALOGUE[type_]
    except KeyError:
        raise UnknownEventType(f"unknown event type {type_!r}") from None
    try:
        return cls.model_validate(payload)
    except ValidationError as exc:
        raise InvalidPayload(f"{type_}: {exc.errors(include_url=False)}") from None


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every event type, as published in the AsyncAPI document."""
    out = {}
    for name, cls in sorted(CATALOGUE.items()):
        schema = cls.model_json_schema()
        schema["x-version"] = cls.VERSION
        schema["x-aggregate"] = cls.AGGREGATE
        out[name] = schema
    return out


# The workspaces' events (danger flags, follow-ups, duress, held places) register here too.
from events import workspace as _workspace  # noqa: E402,F401
