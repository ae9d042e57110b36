"""Key figures per province and local day: calls by hour and category, interventions,
dispatches, admissions, and the times call→dispatch and dispatch→on scene."""

from __future__ import annotations

from typing import Any

from events.envelope import Envelope
from projections.board import Board
from projections.clock import is_late, local_day_hour, seconds_between
from projections.period_figures import ARCHIVE, HOUR_DETAIL, KEEP_DAYS, compact, day_key

__all__ = ["COUNTERS", "KEEP_DAYS", "LATENCY_EDGES", "add_latency", "apply_figures", "count_late_entry",
           "new_latency"]
# Upper edges (seconds) of the latency histogram buckets; the last bucket is open.
LATENCY_EDGES = (60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200)

COUNTERS = ("calls", "classified", "interventions", "counselled", "referred", "incidents_opened",
            "incidents_closed", "dispatches", "admissions", "declined", "transfers", "discharges",
            "late_entries")


# Events that count once on the day they happened, and the day's counter each one adds to.
COUNTED = {
    "CallEscalated": "interventions", "CallCounselled": "counselled", "CallReferred": "referred",
    "IncidentOpened": "incidents_opened", "IncidentClosed": "incidents_closed",
    "ClientAdmitted": "admissions", "AdmissionDeclined": "declined", "ClientTransferredIn": "transfers",
    "ClientDischarged": "discharges",
}


def _new_day(province: str, day: str) -> dict[str, Any]:
    row: dict[str, Any] = {"province": province, "day": day}
    row.update({c: 0 for c in COUNTERS})
    row.update(calls_by_hour={}, calls_by_category={}, calls_by_hour_category={},
               call_to_dispatch=_new_latency(), dispatch_to_scene=_new_latency())
    return row


def _new_latency() -> dict[str, Any]:
    return {"n": 0, "sum_s": 0.0, "max_s": 0.0, "buckets": [0] * (len(LATENCY_EDGES) + 1)}


def _add_latency(stat: dict[str, Any], seconds: float) -> dict[str, Any]:
    seconds = max(0.0, seconds)
    buckets = list(stat["buckets"])
    i = next((i for i, edge in enumerate(LATENCY_EDGES) if seconds <= edge), len(LATENCY_EDGES))
    buckets[i] += 1
    return {"n": stat["n"] + 1, "sum_s": round(stat["sum_s"] + seconds, 3),
            "max_s": max(stat["max_s"], round(seconds, 3)), "buckets": buckets}


def _day_row(board: Board, ns: str, e: Envelope, moment: str) -> tuple[str, dict[str, Any], str]:
    """The row of the day a fact happened (live, or a period-figures row for an older day)."""
    day, hour = local_day_hour(moment)
    key = day_key(board, ns, e.province, day, local_day_hour(e.recorded_at)[0])
    row = board.get(key)
    row = _new_day(e.province, day) if row is None else dict(row)
    for detail in HOUR_DETAIL:
        row.setdefault(detail, {})
    return key, row, hour


def _put(board: Board, key: str, row: dict[str, Any]) -> None:
    board.put(key, compact(row) if ARCHIVE in key else row)


def _count(board: Board, ns: str, e: Envelope, counter: str, moment: str | None = None) -> None:
    key, row, _ = _day_row(board, ns, e, moment or e.occurred_at)
    row[counter] += 1
    _put(board, key, row)


def apply_figures(board: Board, ns: str, e: Envelope) -> None:
    t, p = e.type, e.payload
    if t == "CallReceived":
        key, row, hour = _day_row(board, ns, e, p["received_at"])
        row["calls"] += 1
        row["calls_by_hour"] = {**row["calls_by_hour"], hour: row["calls_by_hour"].get(hour, 0) + 1}
        _put(board, key, row)
    elif t == "CallClassified":
        key, row, hour = _day_row(board, ns, e, p["received_at"])
        cat = p["category"]
        row["classified"] += 1
        row["calls_by_category"] = {**row["calls_by_category"], cat: row["calls_by_category"].get(cat, 0) + 1}
        by_hour = dict(row["calls_by_hour_category"].get(hour, {}))
        by_hour[cat] = by_hour.get(cat, 0) + 1
        row["calls_by_hour_category"] = {**row["calls_by_hour_category"], hour: by_hour}
        _put(board, key, row)
    elif t in COUNTED:
        _count(board, ns, e, COUNTED[t])
    elif t == "TeamDispatched":
        key, row, _ = _day_row(board, ns, e, e.occurred_at)
        row["dispatches"] += 1
        if p.get("call_received_at"):
            row["call_to_dispatch"] = _add_latency(
                row["call_to_dispatch"], seconds_between(p["call_received_at"], e.occurred_at))
        _put(board, key, row)
    elif t == "TeamStatusChanged" and p["status"] == "on_scene" and p.get("dispatched_at"):
        key, row, _ = _day_row(board, ns, e, e.occurred_at)
        row["dispatch_to_scene"] = _add_latency(
            row["dispatch_to_scene"], seconds_between(p["dispatched_at"], e.occurred_at))
        _put(board, key, row)


def count_late_entry(board: Board, ns: str, e: Envelope) -> None:
    """A fact recorded late (ثبت با تأخیر) counts on the day it happened, as late."""
    if e.position is not None and is_late(e.occurred_at, e.recorded_at):
        _count(board, ns, e, "late_entries")


new_latency = _new_latency
add_latency = _add_latency
