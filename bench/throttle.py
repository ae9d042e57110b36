"""The bridge's throttle (ui-bridge/hub.py) for the baselines' bare servers: pending rows leave
in one frame at once when the last frame left a gap ago, else at the gap's end; the gap is
FLUSH_SHARE times what the last frame cost, between MIN_GAP_S and the tick. So a baseline
sends as many frames as the bridge would, and only the product's own work differs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ui_bridge import protocol as p


class Throttle:
    def __init__(self, loop: asyncio.AbstractEventLoop, send: Callable[[], None], tick_s: float = p.TICK_S) -> None:
        self.loop, self.send, self.tick_s = loop, send, tick_s
        self.gap_s = p.MIN_GAP_S
        self._last = float("-inf")
        self._due: asyncio.Handle | None = None

    def poke(self) -> None:
        """Something is pending: send it on the leading edge, or at the end of the gap."""
        if self._due is None:
            self._due = self.loop.call_later(max(0.0, self._last + self.gap_s - self.loop.time()), self._flush)

    def _flush(self) -> None:
        self._due, self._last = None, self.loop.time()
        started = time.perf_counter()
        self.send()
        self.gap_s = min(self.tick_s, max(p.MIN_GAP_S, p.FLUSH_SHARE * (time.perf_counter() - started)))

    def cancel(self) -> None:
        if self._due is not None:
            self._due.cancel()
            self._due = None
