"""The kinds of board row: one type per kind, and the one table of the keys they live under.

Every board is a flat mapping ``key -> row`` (projections/board.py); what a row holds depends
on the start of its key. ``ROW_KINDS`` says which, once: a key prefix (``*`` stands for one
part of the key, e.g. a province) and the row's type. Drill rows (``drill/...``) are of the
kind of the key without ``drill/``. ``kind_of(key)`` names a key's kind, ``row_type(key)`` its
type. The types are ``TypedDict``s (a row stays a plain JSON-ready dict): a field that every
row of the kind has is required, one that only some rows get is ``NotRequired``. Each forbids
fields it does not declare, so validating a row against its type (pydantic's ``TypeAdapter``,
as tests/unit/test_row_types.py does) finds a field a projection added without saying so here.
The AsyncAPI document (consumers/asyncapi.py) describes the board topic from these types.
"""

from __future__ import annotations

from typing import Any, Literal, NewType, NotRequired

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict  # pydantic reads typing.TypedDict only from Python 3.12

__all__ = ["DRILL", "ROW_KINDS", "NEVER_SEEN", "SEEN_KINDS", "kind_of", "row_type", "schema_name", "seen_schema_name", "seen_type"]

DRILL = "drill/"
FORBID = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- shared parts


@with_config(FORBID)
class Point(TypedDict):
    lat: float
    lon: float


@with_config(FORBID)
class PointAt(TypedDict):
    lat: float
    lon: float
    at: str


@with_config(FORBID)
class Latency(TypedDict):
    """A histogram of seconds (buckets: projections.figures.LATENCY_EDGES, the last one open)."""

    n: int
    sum_s: float
    max_s: float
    buckets: list[int]


# ---------------------------------------------------------------- teams and positions


@with_config(FORBID)
class Duress(TypedDict):
    since: str
    covert: bool


@with_config(FORBID)
class TeamRow(TypedDict):
    """``team/<team id>``: a team's status, time in status (since), incident, shift."""

    id: str
    name: str
    province: str
    county: str
    status: str
    since: str
    shift: str | None
    crew: int
    incident_id: str | None
    dispatched_at: str | None
    home: Point
    last_check_in: str | None
    check_in_missed: bool
    drill: bool
    ref: NotRequired[str]
    skills: NotRequired[list[str]]
    duress: NotRequired[Duress | None]
    in_drill: NotRequired[bool]
    drill_incident_id: NotRequired[str | None]


@with_config(FORBID)
class KeptPoint(TypedDict):
    """A point of the position track (eoc/app/track.py)."""

    lat: float
    lon: float
    at: str
    speed_kmh: NotRequired[float]
    heading: NotRequired[float]


@with_config(FORBID)
class PositionRow(TypedDict):
    """``position/<team id>``: a team's latest position; ``kept``, when the latest was only
    shown (not kept in the track), the last kept point (None: none yet)."""

    team_id: str
    province: str
    lat: float
    lon: float
    at: str
    speed_kmh: NotRequired[float]
    heading: NotRequired[float]
    kept: NotRequired[KeptPoint | None]


@with_config(FORBID)
class RosterRow(TypedDict):
    """``roster/<province>/<county>``: planned teams per shift (county ``*``: every county)."""

    province: str
    county: str
    shifts: dict[str, int]
    since: str


# ---------------------------------------------------------------- incidents, calls


@with_config(FORBID)
class IncidentRow(TypedDict):
    """``incident/<incident id>``: an open incident (deleted when closed)."""

    id: str
    province: str
    county: str
    category: str
    priority: str
    route: str
    risk_flags: list[str]
    location: Point
    opened_at: str
    call_id: str | None
    teams: list[str]
    ref: NotRequired[str]
    calls: NotRequired[list[str]]
    conflicts: NotRequired[dict[str, str]]


@with_config(FORBID)
class CallRow(TypedDict):
    """``call/<call id>``: an open call (deleted when handled)."""

    id: str
    province: str
    county: str
    line: str
    caller: str
    received_at: str
    status: Literal["received", "classified"]
    category: str | None
    priority: str | None
    risk_flags: list[str]
    ref: NotRequired[str]


