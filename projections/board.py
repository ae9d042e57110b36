"""The rows every board is made of, and the changes (deltas) an event makes to them.

All boards live in one flat mapping of ``key -> row`` (a row is a JSON-ready dict). The
embedded follower keeps it in a dict, the Faust worker in a Faust table with a changelog,
the auditor's replay in a dict again: the same projection code writes to each. Rows are
replaced, never mutated in place, so a table backend sees every change.

Keys: ``team/<id>``, ``position/<team id>``, ``centre/<id>``, ``incident/<id>``,
``figures/<province>/<local day>``, ``alert/<kind>/<subject>``, and ``applied/<province>``
(the last log position folded in, per province). Drill events write the same keys under
``drill/``. Every kind of key and the fields of its rows: ``projections/rows.py`` (``ROW_KINDS``).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from projections.rows import DRILL, kind_of

__all__ = ["DRILL", "Board", "Row", "boards_equal_view"]

Row = dict[str, Any]


class Board:
    """A mapping of rows that remembers what changed since the changes were last taken."""

    __slots__ = ("changes", "rows")

    def __init__(self, rows: MutableMapping[str, Any] | None = None) -> None:
        self.rows: MutableMapping[str, Any] = {} if rows is None else rows
        self.changes: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.rows.get(key)

    def put(self, key: str, row: Any) -> None:
        self.rows[key] = row
        self.changes[key] = row

    def delete(self, key: str) -> None:
        if key in self.rows:
            del self.rows[key]
            self.changes[key] = None

    def take_changes(self) -> dict[str, Any]:
        """The rows changed since the last call: key -> new row, or None if deleted."""
        changes, self.changes = self.changes, {}
        return changes

    def snapshot(self) -> dict[str, Any]:
        return dict(self.rows.items())


def boards_equal_view(rows: MutableMapping[str, Any], *, telemetry: bool = True) -> dict[str, Any]:
    """The rows to compare between runners: positions from telemetry are left out on request."""
    return {
        k: v
        for k, v in rows.items()
        if telemetry or kind_of(k) != "position/"
    }
