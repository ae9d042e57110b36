"""Boards of the workspaces (میز کار): short references, open calls and callers' history,
danger-to-staff flags, follow-up call-backs, duress alarms and held places.

Pure folds like every board: ``apply_*(board, ns, envelope)``. Short references
(``QZV-0142`` for an incident) are numbered per province and kind in log order, which every
runner sees the same (one partition per province), so a replay gives every thing the same
reference. Secret places are numbered apart (``QZV-H0001``) so that gaps in the centres'
numbers tell nothing about houses.

Keys: ``call/<id>`` (open calls), ``caller/<subject>`` (a caller's last calls),
``danger/<id>``, ``follow_up/<id>``, ``alert/duress/<team id>``, ``refseq/<province>/<kind>``
(the counters; shown to no one).
"""

from __future__ import annotations

from typing import Any

from events.envelope import Envelope
from projections.board import Board

# The letter of each kind in a reference: incidents carry none (QZV-0142), the others one.
REF_LETTER = {"incident": "", "call": "C", "team": "T", "centre": "P", "house": "H"}
CREATED = {"IncidentOpened": "incident", "CallReceived": "call", "TeamRegistered": "team",
           "CentreRegistered": "centre"}
CALLER_HISTORY = 10  # a caller's last calls kept for the call-taker's "earlier calls"


def reference(province: str, kind: str, number: int, drill: bool = False) -> str:
    """``QZV-0142`` (incident), ``QZV-C0007`` (call), ``QZV-T0014`` (team), ``QZV-P0003``
    (centre), ``QZV-H0001`` (secret house); drills carry an ``X`` (مانور): ``QZV-X0142``."""
    return f"{province}-{'X' if drill else ''}{REF_LETTER[kind]}{number:04d}"


def _next_ref(board: Board, ns: str, e: Envelope, kind: str) -> str:
    key = f"{ns}refseq/{e.province}/{kind}"
    row = board.get(key) or {"province": e.province, "n": 0}
    n = row["n"] + 1
    board.put(key, {"province": e.province, "n": n})
    return reference(e.province, kind, n, bool(ns))


def apply_ref(board: Board, ns: str, e: Envelope) -> None:
    """Runs after the row's own applier: gives the new thing its short reference."""
    kind = CREATED[e.type]
    if kind == "centre" and e.payload.get("secret"):
        kind = "house"
    row_kind = "centre" if kind == "house" else kind
    ref = _next_ref(board, ns, e, kind)
    key, row = _row(board, ns, row_kind, e)
    if row is not None:
        board.put(key, {**row, "ref": ref})


# ---------------------------------------------------------------- calls (تماس)

CALL_DONE = {"CallCounselled": "counselled", "CallReferred": "referred", "CallEscalated": "escalated",
             "CallLinked": "linked"}


def apply_call(board: Board, ns: str, e: Envelope) -> None:
    p, key = e.payload, f"{ns}call/{e.aggregate_id}"
    if e.type == "CallReceived":
        board.put(key, {"id": e.aggregate_id, "province": e.province, "county": e.county, "line": p["line"],
                        "caller": p["caller"], "received_at": p["received_at"], "status": "received",
                        "category": None, "priority": None, "risk_flags": []})
        return
    row = board.get(key)
    if row is None:
        return
    if e.type == "CallClassified":
        board.put(key, {**row, "status": "classified", "category": p["category"], "priority": p["priority"],
                        "risk_flags": p.get("risk_flags", [])})
        return
    if e.type in CALL_DONE:  # the call is handled: out of the open list, into the caller's history
        board.delete(key)
        incident = p.get("incident_id")
        _remember_call(board, ns, e, row, CALL_DONE[e.type], incident)


def _remember_call(board: Board, ns: str, e: Envelope, call: dict[str, Any], outcome: str,
                   incident_id: str | None) -> None:
    key = f"{ns}caller/{call['caller']}"
    old = board.get(key) or {"caller": call["caller"], "province": e.province, "calls": []}
    entry = {"call_id": call["id"], "ref": call.get("ref"), "received_at": call["received_at"],
             "category": call["category"], "priority": call["priority"], "outcome": outcome,
             "incident_id": incident_id, "county": call["county"]}
    calls = [entry, *[c for c in old["calls"] if c["call_id"] != call["id"]]][:CALLER_HISTORY]
    board.put(key, {**old, "province": e.province, "calls": calls})


# ---------------------------------------------------------------- incidents, teams, centres: extra fields


