"""Team board: every team's status, time in status (since), incident, shift, last position."""

from __future__ import annotations

from typing import Any

from events.envelope import Envelope

from .board import Board

STATUS_CARRIES_POSITION = ("TeamStatusChanged", "SafetyCheckedIn")


def _team(board: Board, ns: str, e: Envelope) -> dict[str, Any]:
    row = board.get(f"{ns}team/{e.aggregate_id}")
    if row is None:  # a drill touching a real team starts from the team's real row
        row = board.get(f"team/{e.aggregate_id}") or {"id": e.aggregate_id, "province": e.province,
                                                       "county": e.county, "name": e.aggregate_id[:8]}
    return dict(row)


def apply_team(board: Board, ns: str, e: Envelope) -> None:
    p, key = e.payload, f"{ns}team/{e.aggregate_id}"
    if e.type == "TeamRegistered":
        board.put(key, {
            "id": e.aggregate_id, "name": p["name"], "province": e.province, "county": e.county,
            "status": "off_duty", "since": e.occurred_at, "shift": None, "crew": 0,
            "incident_id": None, "dispatched_at": None, "home": p["home"],
            "last_check_in": None, "check_in_missed": False, "drill": False,
        })
        set_position(board, ns, e, p["home"])
        return
    row = _team(board, ns, e)
    t = e.type
    if t == "ShiftStarted":
        row.update(status="available", since=e.occurred_at, shift=p["shift"], crew=len(p["members"]))
    elif t == "ShiftEnded":
        row.update(status="off_duty", since=e.occurred_at, shift=None, crew=0, check_in_missed=False)
    elif t == "TeamDispatched":
        row.update(status="dispatched", since=e.occurred_at, incident_id=p["incident_id"],
                   dispatched_at=e.occurred_at, drill=e.exercise)
    elif t == "TeamStatusChanged":
        row.update(status=p["status"], since=e.occurred_at)
        if p["status"] == "available":
            row.update(incident_id=None, dispatched_at=None, drill=False)
    elif t == "SafetyCheckedIn":
        row.update(last_check_in=e.occurred_at, check_in_missed=False)
    elif t == "SafetyCheckInMissed":
        row.update(check_in_missed=True)
    board.put(key, row)
    if t in STATUS_CARRIES_POSITION and p.get("position"):
        set_position(board, ns, e, p["position"])


def set_position(board: Board, ns: str, e: Envelope, position: dict[str, float]) -> None:
    """Latest position wins by the time it was taken; an older report changes nothing."""
    key = f"{ns}position/{e.aggregate_id}"
    old = board.get(key)
    if old is not None and old["at"] >= e.occurred_at:
        return
    row = {"team_id": e.aggregate_id, "province": e.province, "lat": position["lat"],
           "lon": position["lon"], "at": e.occurred_at}
    for extra in ("speed_kmh", "heading"):
        if extra in e.payload:
            row[extra] = e.payload[extra]
    board.put(key, row)
