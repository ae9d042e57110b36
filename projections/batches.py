"""Board rows travel in whole batches (دسته): a reader shows a worker's batch all at once or not at all.

A worker folds a batch of events and publishes every row it changed to ``eoc.boards``, on the
partition of the events it folded (a province's rows keep their order), and then one *batch
mark* (key ``~batch/<partition>``). A reader that showed rows as they came could show half a
batch: a team sent but its incident not yet assigned, or the ``as-of/<province>`` row ahead of
the rows it vouches for (an auditor's ``eoc diff --live`` then finds a board no replay makes).
``BatchGate`` holds each partition's rows until their mark and then lets the whole batch
through; rows after the last mark (a worker stopped mid-batch, whose recovery sends the batch
again) are held, not shown.

A mark's key starts with ``~``, which no board row's key does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from projections.rows import BatchMarkRow

BATCH_MARK = "~batch/"


def batch_mark(partition: int) -> str:
    """The key of the mark that ends a batch of ``partition``'s rows."""
    return f"{BATCH_MARK}{partition}"


def batch_mark_row(partition: int, rows: int, offsets: dict[str, int]) -> BatchMarkRow:
    """The mark's value: the partition, how many rows the batch had, and the source offsets
    the worker committed with it."""
    return {"partition": partition, "rows": rows, "offsets": offsets}


def is_mark(key: str) -> bool:
    return key.startswith(BATCH_MARK)


class BatchGate:
    """Rows (key, value or None for a deleted row) in, whole batches out, per partition."""

    def __init__(self) -> None:
        self._held: dict[int, dict[str, Any]] = {}

    def feed(self, partition: int, records: Iterable[tuple[str, Any]]) -> dict[str, Any]:
        """The rows of every batch ``records`` complete, latest value per key (None: deleted)."""
        out: dict[str, Any] = {}
        held = self._held.setdefault(partition, {})
        for key, value in records:
            if is_mark(key):
                out.update(held)
                held.clear()
            else:
                held.pop(key, None)  # a key keeps its place in the order of its last change
                held[key] = value
        return out

    @property
    def held(self) -> int:
        """Rows seen whose batch has not ended yet."""
        return sum(len(rows) for rows in self._held.values())


def apply_changes(rows: dict[str, Any], changes: dict[str, Any]) -> None:
    """Changes (None: deleted) into a dict of rows."""
    for key, value in changes.items():
        if value is None:
            rows.pop(key, None)
        else:
            rows[key] = value
