"""The figures the provincial directors publish, for a Jalali month, season or year.

Calls to line 123, the share of them that led to an intervention (escalated to an incident),
mobile dispatches and admissions to centres — by province, county and call category — folded
from a replay of the stream, drills (مانور) excluded. Each count is cut by the same moment
and the same Iran-time day as the key-figures board (projections/figures.py), so a month's
report adds up to that board's rows for the month's days:

* a call counts on the day it was received (its ``received_at``), in the category it was
  classified in ("unclassified" if never);
* an intervention on the day the call was escalated, in the call's category;
* a dispatch on the day the team was sent, in its incident's category;
* an admission on the day of admission, in its incident's category (``—`` for a person who
  came in directly, without an incident).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from events.envelope import Envelope
from events.jalali import Period
from projections.clock import local_day_hour
from projections.period_figures import day_rows

COUNTS = ("calls", "interventions", "dispatches", "admissions")
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
        self.cells: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
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
        elif t == "ClientAdmitted":
            if day := self._in(e.occurred_at):
                incident = p.get("incident_id")
                category = self.incident_category.get(incident, NO_INCIDENT) if incident else NO_INCIDENT
                self._count(e, category, day, "admissions")

    def _count(self, e: Envelope, category: str, day: str, counter: str) -> None:
        self.cells[(e.province, e.county, category)][counter] += 1
        self.daily[(e.province, day)][counter] += 1

    def report(self, source: str = "") -> Report:
        cells = {k: dict(v) for k, v in self.cells.items()}
        for call_id, (province, county) in self.calls.items():
            key = (province, county, self.call_category.get(call_id, UNCLASSIFIED))
            cells.setdefault(key, dict.fromkeys(COUNTS, 0))["calls"] += 1
        rows = [{"province": p, "county": c, "category": cat, **counts}
                for (p, c, cat), counts in sorted(cells.items())]
        daily = {f"{p}/{d}": dict(v) for (p, d), v in sorted(self.daily.items())}
        return Report(self.period, rows, source=source, events=self.events, drill_events=self.drill_events,
                      daily=daily)


def _share(row: dict[str, Any]) -> float | None:
    return round(row["interventions"] / row["calls"], 4) if row["calls"] else None


@dataclass
class Report:
    period: Period
    rows: list[dict[str, Any]]  # the finest cells: province, county, category and the counts
    source: str = ""
    events: int = 0  # envelopes read
    drill_events: int = 0  # of which drills, left out
    daily: dict[str, dict[str, int]] = field(default_factory=dict)  # "<province>/<day>" -> counts

    def check_figures(self, rows: dict[str, Any]) -> dict[str, Any]:
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
        sums: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
        for row in self.rows:
            bucket = sums[tuple(row[k] for k in keys)]
            for c in COUNTS:
                bucket[c] += row[c]
        return [{**dict(zip(keys, key, strict=True)), **counts, "intervention_share": _share(counts)}
                for key, counts in sorted(sums.items())]

    def total(self) -> dict[str, Any]:
        counts = {c: sum(r[c] for r in self.rows) for c in COUNTS}
        return {**counts, "intervention_share": _share(counts)}

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
