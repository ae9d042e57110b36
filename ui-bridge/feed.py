"""Where the bridge's rows come from: a snapshot, then changes in order.

A feed is started on the bridge's event loop with a callback; it answers with a snapshot
``(seq, rows)`` and from then on calls the callback, on the loop, with ``(seq, changes)``
for every later sequence number, in order (``changes`` maps a row key to its new row, or
to None for a deleted row). Two feeds exist: the in-process follower (embedded mode) and
the compacted ``eoc.boards`` topic on Kafka (cluster mode, ``kafka_feed``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

OnChanges = Callable[[int, dict[str, Any]], None]


class BoardFeed(Protocol):
    async def start(self, on_changes: OnChanges) -> tuple[int, dict[str, Any]]:
        """Subscribe; return the snapshot. ``on_changes`` gets every later sequence number."""
        ...

    async def stop(self) -> None: ...


class FollowerFeed:
    """The embedded follower's deltas, hopped from its thread onto the bridge's loop."""

    def __init__(self, follower: Any) -> None:
        self.follower = follower
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_changes: OnChanges | None = None
        self._after = 0  # sequence numbers up to this one are in the snapshot already

    async def start(self, on_changes: OnChanges) -> tuple[int, dict[str, Any]]:
        self._loop = asyncio.get_running_loop()
        self._on_changes = on_changes
        # Listen first, then take the snapshot: the follower publishes and snapshots under
        # one lock, so every sequence number is either in the snapshot or delivered after it.
        self.follower.listeners.append(self._listener)
        seq, rows = self.follower.snapshot()
        self._after = seq
        return seq, rows

    async def stop(self) -> None:
        try:
            self.follower.listeners.remove(self._listener)
        except ValueError:
            pass
        self._on_changes = None

    def _listener(self, seq: int, changes: dict[str, Any]) -> None:
        # Called on the follower's thread (or a telemetry thread) while the follower holds
        # its lock: never block here, only hand over to the loop.
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._deliver, seq, changes)
        except RuntimeError:  # the loop closed meanwhile
            pass

    def _deliver(self, seq: int, changes: dict[str, Any]) -> None:
        if self._on_changes is None or seq <= self._after:
            return
        self._after = seq
        self._on_changes(seq, changes)
