"""What may leave the service for a partner organization (سازمان همکار).

The same visibility policy as every other channel (projections/visibility.py) for the
viewer's role and province, and then stricter: a safe or health house, and any alert about
one, never leaves in any export, for any role — not even as a count.
"""

from __future__ import annotations

from typing import Any

from projections.visibility import visible_rows

# Roles that may read the outbound feed: partners, and the service's own overseers.
FEED_READERS = frozenset({"partner", "provincial_supervisor", "national_eoc"})


def is_secret(row: Any) -> bool:
    return isinstance(row, dict) and bool(row.get("secret"))


def exportable_rows(rows: dict[str, Any], role: str, province: str) -> dict[str, Any]:
    """The board rows that may leave for this viewer: visible to them, live (not drills), no secret place."""
    seen = visible_rows(rows, role, province, None)
    return {k: v for k, v in seen.items() if not k.startswith("drill/") and not is_secret(v)}
