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


POINT_FIELDS = ("lat", "lon", "at", "speed_kmh", "heading")


def _point(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in POINT_FIELDS if k in row}


def _newer(point: dict[str, Any], than: dict[str, Any] | None) -> bool:
    """Latest by the time it was taken; two taken in the same millisecond: the greater
    (lat, lon), so a row never depends on the order its points arrived in."""
    return than is None or than["at"] < point["at"] or (
        than["at"] == point["at"] and (than["lat"], than["lon"]) < (point["lat"], point["lon"]))


def set_position(board: Board, ns: str, e: Envelope, position: dict[str, float]) -> None:
    """The team's newest position: an older one changes nothing (a replay folds the position
    track after the log). A report only shown — not kept in the track (eoc/app/track.py: it
    comes with no place in it) — moves the map but not what history holds: the row then names
    the last kept point as ``kept`` (``None``: none yet), which a replay's row is (and which
    ``eoc diff --with-telemetry`` compares); a row without ``kept`` is its own last kept point."""
    key = f"{ns}position/{e.aggregate_id}"
    old = board.get(key)
    point = {"lat": position["lat"], "lon": position["lon"], "at": e.occurred_at}
    for extra in ("speed_kmh", "heading"):
        if extra in e.payload:
            point[extra] = e.payload[extra]
    shown_only = e.type == "TeamPositionReported" and e.position is None
    if old is None:
        main, kept = point, (None if shown_only else point)
    else:
        kept = old["kept"] if "kept" in old else _point(old)
        to_map, to_kept = _newer(point, old), not shown_only and _newer(point, kept)
        if not to_map and not to_kept:
            return
        main = point if to_map else _point(old)
        kept = point if to_kept else kept
    row = {"team_id": e.aggregate_id, "province": e.province, **main}
    if kept != main:
        row["kept"] = kept
    board.put(key, row)


def kept_position(row: dict[str, Any]) -> dict[str, Any] | None:
    """What history holds of a ``position/`` row: the row at its last kept point (None: none)."""
    if "kept" not in row:
        return row
    kept = row["kept"]
    return None if kept is None else {"team_id": row["team_id"], "province": row["province"], **kept}
