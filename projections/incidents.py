"""Incident queue: open incidents by priority and age; unassigned ones stand out."""

from __future__ import annotations

from events.envelope import Envelope
from projections.board import Board


def apply_incident(board: Board, ns: str, e: Envelope) -> None:
    p, key = e.payload, f"{ns}incident/{e.aggregate_id}"
    if e.type == "IncidentOpened":
        board.put(key, {
            "id": e.aggregate_id, "province": e.province, "county": e.county,
            "category": p["category"], "priority": p["priority"], "route": p["route"],
            "risk_flags": p.get("risk_flags", []), "location": p["location"],
            "opened_at": e.occurred_at, "call_id": p.get("call_id"), "teams": [],
        })
    elif e.type == "IncidentClosed":
        board.delete(key)


def assign_team(board: Board, ns: str, e: Envelope) -> None:
    """A dispatch puts the team on the incident's row: the incident is no longer unassigned."""
    key = f"{ns}incident/{e.payload['incident_id']}"
    row = board.get(key)
    if row is not None and e.aggregate_id not in row["teams"]:
        board.put(key, {**row, "teams": [*row["teams"], e.aggregate_id]})

