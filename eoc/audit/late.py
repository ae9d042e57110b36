"""Late entries (ثبت با تأخیر): facts recorded well after they happened, for auditors.

A late entry changes figures for a day that may already have been read or reported, so an
auditor can list them all: what, where, when it happened, when it was recorded, by whom.
Supervisors' overrides of the holding rule are listed beside them (they too change what a
report states).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from events.envelope import Envelope
from projections.clock import is_late, seconds_between

OVERRIDES = ("HoldingRuleOverridden",)


def late_entry(e: Envelope) -> dict[str, Any] | None:
    """The listing row of a late entry, or None if the event was recorded in time."""
    if e.position is None or not is_late(e.occurred_at, e.recorded_at):
        return None
    return {"position": e.position, "type": e.type, "aggregate_id": e.aggregate_id, "province": e.province,
            "county": e.county, "occurred_at": e.occurred_at, "recorded_at": e.recorded_at,
            "late_by_s": round(seconds_between(e.occurred_at, e.recorded_at), 3),
            "actor_role": e.actor.get("role"), "actor": e.actor.get("user"), "exercise": e.exercise}


def list_late_entries(envelopes: Iterable[Envelope], *, overrides: bool = True) -> list[dict[str, Any]]:
    """Every late entry (and, if asked, every override of a rule), in log order."""
    out = []
    for e in envelopes:
        row = late_entry(e)
        if row is not None:
            out.append({**row, "kind": "late_entry"})
        elif overrides and e.type in OVERRIDES:
            out.append({"position": e.position, "type": e.type, "aggregate_id": e.aggregate_id,
                        "province": e.province, "county": e.county, "occurred_at": e.occurred_at,
                        "recorded_at": e.recorded_at, "actor_role": e.actor.get("role"),
                        "actor": e.actor.get("user"), "exercise": e.exercise, "kind": "override",
                        "reason": e.payload.get("reason")})
    return out
