"""Occupancy board: per centre and house, capacity, occupied, free, clients in holding, declines.

Rows are per place; the county, province and national sums are views (see ``views``).
"""

from __future__ import annotations

from events.envelope import Envelope
from projections.alerts import centre_alert
from projections.board import Board


def apply_centre(board: Board, ns: str, e: Envelope) -> None:
    p, key = e.payload, f"{ns}centre/{e.aggregate_id}"
    if e.type == "CentreRegistered":
        row = {
            "id": e.aggregate_id, "name": p["name"], "kind": p["kind"], "province": e.province,
            "county": e.county, "capacity": p["capacity"], "occupied": 0, "secret": p["secret"],
            "location": p.get("location"), "sealed_location": p.get("sealed_location"),
            "open": True, "clients": {}, "declined": 0, "admitted": 0, "since": e.occurred_at,
        }
        board.put(key, row)
        return
    old = board.get(key)
    if old is None:
        if not ns:
            return  # an event for a place this board never saw registered: nothing to update
        old = board.get(f"centre/{e.aggregate_id}")
        if old is None:
            return
        old = {**old, "clients": {}, "occupied": 0, "declined": 0, "admitted": 0}
    row = dict(old)
    clients = dict(row["clients"])
    t = e.type
    if t == "CentreCapacityChanged":
        row["capacity"] = p["capacity"]
    elif t == "CentreClosed":
        row["open"] = False
    elif t == "ClientAdmitted":
        clients[p["client"]] = {"since": e.occurred_at, "holding_until": None}
        row["admitted"] = row["admitted"] + 1
    elif t == "AdmissionDeclined":
        row["declined"] = row["declined"] + 1
    elif t == "HoldingPeriodStarted":
        if p["client"] in clients:
            clients[p["client"]] = {**clients[p["client"]], "holding_until": p["ends_at"],
                                    "destination_kind": p["destination_kind"]}
    elif t == "ClientTransferredIn":
        clients[p["client"]] = {"since": e.occurred_at, "holding_until": None, "from": p["from_centre_id"]}
    elif t in ("ClientTransferredOut", "ClientDischarged"):
        clients.pop(p["client"], None)
    row["clients"] = clients
    row["occupied"] = len(clients)
    board.put(key, row)
    centre_alert(board, ns, row, e.occurred_at)