@with_config(FORBID)
class CallerCall(TypedDict):
    call_id: str
    ref: str | None
    received_at: str
    category: str | None
    priority: str | None
    outcome: Literal["counselled", "referred", "escalated", "linked"]
    incident_id: str | None
    county: str


@with_config(FORBID)
class CallerRow(TypedDict):
    """``caller/<subject>``: a caller's last calls, newest first."""

    caller: str
    province: str
    calls: list[CallerCall]


# ---------------------------------------------------------------- centres and houses

# "from" is a Python keyword: the functional form of TypedDict.
ClientStay = TypedDict("ClientStay", {
    "since": str,
    "holding_until": str | None,
    "destination_kind": NotRequired[str],
    "from": NotRequired[str],
})
ClientStay.__pydantic_config__ = FORBID  # type: ignore[attr-defined]  # what with_config sets


@with_config(FORBID)
class Hold(TypedDict):
    until: str
    incident_id: str | None
    since: str


@with_config(FORBID)
class CentreRow(TypedDict):
    """``centre/<centre id>``: a centre or secret house, its capacity, occupants (by client id)."""

    id: str
    name: str
    kind: str
    province: str
    county: str
    capacity: int
    occupied: int
    secret: bool
    location: Point | None
    sealed_location: str | None
    open: bool
    clients: dict[str, ClientStay]
    declined: int
    admitted: int
    since: str
    ref: NotRequired[str]
    holds: NotRequired[dict[str, Hold]]


@with_config(FORBID)
class SecretPlacesRow(TypedDict):
    """``secret_places/<province>``: what the nation sees of a province's secret places (made
    for a viewer by projections.visibility.secret_counts, never stored on a board)."""

    province: str
    places: int | None
    capacity: int | None
    occupied: int | None
    suppressed: bool


# ---------------------------------------------------------------- workspaces


@with_config(FORBID)
class DangerFlagRow(TypedDict):
    """``danger/<flag id>``: a danger to staff on an address or a person (deleted when lifted)."""

    id: str
    province: str
    county: str
    kinds: list[str]
    location: Point | None
    radius_m: int
    person: str | None
    incident_id: str | None
    note: str | None
    expires_at: str
    review_at: str
    recorded_at: str
    reviewed_at: NotRequired[str]


@with_config(FORBID)
class FollowUpRow(TypedDict):
    """``follow_up/<id>``: a call-back due (deleted when done)."""

    id: str
    province: str
    county: str
    subject: str
    call_id: str | None
    centre_id: str | None
    person: str | None
    due_at: str
    after_hours: int
    call_ref: str | None
    scheduled_at: str


@with_config(FORBID)
class RefSeqRow(TypedDict):
    """``refseq/<province>/<kind>``: the last short reference given (shown to no one)."""

    province: str
    n: int


# ---------------------------------------------------------------- figures


@with_config(FORBID)
class PeriodFiguresRow(TypedDict):
    """``period-figures/<province>/<local day>``: a day that left the live board, without hour detail."""

    province: str
    day: str
    calls: int
    classified: int
    interventions: int
    counselled: int
    referred: int
    incidents_opened: int
    incidents_closed: int
    dispatches: int
    admissions: int
    declined: int
    transfers: int
    discharges: int
    late_entries: int
    calls_by_category: dict[str, int]
    call_to_dispatch: Latency
    dispatch_to_scene: Latency


@with_config(FORBID)
class FiguresRow(PeriodFiguresRow):
    """``figures/<province>/<local day>``: a live day's key figures, with hour detail."""

    calls_by_hour: dict[str, int]
    calls_by_hour_category: dict[str, dict[str, int]]


@with_config(FORBID)
class FiguresDaysRow(TypedDict):
    """``figures-days/<province>``: the live days of a province."""

    province: str
    newest_recorded: str | None
    days: list[str]


# ---------------------------------------------------------------- emerging harms


@with_config(FORBID)
class HarmModel(TypedDict):
    mean_week: float
    var_eta: float
    phi: float
    terms: list[str]
    weeks: int


@with_config(FORBID)
class HarmVerdict(TypedDict):
    day: str
    window_days: int
    observed: int
    expected: float
    p_value: float
    alarm: bool


@with_config(FORBID)
class HarmStateRow(TypedDict):
    """``harm/<province>``: the province's open day and its series."""

    province: str
    day: str
    first_day: str
    series: list[str]


