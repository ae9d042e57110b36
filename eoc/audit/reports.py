"""The figures the provincial directors publish, for a Jalali month, season or year, or any
range of days ("1 Mehr to 10 Azar 1403", a four-month report).

Calls to line 123, the share of them that led to an intervention (escalated to an incident),
mobile dispatches and admissions to centres — by province, county and call category — folded
from a replay of the stream, drills (مانور) excluded. Each count is cut by the same moment
and the same Iran-time day as the key-figures board (projections/figures.py), so a month's
report adds up to that board's rows for the month's days:

* a call counts on the day it was received (its ``received_at``), in the category it was
  classified in ("unclassified" if never);
* an intervention on the day the call was escalated, in the call's category;
* a dispatch on the day the team was sent, in its incident's category;
* an admission (or a declined admission: unmet demand) on its day, in its incident's
  category (``—`` for a person who came in directly, without an incident);
* the call-to-dispatch time on the day of the dispatch, the dispatch-to-scene time on the day
  the team reached the scene, each in its incident's category.

Every day is counted by when things happened (``occurred_at``), so a late entry lands in its
own day and a report made later includes it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from events.envelope import Envelope
from events.jalali import BadMoment, Period, parse_period, parse_range
from projections.board import Board
from projections.clock import local_day_hour, seconds_between
from projections.figures import add_latency, new_latency
from projections.fold import apply
from projections.period_figures import day_rows
from projections.views import latency_quantile, sum_latency

COUNTS = ("calls", "interventions", "dispatches", "admissions", "declined")
TIMES = ("call_to_dispatch", "dispatch_to_scene")
UNCLASSIFIED = "unclassified"
NO_INCIDENT = "—"
GROUPINGS = {"province": ("province",), "county": ("province", "county"), "category": ("category",),
             "province-category": ("province", "category"), "all": ("province", "county", "category")}


def _day(moment: str) -> str:
    return local_day_hour(moment)[0]


class ReportFold:
    """Folds envelopes (in stream order) into the counts of one period."""

    def __init__(self, period: Period) -> None:
        self.period = period
        self.first, self.last = period.first_day.isoformat(), period.last_day.isoformat()
        self.call_category: dict[str, str] = {}  # every call's category (escalations come later)
        self.incident_category: dict[str, str] = {}
        self.calls: dict[str, tuple[str, str]] = {}  # calls received in the period -> (province, county)
        self.cells: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(_new_cell)
        # per province and day, to check against the key-figures board (live and period-figures rows)
        self.daily: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
        self.events = 0
        self.drill_events = 0

    def _in(self, moment: str) -> str | None:
        day = _day(moment)
        return day if self.first <= day <= self.last else None

    def apply(self, e: Envelope) -> None:
        self.events += 1
        t, p = e.type, e.payload
        if t == "CallClassified":
            self.call_category[e.aggregate_id] = p["category"]
        elif t == "IncidentOpened":
            self.incident_category[e.aggregate_id] = p["category"]
        if e.exercise:
            self.drill_events += 1
            return
        if t == "CallReceived":
            if day := self._in(p["received_at"]):
                self.calls[e.aggregate_id] = (e.province, e.county)
                self.daily[(e.province, day)]["calls"] += 1
        elif t == "CallEscalated":
            if day := self._in(e.occurred_at):
                category = self.call_category.get(e.aggregate_id, UNCLASSIFIED)
                self._count(e, category, day, "interventions")
        elif t == "TeamDispatched":
            if day := self._in(e.occurred_at):
                self._count(e, self.incident_category.get(p["incident_id"], NO_INCIDENT), day, "dispatches")
            if p.get("call_received_at") and self._in(e.occurred_at):
                self._time(e, self.incident_category.get(p["incident_id"], NO_INCIDENT), "call_to_dispatch",
                           seconds_between(p["call_received_at"], e.occurred_at))
        elif t == "TeamStatusChanged" and p["status"] == "on_scene" and p.get("dispatched_at"):
            if self._in(e.occurred_at):
                incident = p.get("incident_id")
                category = self.incident_category.get(incident, NO_INCIDENT) if incident else NO_INCIDENT
                self._time(e, category, "dispatch_to_scene", seconds_between(p["dispatched_at"], e.occurred_at))
        elif t in ("ClientAdmitted", "AdmissionDeclined"):
            if day := self._in(e.occurred_at):
                incident = p.get("incident_id")
                category = self.incident_category.get(incident, NO_INCIDENT) if incident else NO_INCIDENT
                self._count(e, category, day, "admissions" if t == "ClientAdmitted" else "declined")

    def _count(self, e: Envelope, category: str, day: str, counter: str) -> None:
        self.cells[(e.province, e.county, category)][counter] += 1
        self.daily[(e.province, day)][counter] += 1

    def _time(self, e: Envelope, category: str, which: str, seconds: float) -> None:
        cell = self.cells[(e.province, e.county, category)]
        cell[which] = add_latency(cell[which], seconds)

    def report(self, source: str = "") -> Report:
        cells = {k: dict(v) for k, v in self.cells.items()}
        for call_id, (province, county) in self.calls.items():
            key = (province, county, self.call_category.get(call_id, UNCLASSIFIED))
            cells.setdefault(key, _new_cell())["calls"] += 1
        rows = [{"province": p, "county": c, "category": cat, **counts}
                for (p, c, cat), counts in sorted(cells.items())]
        daily = {f"{p}/{d}": dict(v) for (p, d), v in sorted(self.daily.items())}
        return Report(self.period, rows, source=source, events=self.events, drill_events=self.drill_events,
                      daily=daily)


def _new_cell() -> dict[str, Any]:
    return {**dict.fromkeys(COUNTS, 0), **{t: new_latency() for t in TIMES}}


def _share(row: dict[str, Any]) -> float | None:
    return round(row["interventions"] / row["calls"], 4) if row["calls"] else None


def _with_times(counts: dict[str, Any]) -> dict[str, Any]:
    """The counts with the intervention share and the times as directors read them."""
    out = {c: counts[c] for c in COUNTS}
    out["intervention_share"] = _share(counts)
    for t in TIMES:
        stat = counts[t]
        out[t] = {"n": stat["n"], "mean_s": round(stat["sum_s"] / stat["n"], 1) if stat["n"] else None,
                  "p50_s": latency_quantile(stat, 0.5), "p90_s": latency_quantile(stat, 0.9),
                  "max_s": stat["max_s"] if stat["n"] else None}
    return out


def _add_cell(bucket: dict[str, Any], row: dict[str, Any]) -> None:
    for c in COUNTS:
        bucket[c] += row[c]
    for t in TIMES:
        bucket[t] = sum_latency(bucket[t], row[t])


@dataclass
class Report:
    period: Period
    rows: list[dict[str, Any]]  # the finest cells: province, county, category and the counts
    source: str = ""
    events: int = 0  # envelopes read
    drill_events: int = 0  # of which drills, left out
    daily: dict[str, dict[str, int]] = field(default_factory=dict)  # "<province>/<day>" -> counts

    def check_figures(self, rows: Mapping[str, Any]) -> dict[str, Any]:
        """Compare with the key-figures board rows for the period's days (live rows and the
        period-figures rows of older days): per province, the sums must be equal."""
        on_board = {k: r for k, r in day_rows(rows).items() if self.period.contains_day(r["day"])}
        days = sorted({k.split("/", 1)[1] for k in on_board})
        ours: dict[str, dict[str, int]] = {}
        theirs: dict[str, dict[str, int]] = {}
        for key, counts in self.daily.items():
            province, day = key.split("/", 1)
            if day in days:
                bucket = ours.setdefault(province, dict.fromkeys(COUNTS, 0))
                for c in COUNTS:
                    bucket[c] += counts[c]
        for key, row in on_board.items():
            bucket = theirs.setdefault(row["province"], dict.fromkeys(COUNTS, 0))
            for c in COUNTS:
                bucket[c] += row[c]
        provinces = sorted(set(ours) | set(theirs))
        zero = dict.fromkeys(COUNTS, 0)
        mismatches = {p: {"report": ours.get(p, zero), "board": theirs.get(p, zero)}
                      for p in provinces if ours.get(p, zero) != theirs.get(p, zero)}
        return {"days_checked": len(days), "days_in_period": len(self.period.days()),
                "provinces": provinces, "equal": not mismatches, "mismatches": mismatches}

    def by(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """The counts summed over everything but ``keys``, with the intervention share."""
        sums: dict[tuple[str, ...], dict[str, Any]] = defaultdict(_new_cell)
        for row in self.rows:
            _add_cell(sums[tuple(row[k] for k in keys)], row)
        return [{**dict(zip(keys, key, strict=True)), **_with_times(counts)}
                for key, counts in sorted(sums.items())]

    def total(self) -> dict[str, Any]:
        total = _new_cell()
        for row in self.rows:
            _add_cell(total, row)
        return _with_times(total)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": {"code": self.period.code, "kind": self.period.kind, "label": self.period.label,
                       "label_fa": self.period.label_fa, "first_day": self.period.first_day.isoformat(),
                       "last_day": self.period.last_day.isoformat()},
            "source": self.source, "events": self.events, "drill_events_excluded": self.drill_events,
            "nation": self.total(),
            "by_province": self.by(GROUPINGS["province"]),
            "by_county": self.by(GROUPINGS["county"]),
            "by_category": self.by(GROUPINGS["category"]),
            "by_province_category": self.by(GROUPINGS["province-category"]),
            "cells": self.rows,
        }


def build_report(envelopes: Iterable[Envelope], period: Period, source: str = "") -> Report:
    fold = ReportFold(period)
    for e in envelopes:
        fold.apply(e)
    return fold.report(source)


def report_with_check(envelopes: Iterable[Envelope], period: Period, source: str = "",
                      province: str | None = None) -> tuple[Report, dict[str, Any]]:
    """The report of a period, and its check against the key-figures board folded from the
    same events (what the CLI and the HTTP route both answer). ``province`` keeps one."""
    board = Board()
    fold = ReportFold(period)
    for e in envelopes:
        if province is not None and e.province != province:
            continue
        apply(board, e)
        board.changes.clear()
        fold.apply(e)
    report = fold.report(source)
    return report, report.check_figures(board.rows)


def report_document(report: Report, check: dict[str, Any]) -> dict[str, Any]:
    return {**report.to_dict(), "key_figures_check": check}


def report_period(period: str | None, first: str | None = None, last: str | None = None) -> Period:
    """A Jalali month, season or year (``period``), or a range of days (``"A..B"``, ``"A to B"``,
    or ``first`` and ``last``), each day Jalali or ISO. Raises BadMoment with a reason."""
    if first or last:
        if not (first and last) or period:
            raise BadMoment("give the first and the last day together, or a period")
        return parse_range(first, last)
    if not period:
        raise BadMoment("give a period (1403-06, Shahrivar 1403, 1403) or the first and last day")
    for sep in ("..", " to ", " تا "):
        if sep in period:
            a, b = period.split(sep, 1)
            return parse_range(a.strip(), b.strip())
    return parse_period(period)
