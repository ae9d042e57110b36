"""A dashboard as the suite sees it: one light websocket client that times what reaches the board.

Built on the fan-out benchmark's raw websocket client (``bench.fanout.Light``: the handshake,
frame reading and ping answers), it parses every frame and keeps two clocks:

* **commands** — every stored command's answer carries the log position of its last event;
  every board carries ``applied/<province>``, the last log position folded for the province.
  A command's effect is on the dashboard when a frame brings ``applied/<province>`` at or past
  its position, so "command to board" is the time from reading the answer to reading that
  frame. If the frame came first (the answer was slower than the tick), the latency is 0 and
  counted as ``before_answer``.
* **positions** — a position row carries the time the team reported it (``at``, stamped by the
  load generator on the same clock); its staleness is arrival time minus ``at``.

The lag of the boards behind the store is what is still waiting: commands answered (so
committed: the store's head has passed them) whose effect no frame has brought yet. It is
sampled as a count and as the age of the oldest one.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import time
from datetime import datetime

from .fanout import Light, _masked


class BoardWatcher(Light):
    """A national EOC dashboard (it sees every province) that times commands and positions."""

    def __init__(self) -> None:
        super().__init__(True, None, None)
        self.applied: dict[str, int] = {}
        self._waiting: dict[str, list[tuple[int, float]]] = {}
        self.latencies_ms: list[float] | None = None  # set to a list to record
        self.staleness_ms: list[float] | None = None
        self.before_answer = 0
        self.frames_seen = 0
        self.bytes_seen = 0
        self.position_rows = 0
        self.closed = asyncio.Event()

    async def connect(self, port: int, token: str, *, timeout: float = 60.0) -> BoardWatcher:
        self.task = asyncio.create_task(self._run(port, token))
        await asyncio.wait_for(self.snapshot.wait(), timeout)
        return self

    async def _run(self, port: int, token: str) -> None:
        try:
            await self.run(port, token)
        finally:
            self.closed.set()

    def close(self) -> None:
        super().close()
        task = getattr(self, "task", None)
        if task is not None and not task.done():
            task.cancel()

    # ------------------------------------------------------------------ commands

    def expect(self, province: str, position: int, answered_at: float) -> None:
        """A command was answered at ``answered_at`` (perf_counter) with this log position."""
        if self.applied.get(province, 0) >= position:
            self.before_answer += 1
            if self.latencies_ms is not None:
                self.latencies_ms.append(0.0)
            return
        heapq.heappush(self._waiting.setdefault(province, []), (position, answered_at))

    def lag(self) -> tuple[int, float]:
        """(commands answered but not yet on the board, age in ms of the oldest of them)."""
        now = time.perf_counter()
        count = sum(len(h) for h in self._waiting.values())
        oldest = min((h[0][1] for h in self._waiting.values() if h), default=now)
        return count, (now - oldest) * 1000

    def forget_waiting(self) -> None:
        self._waiting.clear()

    # ------------------------------------------------------------------ frames

    def on_text(self, payload: bytes) -> None:
        arrived, wall = time.perf_counter(), time.time()
        frame = json.loads(payload)
        kind = frame.get("type")
        if kind == "snapshot":
            for key, row in frame["rows"].items():
                if key.startswith("applied/") and isinstance(row, int):
                    self.applied[key[8:]] = max(row, self.applied.get(key[8:], 0))
            self.snapshot.set()
            return
        if kind != "delta":
            return
        self.frames_seen += 1
        self.bytes_seen += len(payload)
        for key, row in frame["changes"].items():
            if key.startswith("applied/"):
                if isinstance(row, int):
                    self._applied(key[8:], row, arrived)
            elif key.startswith("position/") and row:
                self.position_rows += 1
                if self.staleness_ms is not None:
                    self.staleness_ms.append((wall - datetime.fromisoformat(row["at"]).timestamp()) * 1000)

    def _applied(self, province: str, position: int, arrived: float) -> None:
        if position <= self.applied.get(province, 0):
            return
        self.applied[province] = position
        waiting = self._waiting.get(province)
        record = self.latencies_ms
        while waiting and waiting[0][0] <= position:
            _, answered_at = heapq.heappop(waiting)
            if record is not None:
                record.append((arrived - answered_at) * 1000)


class EchoClient(Light):
    """A websocket echo round trip on the floor server (``bench.floor``), for the baseline."""

    def __init__(self) -> None:
        super().__init__(True, None, None)
        self._reply: asyncio.Future[bytes] | None = None

    async def connect(self, port: int) -> EchoClient:
        # The floor echoes on any path that names "echo"; Light puts the token in the query.
        self.task = asyncio.create_task(self.run(port, "echo"))
        for _ in range(500):
            if getattr(self, "writer", None) is not None:
                return self
            await asyncio.sleep(0.01)
        raise TimeoutError("the echo server did not answer the handshake")

    def on_text(self, payload: bytes) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_result(payload)

    def close(self) -> None:
        super().close()
        if not self.task.done():
            self.task.cancel()

    async def echo(self, payload: bytes = b'{"ping":1}') -> float:
        """One round trip, in ms."""
        self._reply = asyncio.get_running_loop().create_future()
        t = time.perf_counter()
        self.writer.write(_masked(0x81, payload))
        await self._reply
        return (time.perf_counter() - t) * 1000
