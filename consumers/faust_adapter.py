"""What the worker (consumers/worker.py) uses of faust-streaming (pinned: 0.15.3) beyond its
documented API, in one place; ``tests/unit/test_adapter_faust.py`` pins each behaviour without a
broker, so that an upgrade that changes one fails there and nowhere else.

- ``rows_of``: a table's rows as its memory store keeps them (``table.data.data``, the dict
  ``table[key] = value`` writes into). Written here, a row gets no changelog record: the worker
  writes its changelog itself, a batch at a time (the worker's docstring says why).
- ``changelog_topic_name``: the topic Faust recovers a table from, where those records go.
- ``owned_partitions``: the partitions of a topic this worker is actively assigned now
  (``app.assignor.assigned_actives()``).
- ``read_again_from``: seek source partitions back, on the consumer's own thread
  (``app.consumer.seek_wait``; aiokafka is not thread-safe).
- ``recovery_progress``: how far the tables' recovery has read each changelog partition
  (``app.tables.recovery``: ``in_recovery``, ``active_offsets``, ``active_highwaters``), for
  the worker's watchdog of a recovery that stalls (faust-streaming issues #155 and #74).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP

PINNED_VERSION = "0.15.3"  # pyproject.toml pins it; the test checks the installed one


def rows_of(table: Any) -> MutableMapping[Any, Any]:
    """The table's rows in its memory store (key -> value): reading and writing them sends nothing."""
    rows: MutableMapping[Any, Any] = table.data.data
    return rows


def changelog_topic_name(table: Any) -> str:
    """The name of the table's changelog topic, the one its recovery reads."""
    name: str = table.changelog_topic.get_topic_name()
    return name


def owned_partitions(app: faust.App, topic: str) -> set[int]:
    """The partitions of ``topic`` actively assigned to this worker (standbys not counted)."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


async def read_again_from(app: faust.App, offsets: Mapping[tuple[str, int], int]) -> None:
    """Make the consumer fetch these (topic, partition)s again from these offsets."""
    await app.consumer.seek_wait({TP(topic, partition): offset for (topic, partition), offset in offsets.items()})


@dataclass(frozen=True)
class RecoveryProgress:
    """The tables' recovery at one moment: whether it is under way, and per changelog
    (topic, partition) the offset read so far and the one it must reach (-1: none yet)."""

    in_recovery: bool
    offsets: dict[tuple[str, int], int]
    highwaters: dict[tuple[str, int], int]

    @property
    def remaining(self) -> int:
        return sum(max(0, high - self.offsets.get(tp, -1)) for tp, high in self.highwaters.items())


def recovery_progress(app: faust.App) -> RecoveryProgress:
    """Read from any thread: the counters are copied whole (one C call each under the GIL)."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]  # TableManager has it; the Protocol does not
    offsets, highwaters = dict(recovery.active_offsets), dict(recovery.active_highwaters)
    return RecoveryProgress(bool(recovery.in_recovery),
                            {(tp.topic, tp.partition): int(o) for tp, o in offsets.items() if o is not None},
                            {(tp.topic, tp.partition): int(h) for tp, h in highwaters.items() if h is not None})
