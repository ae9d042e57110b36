"""The bridge's throttle: when the pending changes leave as one frame.

Leading edge: a change that comes when the last frame left a gap ago or more is sent at once
(on the loop's next turn, so the changes already queued with it share its frame); changes that
come sooner wait for the end of that gap and go out together. The gap follows what frames
cost: ``FLUSH_SHARE`` times the time the last send took (filtering, serialising, writing to
every socket), between ``min_gap_s`` and ``tick_s``. So a few dashboards get a change within
milliseconds, and a thousand under a burst get fewer, larger frames, with the loop spending at
most about 1/FLUSH_SHARE of its time on them.

The hub sends with it; the benchmarks' bare servers (``bench.floor``, ``bench.fanout``) send
with the same one, so a baseline sends as many frames as the bridge would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from . import protocol as p


class Throttle:
    def __init__(self, send: Callable[[], None], *, tick_s: float = p.TICK_S, min_gap_s: float = p.MIN_GAP_S,
                 on_error: Callable[[], None] | None = None) -> None:
        self.send = send
        self.tick_s = tick_s
        self.min_gap_s = min(min_gap_s, tick_s)
        self.gap_s = self.min_gap_s  # the present gap: what the last send cost
        self.on_error = on_error  # a send that raised on the loop (the hub logs it and goes on)
        self.due: asyncio.Handle | None = None  # the send of the pending changes, once scheduled
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last = float("-inf")  # loop time the last frame left

    def poke(self, loop: asyncio.AbstractEventLoop) -> None:
        """Something is pending: send on the leading edge, or at the end of the gap."""
        if self.due is not None or loop.is_closed():
            return  # a send is due already and will carry it too
        self._loop = loop
        self.due = loop.call_later(max(0.0, self._last + self.gap_s - loop.time()), self._due)

    def _due(self) -> None:
        self.due = None
        try:
            self.run()
        except Exception:
            if self.on_error is None:
                raise
            self.on_error()

    def run(self) -> None:
        """Send now (a due send, or the owner's own), and set the next gap by what it cost."""
        if self._loop is not None:
            self._last = self._loop.time()
        started = time.perf_counter()
        try:
            self.send()
        finally:
            self.gap_s = min(self.tick_s, max(self.min_gap_s, p.FLUSH_SHARE * (time.perf_counter() - started)))

    def cancel(self) -> None:
        if self.due is not None:
            self.due.cancel()
            self.due = None
