"""Summaries of the boards at a given moment: what an operator reads off them.

Everything that depends on the passing of time (time in status, age of an incident, days
left in a holding period, an urgent incident waiting too long) is computed here from the
rows and ``now``, never stored, so a replay to a moment shows what was true at that moment.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from events.vocabulary import PRIORITY_RANK, RESIDENTIAL_KINDS
from projections.clock import local
from projections.figures import COUNTERS, LATENCY_EDGES
from projections.rosters import planned_vs_actual

URGENT_UNASSIGNED_S = 5 * 60  # an urgent incident with no team after this is an alert
TRANSFER_DUE_WITHIN = timedelta(days=1)


def _rows(rows: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [r for k, r in rows.items() if k.startswith(prefix)]


def _age(now: datetime, moment: str | None) -> float | None:
    return None if not moment else round((now - datetime.fromisoformat(moment)).total_seconds(), 1)


def latency_quantile(stat: dict[str, Any], q: float) -> float | None:
    """Upper edge of the histogram bucket holding the q-quantile (seconds)."""
    if not stat["n"]:
        return None
    target, seen = q * stat["n"], 0
    for i, count in enumerate(stat["buckets"]):
        seen += count
        if seen >= target:
            return float(LATENCY_EDGES[i]) if i < len(LATENCY_EDGES) else _seconds(stat["max_s"])
    return _seconds(stat["max_s"])


def summary(rows: dict[str, Any], now: str, *, drill: bool = False) -> dict[str, Any]:
    ns = "drill/" if drill else ""
    t_now = datetime.fromisoformat(now)
    positions = {r["team_id"]: r for r in _rows(rows, ns + "position/")}
    teams = sorted(
        ({**r, "in_status_s": _age(t_now, r["since"]), "position": positions.get(r["id"])}
         for r in _rows(rows, ns + "team/")),
        key=lambda r: (r["province"], r["name"]),
    )
    incidents = sorted(
        ({**r, "age_s": _age(t_now, r["opened_at"]), "unassigned": not r["teams"]}
         for r in _rows(rows, ns + "incident/")),
        key=lambda r: (PRIORITY_RANK.get(r["priority"], 9), r["opened_at"]),
    )
    centres, rollup = _occupancy(_rows(rows, ns + "centre/"), t_now)
    alerts = [dict(r) for r in _rows(rows, ns + "alert/")]
    for inc in incidents:
        if inc["priority"] == "urgent" and inc["unassigned"] and inc["age_s"] > URGENT_UNASSIGNED_S:
            alerts.append({"kind": "urgent_unassigned", "incident_id": inc["id"], "province": inc["province"],
                           "county": inc["county"], "since": inc["opened_at"], "age_s": inc["age_s"]})
    for centre in centres:
        for h in centre["holding"]:
            if h["overdue"]:  # no client id here: the alert reaches every viewer of the centre
                alerts.append({"kind": "transfer_overdue", "centre_id": centre["id"],
                               "province": centre["province"], "county": centre["county"],
                               "secret": centre["secret"], "since": h["until"],
                               "days_overdue": h["days_overdue"]})
    alerts.sort(key=lambda a: a.get("since") or "")
    return {
        "now": now,
        "drill": drill,
        "teams": teams,
        "team_status": dict(Counter(t["status"] for t in teams)),
        "incidents": incidents,
        "centres": centres,
        "occupancy": rollup,
        "figures": figures_for_day(rows, local(now).strftime("%Y-%m-%d"), drill=drill),
        "rosters": planned_vs_actual(_rows(rows, "roster/"), teams),
        "alerts": alerts,
    }


def _occupancy(centres: list[dict[str, Any]], now: datetime) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    out: list[dict[str, Any]] = []
    rollup: dict[str, Any] = {"nation": _zero(), "provinces": {}, "counties": {}}
    due_by = now + TRANSFER_DUE_WITHIN
    for c in sorted(centres, key=lambda c: (c["province"], c["name"])):
        holding = []
        for client, stay in c["clients"].items():
            if stay.get("holding_until"):
                until = datetime.fromisoformat(stay["holding_until"])
                days_left = round((until - now).total_seconds() / 86400, 1)
                holding.append({"client": client, "until": stay["holding_until"],
                                "days_left": max(0.0, days_left), "transfer_due": until <= due_by,
                                # served and still here: the transfer is overdue (انتقال معوق)
                                "overdue": until < now,
                                "days_overdue": round(max(0.0, -days_left), 1)})
        free = max(0, c["capacity"] - c["occupied"])
        row = {**c, "free": free, "holding": holding,
               "full": c["kind"] in RESIDENTIAL_KINDS and c["open"] and free == 0,
               "transfers_due": sum(h["transfer_due"] for h in holding),
               "transfers_overdue": sum(h["overdue"] for h in holding)}
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


def _zero() -> dict[str, int]:
    return {"capacity": 0, "occupied": 0, "free": 0, "holding": 0, "transfers_due": 0, "transfers_overdue": 0,
            "declined": 0}


def figures_for_day(rows: dict[str, Any], day: str, *, drill: bool = False) -> dict[str, Any]:
    """One local day's key figures per province and for the nation."""
    prefix = ("drill/" if drill else "") + "figures/"
    provinces = {r["province"]: r for r in _rows(rows, prefix) if r["day"] == day}
    return {"day": day, "provinces": {p: _derived(r) for p, r in provinces.items()},
            "nation": _derived(sum_figures(list(provinces.values()), day))}


def sum_figures(rows: list[dict[str, Any]], day: str = "") -> dict[str, Any]:
    total: dict[str, Any] = {"province": "IR", "day": day, **{c: 0 for c in COUNTERS},
                             "calls_by_hour": Counter(), "calls_by_category": Counter(),
                             "calls_by_hour_category": {},
                             "call_to_dispatch": None, "dispatch_to_scene": None}
    for r in rows:
        for c in COUNTERS:
            total[c] += r[c]
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
    return total


def _sum_latency(a: dict[str, Any] | None, b: dict[str, Any]) -> dict[str, Any]:
    if a is None:
        return dict(b)
    return {"n": a["n"] + b["n"], "sum_s": round(a["sum_s"] + b["sum_s"], 3), "max_s": max(a["max_s"], b["max_s"]),
            "buckets": [x + y for x, y in zip(a["buckets"], b["buckets"], strict=True)]}


def _derived(r: dict[str, Any]) -> dict[str, Any]:
    out = dict(r)
    out["intervention_share"] = round(r["interventions"] / r["calls"], 3) if r["calls"] else None
    for lat in ("call_to_dispatch", "dispatch_to_scene"):
        s = r[lat]
        out[lat + "_mean_s"] = round(s["sum_s"] / s["n"], 1) if s["n"] else None
        out[lat + "_p50_s"] = latency_quantile(s, 0.5)
        out[lat + "_p90_s"] = latency_quantile(s, 0.9)
    return out


sum_latency = _sum_latency
