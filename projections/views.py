"""Summaries of the boards at a given moment: what an operator reads off them.

Everything that depends on the passing of time (time in status, age of an incident, days
left in a holding period, an urgent incident waiting too long) is computed here from the
rows and ``now``, never stored, so a replay to a moment shows what was true at that moment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict  # pydantic reads typing.TypedDict only from Python 3.12

from events.vocabulary import PRIORITY_RANK, RESIDENTIAL_KINDS
from projections.clock import local
from projections.figures import COUNTERS, LATENCY_EDGES
from projections.rosters import RosterLine, planned_vs_actual
from projections.rows import (
    CheckInMissedAlert,
    DeadLetterAlert,
    DuressAlert,
    EmergingHarmAlert,
    FiguresRow,
    IncidentRow,
    Latency,
    PositionRow,
    SeenCentreFullAlert,
    SeenCentreRow,
    TeamRow,
)

URGENT_UNASSIGNED_S = 5 * 60  # an urgent incident with no team after this is an alert
TRANSFER_DUE_WITHIN = timedelta(days=1)
FORBID = ConfigDict(extra="forbid")
RANK = cast(dict[str, int], PRIORITY_RANK)  # a row's priority is the word's text

# ---------------------------------------------------------------- what a summary holds
# The rows it reads are of the types a screen receives (projections/rows.py, SEEN_KINDS); what
# it adds is computed from them and ``now``. The API answers with these types
# (GET /api/v1/boards/summary), so its OpenAPI document names every field.


@with_config(FORBID)
class TeamView(TeamRow):
    in_status_s: float | None  # time in status (مدت در وضعیت)
    position: PositionRow | None


@with_config(FORBID)
class IncidentView(IncidentRow):
    age_s: float | None
    unassigned: bool


@with_config(FORBID)
class HoldingStay(TypedDict):
    """A client in a holding period (دوره نگهداری): days left, transfer due or overdue."""

    client: str
    until: str
    days_left: float
    transfer_due: bool
    overdue: bool
    days_overdue: float


@with_config(FORBID)
class CentreView(SeenCentreRow):
    free: int
    holding: list[HoldingStay]
    full: bool
    transfers_due: int
    transfers_overdue: int


@with_config(FORBID)
class OccupancyCounts(TypedDict):
    capacity: int
    occupied: int
    free: int
    holding: int
    transfers_due: int
    transfers_overdue: int
    declined: int


@with_config(FORBID)
class Occupancy(TypedDict):
    """Residential places that are open, for the nation, by province and by province/county."""

    nation: OccupancyCounts
    provinces: dict[str, OccupancyCounts]
    counties: dict[str, OccupancyCounts]


@with_config(FORBID)
class DayFigures(FiguresRow):
    """A day's key figures (a province's row, or their sum for the nation) and what follows from them."""

    intervention_share: float | None
    call_to_dispatch_mean_s: float | None
    call_to_dispatch_p50_s: float | None
    call_to_dispatch_p90_s: float | None
    dispatch_to_scene_mean_s: float | None
    dispatch_to_scene_p50_s: float | None
    dispatch_to_scene_p90_s: float | None


@with_config(FORBID)
class FiguresForDay(TypedDict):
    day: str
    provinces: dict[str, DayFigures]
    nation: DayFigures


@with_config(FORBID)
class UrgentUnassignedAlert(TypedDict):
    """An urgent incident with no team for more than URGENT_UNASSIGNED_S."""

    kind: Literal["urgent_unassigned"]
    incident_id: str
    province: str
    county: str
    since: str
    age_s: float | None


@with_config(FORBID)
class TransferOverdueAlert(TypedDict):
    """A holding period served, the client still there (انتقال معوق); no client id."""

    kind: Literal["transfer_overdue"]
    centre_id: str
    province: str
    county: str | None
    secret: bool
    since: str
    days_overdue: float


AlertView = (CheckInMissedAlert | SeenCentreFullAlert | DuressAlert | DeadLetterAlert | EmergingHarmAlert
             | UrgentUnassignedAlert | TransferOverdueAlert)


@with_config(FORBID)
class BoardSummary(TypedDict):
    now: str
    drill: bool
    teams: list[TeamView]
    team_status: dict[str, int]
    incidents: list[IncidentView]
    centres: list[CentreView]
    occupancy: Occupancy
    figures: FiguresForDay
    rosters: list[RosterLine]
    alerts: list[AlertView]


def _rows(rows: dict[str, Any], prefix: str) -> list[Any]:
    """The rows under ``prefix``: of the kind it names (the caller says which type)."""
    return [r for k, r in rows.items() if k.startswith(prefix)]


def _age(now: datetime, moment: str | None) -> float | None:
    return None if not moment else round((now - datetime.fromisoformat(moment)).total_seconds(), 1)


def latency_quantile(stat: Latency, q: float) -> float | None:
    """Upper edge of the histogram bucket holding the q-quantile (seconds)."""
    if not stat["n"]:
        return None
    target, seen = q * stat["n"], 0
    for i, count in enumerate(stat["buckets"]):
        seen += count
        if seen >= target:
            return float(LATENCY_EDGES[i]) if i < len(LATENCY_EDGES) else _seconds(stat["max_s"])
    return _seconds(stat["max_s"])


def summary(rows: dict[str, Any], now: str, *, drill: bool = False) -> BoardSummary:
    """What the boards say at ``now`` (rows: as the viewer receives them, or all of them)."""
    ns = "drill/" if drill else ""
    t_now = datetime.fromisoformat(now)
    positions: dict[str, PositionRow] = {r["team_id"]: r for r in _rows(rows, ns + "position/")}
    team_rows: list[TeamRow] = _rows(rows, ns + "team/")
    teams = sorted(
        (TeamView(**r, in_status_s=_age(t_now, r["since"]), position=positions.get(r["id"])) for r in team_rows),
        key=lambda r: (r["province"], r["name"]),
    )
    incident_rows: list[IncidentRow] = _rows(rows, ns + "incident/")
    incidents = sorted(
        (IncidentView(**r, age_s=_age(t_now, r["opened_at"]), unassigned=not r["teams"]) for r in incident_rows),
        key=lambda r: (RANK.get(r["priority"], 9), r["opened_at"]),
    )
    centres, rollup = _occupancy(_rows(rows, ns + "centre/"), t_now)
    alerts: list[AlertView] = [cast(AlertView, dict(r)) for r in _rows(rows, ns + "alert/")]
    for inc in incidents:
        age = inc["age_s"]
        if inc["priority"] == "urgent" and inc["unassigned"] and age is not None and age > URGENT_UNASSIGNED_S:
            alerts.append(UrgentUnassignedAlert(kind="urgent_unassigned", incident_id=inc["id"],
                                                province=inc["province"], county=inc["county"],
                                                since=inc["opened_at"], age_s=age))
    for centre in centres:
        for h in centre["holding"]:
            if h["overdue"]:  # no client id here: the alert reaches every viewer of the centre
                alerts.append(TransferOverdueAlert(kind="transfer_overdue", centre_id=centre["id"],
                                                   province=centre["province"], county=centre["county"],
                                                   secret=centre["secret"], since=h["until"],
                                                   days_overdue=h["days_overdue"]))
    alerts.sort(key=lambda a: a.get("since") or "")
    return BoardSummary(
        now=now,
        drill=drill,
        teams=teams,
        team_status=dict(Counter(t["status"] for t in teams)),
        incidents=incidents,
        centres=centres,
        occupancy=rollup,
        figures=figures_for_day(rows, local(now).strftime("%Y-%m-%d"), drill=drill),
        rosters=planned_vs_actual(_rows(rows, "roster/"), teams),
        alerts=alerts,
    )


def _occupancy(centres: list[SeenCentreRow], now: datetime) -> tuple[list[CentreView], Occupancy]:
    out: list[CentreView] = []
    rollup = Occupancy(nation=_zero(), provinces={}, counties={})
    due_by = now + TRANSFER_DUE_WITHIN
    for c in sorted(centres, key=lambda c: (c["province"], c["name"])):
        holding: list[HoldingStay] = []
        for client, stay in c["clients"].items():
            if stay.get("holding_until"):
                until_text = cast(str, stay["holding_until"])
                until = datetime.fromisoformat(until_text)
                days_left = round((until - now).total_seconds() / 86400, 1)
                holding.append(HoldingStay(client=client, until=until_text,
                                           days_left=max(0.0, days_left), transfer_due=until <= due_by,
                                           # served and still here: the transfer is overdue (انتقال معوق)
                                           overdue=until < now,
                                           days_overdue=round(max(0.0, -days_left), 1)))
        free = max(0, c["capacity"] - c["occupied"])
        row = CentreView(**c, free=free, holding=holding,
                         full=c["kind"] in RESIDENTIAL_KINDS and c["open"] and free == 0,
                         transfers_due=sum(h["transfer_due"] for h in holding),
                         transfers_overdue=sum(h["overdue"] for h in holding))
        out.append(row)
        if c["kind"] in RESIDENTIAL_KINDS and c["open"]:
            for bucket in (rollup["nation"], rollup["provinces"].setdefault(c["province"], _zero()),
                           rollup["counties"].setdefault(f"{c['province']}/{c['county'] or '—'}", _zero())):
                bucket["capacity"] += c["capacity"]
                bucket["occupied"] += c["occupied"]
                bucket["free"] += row["free"]
                bucket["holding"] += len(holding)
                bucket["transfers_due"] += row["transfers_due"]
                bucket["transfers_overdue"] += row["transfers_overdue"]
                bucket["declined"] += c["declined"]
    return out, rollup


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


def _zero() -> OccupancyCounts:
    return OccupancyCounts(capacity=0, occupied=0, free=0, holding=0, transfers_due=0, transfers_overdue=0,
                           declined=0)


def figures_for_day(rows: dict[str, Any], day: str, *, drill: bool = False) -> FiguresForDay:
    """One local day's key figures per province and for the nation."""
    prefix = ("drill/" if drill else "") + "figures/"
    day_rows: list[FiguresRow] = _rows(rows, prefix)
    provinces = {r["province"]: r for r in day_rows if r["day"] == day}
    return FiguresForDay(day=day, provinces={p: _derived(r) for p, r in provinces.items()},
                         nation=_derived(sum_figures(list(provinces.values()), day)))