def _row(board: Board, ns: str, kind: str, e: Envelope) -> tuple[str, Any]:
    """The key of the row of this kind that the event's aggregate has, and the row (None: none yet)."""
    key = f"{ns}{kind}/{e.aggregate_id}"
    return key, board.get(key)


def apply_incident_extra(board: Board, ns: str, e: Envelope) -> None:
    key, row = _row(board, ns, "incident", e)
    if row is None:
        return
    if e.type == "IncidentCallLinked":
        board.put(key, {**row, "calls": [*row.get("calls", []), e.payload["call_id"]]})
    elif e.type == "TeamConflictRecorded":
        conflicts = {**row.get("conflicts", {}), e.payload["team_id"]: e.payload["reason"]}
        board.put(key, {**row, "conflicts": conflicts})


def apply_team_extra(board: Board, ns: str, e: Envelope) -> None:
    key, row = _row(board, ns, "team", e)
    if row is None:
        return
    p = e.payload
    if e.type == "ShiftStarted":
        board.put(key, {**row, "skills": sorted(p.get("skills") or [])})
    elif e.type == "ShiftEnded":
        board.put(key, {**row, "skills": []})
    elif e.type == "DuressRaised":
        board.put(key, {**row, "duress": {"since": e.occurred_at, "covert": p.get("covert", False)}})
        position = p.get("position") or _last_position(board, ns, e.aggregate_id)
        board.put(f"{ns}alert/duress/{e.aggregate_id}", {
            "kind": "duress", "team_id": e.aggregate_id, "team": row.get("name"), "team_ref": row.get("ref"),
            "province": e.province, "county": e.county, "since": e.occurred_at,
            "covert": p.get("covert", False), "position": position, "incident_id": p.get("incident_id"),
        })
    elif e.type == "DuressCleared":
        board.put(key, {**row, "duress": None})
        board.delete(f"{ns}alert/duress/{e.aggregate_id}")


def _last_position(board: Board, ns: str, team_id: str) -> dict[str, Any] | None:
    pos = board.get(f"{ns}position/{team_id}") or board.get(f"position/{team_id}")
    return {"lat": pos["lat"], "lon": pos["lon"], "at": pos["at"]} if pos else None


def apply_centre_extra(board: Board, ns: str, e: Envelope) -> None:
    key, row = _row(board, ns, "centre", e)
    if row is None:
        return
    p = e.payload
    holds = dict(row.get("holds", {}))
    if e.type == "PlaceHeld":
        holds[p["hold_id"]] = {"until": p["until"], "incident_id": p.get("incident_id"), "since": e.occurred_at}
    elif e.type == "PlaceHoldReleased":
        holds.pop(p["hold_id"], None)
    board.put(key, {**row, "holds": holds})


# ---------------------------------------------------------------- danger flags, follow-ups


def apply_danger(board: Board, ns: str, e: Envelope) -> None:
    p, key = e.payload, f"{ns}danger/{e.aggregate_id}"
    if e.type == "DangerFlagRecorded":
        board.put(key, {"id": e.aggregate_id, "province": e.province, "county": e.county,
                        "kinds": p["kinds"], "location": p.get("location"), "radius_m": p.get("radius_m", 100),
                        "person": p.get("person"), "incident_id": p.get("incident_id"), "note": p.get("note"),
                        "expires_at": p["expires_at"], "review_at": p["review_at"], "recorded_at": e.occurred_at})
    elif e.type == "DangerFlagReviewed":
        if p["decision"] == "lift":
            board.delete(key)
        else:
            row = board.get(key)
            if row is not None:
                board.put(key, {**row, "expires_at": p["expires_at"],
                                "review_at": p.get("review_at") or p["expires_at"], "reviewed_at": e.occurred_at})


def apply_follow_up(board: Board, ns: str, e: Envelope) -> None:
    p, key = e.payload, f"{ns}follow_up/{e.aggregate_id}"
    if e.type == "FollowUpScheduled":
        call = board.get(f"{ns}call/{p['call_id']}") if p.get("call_id") else None
        board.put(key, {"id": e.aggregate_id, "province": e.province, "county": e.county,
                        "subject": p["subject"], "call_id": p.get("call_id"), "centre_id": p.get("centre_id"),
                        "person": p.get("person"), "due_at": p["due_at"], "after_hours": p["after_hours"],
                        "call_ref": call.get("ref") if call else None, "scheduled_at": e.occurred_at})
    elif e.type == "FollowUpDone":
        board.delete(key)
