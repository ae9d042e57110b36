"""Team board: every team's status, time in status (since), incident, shift, last position."""

from __future__ import annotations

from typing import Any

from events.envelope import Envelope
from projections.board import DRILL, Board

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
    elif t == "TeamReleasedFromDrill":
        row.update(status="available", since=e.occurred_at, incident_id=None, dispatched_at=None, drill=False,
                   in_drill=False, drill_incident_id=None)
        drill_row = board.get(f"{DRILL}team/{e.aggregate_id}")
        if drill_row is not None:  # it has left the drill
            board.put(f"{DRILL}team/{e.aggregate_id}", {**drill_row, "status": "available", "since": e.occurred_at,
                                                         "incident_id": None, "dispatched_at": None})
    board.put(key, row)
    if ns == DRILL and t in ("TeamDispatched", "TeamStatusChanged"):
        _mark_real_row(board, e)
    if t in STATUS_CARRIES_POSITION and p.get("position"):
        set_position(board, ns, e, p["position"])


def _mark_real_row(board: Board, e: Envelope) -> None:
    """A real team taking part in a drill shows "in drill" (در مانور) on the real board, so
    nobody counts it as available for real work; it is available again when the drill ends."""
    real = board.get(f"team/{e.aggregate_id}")
    if real is None:  # a team of the drill only
        return
    if e.type == "TeamDispatched":
        board.put(f"team/{e.aggregate_id}", {**real, "status": "in_drill", "since": e.occurred_at,
                                              "in_drill": True, "drill_incident_id": e.payload["incident_id"]})
    elif e.payload["status"] == "available" and real.get("in_drill"):
        board.put(f"team/{e.aggregate_id}", {**real, "status": "available", "since": e.occurred_at,
                                              "in_drill": False, "drill_incident_id": None})


def set_position(board: Board, ns: str, e: Envelope, position: dict[str, float]) -> None:
    """Latest position wins by the time it was taken; an older report changes nothing. Two
    taken in the same millisecond: the greater (lat, lon) wins, so the row never depends on
    the order they arrived in (a replay folds the position track after the log)."""
    key = f"{ns}position/{e.aggregate_id}"
    old = board.get(key)
    if old is not None and (old["at"] > e.occurred_at or (
            old["at"] == e.occurred_at and (old["lat"], old["lon"]) >= (position["lat"], position["lon"]))):
        return
    row = {"team_id": e.aggregate_id, "province": e.province, "lat": position["lat"],
           "lon": position["lon"], "at": e.occurred_at}
    for extra in ("speed_kmh", "heading"):
        if extra in e.payload:
            row[extra] = e.payload[extra]
    board.put(key, row)
