"""Prevention view (پیشگیری پیش از مداخله): per county and week, the calls to line 123 and the
mobile call-outs (dispatches to the county's incidents) beside the social-service bases
(پایگاه خدمات اجتماعی) open in that county that week — so the leadership can see whether the
counties where bases work have fewer call-outs, and whether call-outs fall after a base opens.

A base serves the county it is registered in; it is open from its registration until it is
closed. Weeks run Saturday to Friday (the Iranian week), by the local day. Drills are left out.
Counts of 1 or 2 are shown as "<3", as in every published figure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from eoc.publish.figures import SMALL, SUPPRESSED, Span, withhold_secret_places
from events.envelope import Envelope
from projections.clock import local_day_hour

BASE_KINDS = frozenset({"social_service_base"})


def week_of(day: date) -> date:
    """The Saturday that starts the Iranian week of ``day``."""
    return day - timedelta(days=(day.weekday() - 5) % 7)


def _day(moment: str) -> date:
    return date.fromisoformat(local_day_hour(moment)[0])


def _published(n: int) -> int | str:
    return SUPPRESSED if 0 < n < SMALL else n


def prevention_view(envelopes: Iterable[Envelope], span: Span, *, province: str | None = None) -> dict[str, Any]:
    first, last = span.first_day, span.last_day
    incident_county: dict[str, tuple[str, str]] = {}
    bases: dict[str, dict[str, Any]] = {}  # id -> province, county, name, opened, closed
    calls: dict[tuple[str, str, date], int] = defaultdict(int)
    callouts: dict[tuple[str, str, date], int] = defaultdict(int)
    for e in withhold_secret_places(envelopes):
        if e.exercise or (province not in (None, "", "IR") and e.province != province):
            continue
        p = e.payload
        if e.type == "IncidentOpened":
            incident_county[e.aggregate_id] = (e.province, e.county)
        elif e.type == "CentreRegistered" and p["kind"] in BASE_KINDS:
            bases[e.aggregate_id] = {"province": e.province, "county": e.county, "name": p["name"],
                                     "opened": _day(e.occurred_at), "closed": None}
        elif e.type == "CentreClosed" and e.aggregate_id in bases:
            bases[e.aggregate_id]["closed"] = _day(e.occurred_at)
        day = _day(p["received_at"] if e.type == "CallReceived" else e.occurred_at)
        if not first <= day <= last:
            continue
        if e.type == "CallReceived":
            calls[(e.province, e.county, week_of(day))] += 1
        elif e.type == "TeamDispatched":
            where = incident_county.get(str(p["incident_id"]), (e.province, e.county))
            callouts[(*where, week_of(day))] += 1
    weeks = []
    w = week_of(first)
    while w <= last:
        weeks.append(w)
        w += timedelta(days=7)
    counties = sorted({(k[0], k[1]) for k in (*calls, *callouts)} | {(b["province"], b["county"]) for b in bases.values()})
    out = []
    for prov, county in counties:
        here = [b for b in bases.values() if (b["province"], b["county"]) == (prov, county)]
        series = []
        for wk in weeks:
            end = wk + timedelta(days=6)
            open_bases = sum(1 for b in here if b["opened"] <= end and (b["closed"] is None or b["closed"] >= wk))
            series.append({"week": wk.isoformat(), "calls": _published(calls.get((prov, county, wk), 0)),
                           "callouts": _published(callouts.get((prov, county, wk), 0)), "bases_open": open_bases})
        total_calls = sum(calls.get((prov, county, wk), 0) for wk in weeks)
        total_callouts = sum(callouts.get((prov, county, wk), 0) for wk in weeks)
        out.append({"province": prov, "county": county,
                    "bases": [{"name": b["name"], "opened": b["opened"].isoformat(),
                               "closed": b["closed"].isoformat() if b["closed"] else None} for b in here],
                    "calls": _published(total_calls), "callouts": _published(total_callouts),
                    "callouts_per_100_calls": round(100 * total_callouts / total_calls, 1)
                    if total_calls >= SMALL and total_callouts >= SMALL else None,
                    "weeks": series})
    return {"period": span.to_dict(), "province": province or "IR", "counties": out}
