"""The directors' figures for any period and place, beside the period before and the same
period a year earlier — ready to publish (گزارش قابل انتشار).

Calls, interventions and their share, dispatches and admissions come from the auditors'
report fold (eoc/audit/reports.py), so the published numbers are the audited ones; this module
adds what the directors also ask for — declined admissions (unmet demand) and the times from
call to dispatch and from dispatch to the scene — by county and category, drills excluded.

Small cells: in figures meant for publication every count of 1 or 2 is shown as "<3" (and a
share or a time resting on fewer than 3 cases is left out), so that no person can be
recognised from a small county's rare category.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from eoc.audit.reports import NO_INCIDENT, UNCLASSIFIED, ReportFold
from events.envelope import Envelope
from events.jalali import _FA_DIGITS, MONTHS_FA, to_gregorian, to_jalali
from events.vocabulary import SECRET_KINDS
from projections.clock import local_day_hour, seconds_between

SMALL = 3  # cells below this are suppressed in publication
# Where a safe or health house is stays secret in published figures too: what happens at one
# (admissions, declines) counts in its province under this county, never under its own.
WITHHELD_COUNTY = "خانه‌ها: محل پنهان"  # houses: place withheld
_AT_A_PLACE = frozenset({"ClientAdmitted", "AdmissionDeclined", "HoldingPeriodStarted", "ClientTransferredOut",
                         "ClientTransferredIn", "ClientDischarged", "CentreCapacityChanged", "CentreClosed"})
SUPPRESSED = "<3"
COUNTS = ("calls", "interventions", "dispatches", "admissions", "declined")
TIMES = ("call_to_dispatch_s", "dispatch_to_scene_s")


def _jalali_text(d: date) -> str:
    y, m, day = to_jalali(d)
    return f"{day} {MONTHS_FA[m - 1]} {y}".translate(_FA_DIGITS)


@dataclass(frozen=True)
class Span:
    """Any run of local days, first to last inclusive (the report fold reads it like a Jalali period)."""

    first_day: date
    last_day: date
    kind: str = "span"

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError(f"the period ends ({self.last_day}) before it starts ({self.first_day})")

    @property
    def code(self) -> str:
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"

    @property
    def label(self) -> str:
        return f"{self.first_day.isoformat()} to {self.last_day.isoformat()}"

    @property
    def label_fa(self) -> str:
        return f"{_jalali_text(self.first_day)} تا {_jalali_text(self.last_day)}"

    def days(self) -> list[str]:
        n = (self.last_day - self.first_day).days + 1
        return [(self.first_day + timedelta(days=i)).isoformat() for i in range(n)]

    def contains_day(self, day: str) -> bool:
        return self.first_day.isoformat() <= day <= self.last_day.isoformat()

    def previous(self) -> Span:
        """The span of the same length that ends the day before this one starts."""
        length = self.last_day - self.first_day
        last = self.first_day - timedelta(days=1)
        return Span(last - length, last)

    def last_year(self) -> Span:
        """The same Jalali dates one year earlier (the calendar the reports are read in)."""
        return Span(_year_before(self.first_day), _year_before(self.last_day))

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "first_day": self.first_day.isoformat(), "last_day": self.last_day.isoformat(),
                "label": self.label, "label_fa": self.label_fa}


def _year_before(d: date) -> date:
    y, m, day = to_jalali(d)
    for back in range(day, 0, -1):  # 30 Esfand of a leap year has no twin: the day before it
        try:
            return to_gregorian(y - 1, m, back)
        except ValueError:
            continue
    raise ValueError(f"no day a year before {d}")  # pragma: no cover


class ExtrasFold:
    """Declined admissions and response times per (province, county, category) for one span."""

    def __init__(self, span: Span) -> None:
        self.first, self.last = span.first_day.isoformat(), span.last_day.isoformat()
        self.incident_category: dict[str, str] = {}
        self.declined: dict[tuple[str, str, str], int] = defaultdict(int)
        self.times: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(lambda: {t: [] for t in TIMES})

    def _in(self, moment: str) -> bool:
        return self.first <= local_day_hour(moment)[0] <= self.last

    def apply(self, e: Envelope) -> None:
        p = e.payload
        if e.type == "IncidentOpened":
            self.incident_category[e.aggregate_id] = p["category"]
        if e.exercise or not self._in(e.occurred_at):
            return
        if e.type == "AdmissionDeclined":
            category = self.incident_category.get(str(p.get("incident_id")), NO_INCIDENT)
            self.declined[(e.province, e.county, category)] += 1
        elif e.type == "TeamDispatched" and p.get("call_received_at"):
            category = self.incident_category.get(str(p["incident_id"]), NO_INCIDENT)
            self.times[(e.province, e.county, category)]["call_to_dispatch_s"].append(
                max(0.0, seconds_between(p["call_received_at"], e.occurred_at)))
        elif e.type == "TeamStatusChanged" and p["status"] == "on_scene" and p.get("dispatched_at"):
            category = self.incident_category.get(str(p.get("incident_id")), NO_INCIDENT)
            self.times[(e.province, e.county, category)]["dispatch_to_scene_s"].append(
                max(0.0, seconds_between(p["dispatched_at"], e.occurred_at)))


@dataclass
class Cells:
    """The finest cells of one span: (province, county, category) -> counts and time samples."""

    span: Span
    counts: dict[tuple[str, str, str], dict[str, int]]
    times: dict[tuple[str, str, str], dict[str, list[float]]]

    def where(self, province: str | None, county: str | None) -> Cells:
        def keep(key: tuple[str, str, str]) -> bool:
            return (province in (None, "", "IR") or key[0] == province) and (not county or key[1] == county)
        return Cells(self.span, {k: v for k, v in self.counts.items() if keep(k)},
                     {k: v for k, v in self.times.items() if keep(k)})

    def grouped(self, by: tuple[int, ...]) -> dict[tuple[str, ...], dict[str, Any]]:
        sums: dict[tuple[str, ...], dict[str, Any]] = {}
        for key, counts in self.counts.items():
            g = tuple(key[i] for i in by)
            bucket = sums.setdefault(g, {**dict.fromkeys(COUNTS, 0), **{t: [] for t in TIMES}})
            for c in COUNTS:
                bucket[c] += counts.get(c, 0)
        for key, samples in self.times.items():
            g = tuple(key[i] for i in by)
            bucket = sums.setdefault(g, {**dict.fromkeys(COUNTS, 0), **{t: [] for t in TIMES}})
            for t in TIMES:
                bucket[t] = bucket[t] + samples[t]
        return sums


def _median(time_key: str) -> str:
    return time_key.removesuffix("_s") + "_median_s"


def _n(time_key: str) -> str:
    return time_key.removesuffix("_s") + "_n"


def _figures(raw: dict[str, Any]) -> dict[str, Any]:
    out = {c: raw[c] for c in COUNTS}
    out["intervention_share"] = round(raw["interventions"] / raw["calls"], 4) if raw["calls"] else None
    for t in TIMES:
        samples = raw[t]
        out[_median(t)] = round(statistics.median(samples)) if samples else None
        out[_n(t)] = len(samples)
    return out


def suppress(row: dict[str, Any]) -> dict[str, Any]:
    """The row as it may be published: small counts hidden, and what rests on them."""
    out = dict(row)
    for c in COUNTS:
        if isinstance(out.get(c), int) and 0 < out[c] < SMALL:
            out[c] = SUPPRESSED
    if out.get("calls") == SUPPRESSED or out.get("interventions") == SUPPRESSED:
        out["intervention_share"] = None
    for t in TIMES:
        n = _n(t)
        if isinstance(out.get(n), int) and out[n] < SMALL:
            out[_median(t)] = None
            if out[n] > 0:
                out[n] = SUPPRESSED
    return out


SECRET_KIND_NAMES = frozenset(str(k) for k in SECRET_KINDS)


def withhold_secret_places(envelopes: Iterable[Envelope]) -> Iterator[Envelope]:
    """The envelopes with every event at a secret house moved to ``WITHHELD_COUNTY``."""
    secret: set[str] = set()
    for e in envelopes:
        if e.type == "CentreRegistered" and (e.payload.get("secret") or e.payload.get("kind") in SECRET_KIND_NAMES):
            secret.add(e.aggregate_id)
        if e.aggregate_id in secret and (e.type in _AT_A_PLACE or e.type == "CentreRegistered"):
            e = replace(e, county=WITHHELD_COUNTY)
        yield e


def fold_spans(envelopes: Iterable[Envelope], spans: list[Span]) -> list[Cells]:
    """One pass over the log: the cells of every span."""
    reports = [ReportFold(s) for s in spans]  # type: ignore[arg-type]  # a Span reads like a Period
    extras = [ExtrasFold(s) for s in spans]
    for e in withhold_secret_places(envelopes):
        for r in reports:
            r.apply(e)
        for x in extras:
            x.apply(e)
    out = []
    for span, r, x in zip(spans, reports, extras, strict=True):
        counts: dict[tuple[str, str, str], dict[str, int]] = {}
        for row in r.report().rows:
            counts[(row["province"], row["county"], row["category"])] = {c: row.get(c, 0) for c in COUNTS}
        for key, n in x.declined.items():
            counts.setdefault(key, dict.fromkeys(COUNTS, 0))["declined"] = n
        out.append(Cells(span, counts, dict(x.times)))
    return out


def directors_report(envelopes: Iterable[Envelope], span: Span, *, province: str | None = None,
                     county: str | None = None, publish: bool = True) -> dict[str, Any]:
    """The figures of ``span`` for the place, by category and by county, with the comparisons."""
    spans = [span, span.previous(), span.last_year()]
    current, previous, last_year = (c.where(province, county) for c in fold_spans(envelopes, spans))
    clean = suppress if publish else (lambda r: r)

    def total(cells: Cells) -> dict[str, Any]:
        g = cells.grouped(())
        return _figures(g.get((), {**dict.fromkeys(COUNTS, 0), **{t: [] for t in TIMES}}))

    def table(cells: Cells, by: tuple[int, ...], names: tuple[str, ...]) -> list[dict[str, Any]]:
        return [clean({**dict(zip(names, key, strict=True)), **_figures(raw)})
                for key, raw in sorted(cells.grouped(by).items())]

    now, before, year_ago = total(current), total(previous), total(last_year)

    def change(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        """Relative change per count; when publishing, none that would reveal a small cell."""
        def small(x: int) -> bool:
            return publish and 0 < x < SMALL
        return {c: (round((a[c] - b[c]) / b[c], 4) if b[c] and not (small(a[c]) or small(b[c])) else None)
                for c in COUNTS}

    return {
        "period": span.to_dict(),
        "place": {"province": province or "IR", "county": county or None},
        "published": publish,
        "small_cells": f"counts under {SMALL} shown as {SUPPRESSED}" if publish else None,
        "totals": clean(now),
        "by_category": table(current, (2,), ("category",)),
        "by_county": table(current, (0, 1), ("province", "county")),
        "compare": {
            "previous": {"period": span.previous().to_dict(), "totals": clean(before),
                         "change": change(now, before)},
            "last_year": {"period": span.last_year().to_dict(), "totals": clean(year_ago),
                          "change": change(now, year_ago)},
        },
        "unclassified": UNCLASSIFIED,
    }
