"""Who may see which rows: province scope, secret places, and clients' pseudonymous ids.

Every channel that shows boards (API, websocket, exports) passes rows through
``visible_row`` for the viewer's role and province. Pure functions of the row: a delta and a
snapshot of the same row are filtered the same way.

What keeps a safe or health house's place secret: it is stored sealed (events/sealing.py),
its row carries no location or county for other roles, and no other row points at it —
mobile teams bring clients to intervention centres, never to a house; the move from the
centre to a house is a transfer done by the centre's staff, recorded without coordinates.
The raw rows on the cluster's board topic still hold sealed locations and client ids: that
topic is for the bridge only (docs/cluster.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from events.policy import (
    SMALL_CELL,
    may_see_calls,
    may_see_client_ids,
    may_see_danger_flags,
    may_see_secret,
    sees_secret_counts,
)
from projections.rows import DRILL, SeenCentreRow, kind_of

# Opens a secret place's sealed location (the edge passes one that reads the keyring).
Unseal = Callable[[str, str], dict[str, float] | None]

NATIONAL = "IR"
# Who sees what is decided by the one policy table (events/policy.py). The national EOC and
# auditors see secret places only as per-province counts (rows "secret_places/<province>"),
# with provinces of fewer than SMALL_CELL places suppressed.
SECRET_COUNTS = "secret_places/"

# Who reads why an event could not be folded (the alert that there is one is for everyone).
DEAD_LETTER_READERS = frozenset({"provincial_supervisor", "national_eoc", "auditor"})

SECRET_NAME = {"safe_house": "Safe house (secret) · خانه امن", "health_house": "Health house (secret) · خانه سلامت"}


def row_province(key: str, row: Any) -> str | None:
    if isinstance(row, dict) and "province" in row:
        return cast(str | None, row["province"])
    if kind_of(key) == "applied/":
        return key.split("/", 1)[1]
    return None


def visible_row(key: str, row: Any, role: str, viewer_province: str, unseal: Unseal | None = None) -> Any | None:
    """The row as this viewer may see it, or None if it is not theirs to see at all."""
    if row is None:
        return None
    province = row_province(key, row)
    if viewer_province != NATIONAL and province != viewer_province:
        return None
    kind = kind_of(key)  # a key of no kind (projections/rows.py) is shown as it is
    if kind == "refseq/":
        return None  # counters of the short references: nobody's business
    if kind == "danger/":
        return row if may_see_danger_flags(role) else None
    if kind in ("call/", "caller/", "follow_up/"):
        return row if may_see_calls(role) else None
    if kind in ("harm/", "harm/*/"):
        return None  # the emerging-harm detector's own series (projections/emerging.py): not a screen's board
    if kind == "deadletter/" and role not in DEAD_LETTER_READERS:
        return None
    if kind in ("period-figures/", "figures-days/"):
        return None  # older days' figures are for reports, not for the live dashboards
    if kind == "centre/":
        if row.get("secret") and sees_secret_counts(role):
            return None  # counted in its province's secret_places row, never shown one by one
        return _centre(row, role, viewer_province, unseal)
    if kind == "secret_places/":
        return row if sees_secret_counts(role) else None
    alert = key.removeprefix(DRILL).startswith("alert/")  # of a kind in ROW_KINDS or not: secrecy never rests on it
    if alert and row.get("secret") and sees_secret_counts(role):
        return None  # an alert names one place: the nation sees only counts
    if alert and row.get("secret") and not may_see_secret(role, viewer_province, cast(str, province)):
        return {k: v for k, v in row.items() if k not in ("county",)} | {"county": None}
    return row


def _centre(row: dict[str, Any], role: str, viewer_province: str, unseal: Unseal | None) -> SeenCentreRow:
    """A centre as this viewer receives it (its type: projections/rows.py, SeenCentreRow)."""
    if row["secret"] and not may_see_secret(role, viewer_province, row["province"]):
        return {
            "id": row["id"], "kind": row["kind"], "province": row["province"], "county": None,
            "name": SECRET_NAME.get(row["kind"], "Secret place"), "secret": True,
            "capacity": row["capacity"], "occupied": row["occupied"], "open": row["open"],
            "declined": row["declined"], "admitted": row["admitted"], "location": None,
            "clients": _anonymous(row["clients"]),
        }
    out = {k: v for k, v in row.items() if k != "sealed_location"}
    if row["secret"] and unseal is not None and row.get("sealed_location"):
        out["location"] = unseal(row["id"], row["sealed_location"])
    if not may_see_client_ids(role, viewer_province, row["province"]):
        out["clients"] = _anonymous(row["clients"])
    return cast(SeenCentreRow, out)


def _anonymous(clients: dict[str, Any]) -> dict[str, Any]:
    """Stays without the ids: still enough to count holding periods and transfers due."""
    stays = sorted((c.get("since", ""), c.get("holding_until") or "") for c in clients.values())
    return {f"#{i + 1}": {"since": s, "holding_until": h or None} for i, (s, h) in enumerate(stays)}


def visible_rows(
    rows: dict[str, Any], role: str, viewer_province: str, unseal: Unseal | None = None
) -> dict[str, Any]:
    out = {}
    for key, row in rows.items():
        seen = visible_row(key, row, role, viewer_province, unseal)
        if seen is not None:
            out[key] = seen
    if sees_secret_counts(role):
        out.update({k: v for k, v in secret_counts(rows).items()
                    if viewer_province == NATIONAL or v["province"] == viewer_province})
    return out


def secret_counts(rows: dict[str, Any], provinces: set[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Per province (live and drill apart): how many secret places, their capacity and
    occupancy — or only that the figure is suppressed when there are fewer than SMALL_CELL.
    ``provinces`` limits the work to these (namespace, province) pairs (a tick's changes)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for key, row in rows.items():
        ns = DRILL if key.startswith(DRILL) else ""
        if kind_of(key) != "centre/" or not isinstance(row, dict) or not row.get("secret"):
            continue
        group = (ns, row["province"])
        if provinces is None or group in provinces:
            groups.setdefault(group, []).append(row)
    out: dict[str, Any] = {}
    for (ns, province), places in groups.items():
        counts: dict[str, Any] = {"province": province, "places": None, "capacity": None, "occupied": None,
                                  "suppressed": len(places) < SMALL_CELL}
        if len(places) >= SMALL_CELL:
            counts.update(places=len(places), capacity=sum(p["capacity"] for p in places if p["open"]),
                       occupied=sum(p["occupied"] for p in places))
        out[f"{ns}{SECRET_COUNTS}{province}"] = counts
    return out
