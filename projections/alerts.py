"""Alerts that events raise and clear: a missed safety check-in, a centre 90% full.

Alerts that only the passing of time raises (an urgent incident unassigned too long, a
holding period over) are computed by ``views`` for a given moment, so a replay to any
moment shows exactly what was due then.
"""

from __future__ import annotations

from typing import Any

from events.envelope import Envelope
from projections.board import Board

FULL_SHARE = 0.9


def check_in_alert(board: Board, ns: str, e: Envelope) -> None:
    key = f"{ns}alert/check_in_missed/{e.aggregate_id}"
    if e.type == "SafetyCheckInMissed":
        board.put(key, {"kind": "check_in_missed", "team_id": e.aggregate_id, "province": e.province,
                        "county": e.county, "since": e.occurred_at, "due_at": e.payload["due_at"],
                        "incident_id": e.payload.get("incident_id")})
    elif e.type in ("SafetyCheckedIn", "ShiftEnded"):
        board.delete(key)


def centre_alert(board: Board, ns: str, centre: dict[str, Any], at: str) -> None:
    key = f"{ns}alert/centre_full/{centre['id']}"
    cap = centre["capacity"]
    full = centre["open"] and cap > 0 and centre["occupied"] >= FULL_SHARE * cap
    old = board.get(key)
    if full:
        row = {"kind": "centre_full", "centre_id": centre["id"], "province": centre["province"],
               "county": centre["county"], "secret": centre["secret"], "occupied": centre["occupied"],
               "capacity": cap, "since": old["since"] if old else at}
        if row != old:
            board.put(key, row)
    elif old is not None:
        board.delete(key)