def sum_figures(rows: Sequence[FiguresRow], day: str = "") -> FiguresRow:
    """The nation's row of a day: the provinces' rows added up."""
    total: dict[str, Any] = {"province": "IR", "day": day, **{c: 0 for c in COUNTERS},
                             "calls_by_hour": Counter(), "calls_by_category": Counter(),
                             "calls_by_hour_category": {},
                             "call_to_dispatch": None, "dispatch_to_scene": None}
    for r in rows:
        counters: Mapping[str, Any] = r  # COUNTERS names its fields by text
        for c in COUNTERS:
            total[c] += counters[c]
        total["calls_by_hour"].update(r["calls_by_hour"])
        total["calls_by_category"].update(r["calls_by_category"])
        for hour, cats in r["calls_by_hour_category"].items():
            total["calls_by_hour_category"].setdefault(hour, Counter()).update(cats)
        for lat in ("call_to_dispatch", "dispatch_to_scene"):
            total[lat] = _sum_latency(total[lat], r[lat])
    for k in ("calls_by_hour", "calls_by_category"):
        total[k] = dict(total[k])
    total["calls_by_hour_category"] = {h: dict(c) for h, c in total["calls_by_hour_category"].items()}
    for lat in ("call_to_dispatch", "dispatch_to_scene"):
        total[lat] = total[lat] or {"n": 0, "sum_s": 0.0, "max_s": 0.0, "buckets": [0] * (len(LATENCY_EDGES) + 1)}
    return cast(FiguresRow, total)


def _sum_latency(a: Latency | None, b: Latency) -> Latency:
    if a is None:
        return Latency(**b)
    return Latency(n=a["n"] + b["n"], sum_s=round(a["sum_s"] + b["sum_s"], 3), max_s=max(a["max_s"], b["max_s"]),
                   buckets=[x + y for x, y in zip(a["buckets"], b["buckets"], strict=True)])


def _derived(r: FiguresRow) -> DayFigures:
    derived: dict[str, Any] = {"intervention_share": round(r["interventions"] / r["calls"], 3) if r["calls"] else None}
    for lat in ("call_to_dispatch", "dispatch_to_scene"):
        s: Latency = r[lat]
        derived[lat + "_mean_s"] = round(s["sum_s"] / s["n"], 1) if s["n"] else None
        derived[lat + "_p50_s"] = latency_quantile(s, 0.5)
        derived[lat + "_p90_s"] = latency_quantile(s, 0.9)
    return cast(DayFigures, {**r, **derived})


sum_latency = _sum_latency