@with_config(FORBID)
class HarmSeriesRow(TypedDict):
    """``harm/<province>/<category>/<county>``: a harm category's daily and weekly counts, model, verdict."""

    province: str
    category: str
    county: str
    days: list[int]
    week: int
    weeks: list[int]
    open: int
    last_day: str | None
    dow: list[int]
    model: HarmModel | None
    verdict: HarmVerdict | None


# ---------------------------------------------------------------- alerts


@with_config(FORBID)
class CheckInMissedAlert(TypedDict):
    """``alert/check_in_missed/<team id>``."""

    kind: Literal["check_in_missed"]
    team_id: str
    province: str
    county: str
    since: str
    due_at: str
    incident_id: str | None


@with_config(FORBID)
class CentreFullAlert(TypedDict):
    """``alert/centre_full/<centre id>``: 90% full or more."""

    kind: Literal["centre_full"]
    centre_id: str
    province: str
    county: str
    secret: bool
    occupied: int
    capacity: int
    since: str


@with_config(FORBID)
class DuressAlert(TypedDict):
    """``alert/duress/<team id>``: a team's SOS."""

    kind: Literal["duress"]
    team_id: str
    team: str | None
    team_ref: str | None
    province: str
    county: str
    since: str
    covert: bool
    position: PointAt | Point | None
    incident_id: str | None


@with_config(FORBID)
class DeadLetterAlert(TypedDict):
    """``alert/dead_letter/<position>``: an event could not be folded (names it, not its content)."""

    kind: Literal["dead_letter"]
    province: str
    county: None
    since: str
    type: str
    position: int | None
    event_id: str


@with_config(FORBID)
class EmergingHarmAlert(TypedDict):
    """``alert/emerging_harm/<province>/<category>/<county>``."""

    kind: Literal["emerging_harm"]
    province: str
    county: str
    category: str
    day: str
    since: str
    window_days: int
    observed: int
    expected: float
    threshold: int
    p_value: float
    model: str
    chart: str


# ---------------------------------------------------------------- where the boards are


@with_config(FORBID)
class DeadLetterRow(TypedDict):
    """``deadletter/<position>``: why an event (or a stored record that is none) was not folded."""

    position: int | None
    event_id: str | None
    type: str | None
    province: str | None
    reason: str
    aggregate_id: NotRequired[str]
    recorded_at: NotRequired[str]


@with_config(FORBID)
class AsOfRow(TypedDict):
    """``as-of/<province>``: the last log position (and position-track point) folded."""

    province: str
    position: int | None
    recorded_at: str | None
    telemetry: NotRequired[int]
    telemetry_recorded_at: NotRequired[str]


@with_config(FORBID)
class BatchMarkRow(TypedDict):
    """``~batch/<partition>``: the end of a worker's batch on the board topic (projections.batches)."""

    partition: int
    rows: int
    offsets: dict[str, int]


# ``applied/<province>``: the last log position folded, per province: a bare number.
AppliedRow = NewType("AppliedRow", int)

# Key prefix -> the type of the rows under it. ``*`` is one part of a key; the longest prefix
# that matches wins (``harm/QZV`` is a province's state, ``harm/QZV/...`` one of its series).
ROW_KINDS: dict[str, Any] = {
    "team/": TeamRow,
    "position/": PositionRow,
    "roster/": RosterRow,
    "incident/": IncidentRow,
    "call/": CallRow,
    "caller/": CallerRow,
    "centre/": CentreRow,
    "secret_places/": SecretPlacesRow,
    "danger/": DangerFlagRow,
    "follow_up/": FollowUpRow,
    "refseq/": RefSeqRow,
    "figures/": FiguresRow,
    "period-figures/": PeriodFiguresRow,
    "figures-days/": FiguresDaysRow,
    "harm/": HarmStateRow,
    "harm/*/": HarmSeriesRow,
    "alert/check_in_missed/": CheckInMissedAlert,
    "alert/centre_full/": CentreFullAlert,
    "alert/duress/": DuressAlert,
    "alert/dead_letter/": DeadLetterAlert,
    "alert/emerging_harm/": EmergingHarmAlert,
    "deadletter/": DeadLetterRow,
    "as-of/": AsOfRow,
    "applied/": AppliedRow,
    "~batch/": BatchMarkRow,
}

