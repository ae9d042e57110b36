"""Time-dependent views of the workspaces' boards, for a moment (like ``views``): which
danger flags are in force, which call-backs are due or overdue, which held places have
expired, which open incidents are at the same address. A replay to a moment shows what was
due then."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

SAME_ADDRESS_M = 150.0  # two incidents this close are "at the same address"


def _km(a: dict[str, float], b: dict[str, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, h)))


def flag_state(flag: dict[str, Any], now: str) -> str:
    """``in_force``, ``review_due`` (in force, its review date passed) or ``expired``."""
    if flag["expires_at"] <= now:
        return "expired"
    return "review_due" if flag["review_at"] <= now else "in_force"


def active_danger_flags(rows: dict[str, Any], now: str, *, location: dict[str, float] | None = None,
                        incident_id: str | None = None, person: str | None = None,
                        province: str | None = None) -> list[dict[str, Any]]:
    """The flags in force at ``now`` that touch this address, incident or person (all the
    province's when nothing is named)."""
    out = []
    for key, flag in rows.items():
        if not key.removeprefix("drill/").startswith("danger/") or flag_state(flag, now) == "expired":
            continue
        if province is not None and flag["province"] != province:
            continue
        named = location is not None or incident_id is not None or person is not None
        hit = not named
        if location is not None and flag.get("location"):
            hit = hit or _km(location, flag["location"]) * 1000 <= flag.get("radius_m", 100)
        if incident_id is not None and flag.get("incident_id") == incident_id:
            hit = True
        if person is not None and flag.get("person") == person:
            hit = True
        if hit:
            out.append({**flag, "state": flag_state(flag, now)})
    return sorted(out, key=lambda f: f["recorded_at"])


def follow_ups(rows: dict[str, Any], now: str, province: str | None = None) -> list[dict[str, Any]]:
    """Every call-back not yet made, with ``state``: ``scheduled``, ``due`` (its moment has
    come) or ``overdue`` (more than a quarter of its interval late, at least 2 hours)."""
    at = datetime.fromisoformat(now.replace("Z", "+00:00"))
    out = []
    for key, f in rows.items():
        if not key.removeprefix("drill/").startswith("follow_up/"):
            continue
        if province is not None and f["province"] != province:
            continue
        due = datetime.fromisoformat(f["due_at"].replace("Z", "+00:00"))
        grace = max(timedelta(hours=2), timedelta(hours=f.get("after_hours", 24)) / 4)
        state = "scheduled" if at < due else ("due" if at < due + grace else "overdue")
        out.append({**f, "state": state})
    return sorted(out, key=lambda f: f["due_at"])


def held_places(rows: dict[str, Any], now: str) -> list[dict[str, Any]]:
    """Held places with ``expired`` true once their moment passed (they free the place)."""
    out = []
    for key, c in rows.items():
        if not key.removeprefix("drill/").startswith("centre/"):
            continue
        for hold_id, h in (c.get("holds") or {}).items():
            out.append({"centre_id": c["id"], "hold_id": hold_id, **h, "expired": h["until"] <= now})
    return out


def open_at_address(rows: dict[str, Any], location: dict[str, float], province: str,
                    within_m: float = SAME_ADDRESS_M) -> list[dict[str, Any]]:
    """Open incidents of the province at (within ``within_m`` of) this place, nearest first."""
    out = []
    for key, inc in rows.items():
        if not key.startswith("incident/") or inc["province"] != province:
            continue
        m = _km(location, inc["location"]) * 1000
        if m <= within_m:
            out.append({**inc, "distance_m": round(m)})
    return sorted(out, key=lambda i: i["distance_m"])