# The kinds by the first part of their prefix, most specific first (more parts, then literal
# before ``*``): kind_of is called for every row a viewer is sent, so it looks up, not scans.
_BY_HEAD: dict[str, list[tuple[str, list[str]]]] = {}
for _prefix in sorted(ROW_KINDS, key=lambda p: (-p.count("/"), p.count("*"))):
    _head, *_rest = _prefix.rstrip("/").split("/")
    _BY_HEAD.setdefault(_head, []).append((_prefix, _rest))


def kind_of(key: str) -> str | None:
    """The ``ROW_KINDS`` prefix of a key (drill keys: of the key without ``drill/``), or None.
    A key is of a kind when it starts with the prefix (``*``: any one part) and goes on after it."""
    head, _, rest = key.removeprefix(DRILL).partition("/")
    for prefix, parts in _BY_HEAD.get(head, ()):
        if not parts:
            if rest:
                return prefix
            continue
        key_parts = rest.split("/")
        if len(key_parts) > len(parts) and all(p in ("*", k) for p, k in zip(parts, key_parts, strict=False)):
            return prefix
    return None


def row_type(key: str) -> Any:
    """The type of the rows under ``key``, or None for a key of no kind."""
    kind = kind_of(key)
    return None if kind is None else ROW_KINDS[kind]


def schema_name(kind: str) -> str:
    """The name of a kind's type (``TeamRow``): what the AsyncAPI document calls its schema."""
    return str(ROW_KINDS[kind].__name__)


# ---------------------------------------------------------------- rows as a screen receives them
#
# What the bridge and the API send a page is each row passed through projections/visibility.py
# for the viewer. Most kinds reach a screen as they are; two change shape: a centre never
# carries its sealed location, and a secret place the viewer may not see loses its county,
# place, name, references and holds, and its stays their client ids; an alert about such a
# place loses its county. Kinds no screen receives are left out. The AsyncAPI document
# publishes these as ``DashboardRow`` (the websocket's rows, ui-bridge/protocol.py).


@with_config(FORBID)
class AnonymousStay(TypedDict):
    """A stay without its client's id (``#1``, ``#2``…): enough to count holding periods."""

    since: str
    holding_until: str | None


@with_config(FORBID)
class SeenCentreRow(TypedDict):
    """``centre/<centre id>`` as a viewer receives it: never the sealed location; a secret
    place outside the viewer's right: no county or location, a generic name, anonymous stays."""

    id: str
    name: str
    kind: str
    province: str
    county: str | None
    capacity: int
    occupied: int
    secret: bool
    location: Point | None
    open: bool
    clients: dict[str, ClientStay | AnonymousStay]
    declined: int
    admitted: int
    since: NotRequired[str]
    ref: NotRequired[str]
    holds: NotRequired[dict[str, Hold]]


@with_config(FORBID)
class SeenCentreFullAlert(TypedDict):
    """``alert/centre_full/<centre id>`` as a viewer receives it: no county for a secret place
    outside the viewer's right (the nation gets no such alert at all, only counts)."""

    kind: Literal["centre_full"]
    centre_id: str
    province: str
    county: str | None
    secret: bool
    occupied: int
    capacity: int
    since: str


# Reference counters, the emerging-harm detector's series, reports' days, and the board
# topic's batch marks (which its readers consume: projections/batches.py).
NEVER_SEEN = ("refseq/", "harm/", "harm/*/", "period-figures/", "figures-days/", "~batch/")
SEEN_KINDS: dict[str, Any] = {
    kind: {"centre/": SeenCentreRow, "alert/centre_full/": SeenCentreFullAlert}.get(kind, row_type)
    for kind, row_type in ROW_KINDS.items() if kind not in NEVER_SEEN
}


def seen_type(key: str) -> Any:
    """The type of the rows under ``key`` as a screen receives them, or None (no kind, or a
    kind no screen receives)."""
    kind = kind_of(key)
    return None if kind is None else SEEN_KINDS.get(kind)


def seen_schema_name(kind: str) -> str:
    """What the AsyncAPI document calls the seen type of a kind (``SeenCentreRow``, ``TeamRow``)."""
    return str(SEEN_KINDS[kind].__name__)
