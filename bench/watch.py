"""A dashboard as the suite sees it: one light websocket client that times what reaches the board.

Built on the fan-out benchmark's raw websocket client (``bench.fanout.Light``: the handshake,
frame reading and ping answers), it parses every frame and keeps two clocks:

* **commands** — every stored command's answer carries the log position of its last event;
  every board carries ``applied/<province>``, the last log position folded for the province.
  A command's effect is on the dashboard when a frame brings ``applied/<province>`` at or past
  its position, so "command to board" is the time from sending the command (the request going
  on the wire) to reading that frame. A frame can come before the command's answer (the answer
  is slower than the board): the watcher keeps the arrival time of each province's recent
  frames, and when the answer tells the position, the first frame at or past it is matched
  with its real arrival time (counted as ``before_answer``).
* **positions** — a position row carries the time the team reported it (``at``, stamped by the
  load generator on the same clock). A report's *time to the map* is from the moment it was
  taken to the first frame that shows the team at that position or a newer one
  (``time_to_map``): a report the system only thins away counts until a newer one is shown,
  so a map that moves once in 30 s reads as 30 s stale, not as its first report's latency.

The lag of the boards behind the store is what is still waiting: commands answered (so
committed: the store's head has passed them) whose effect no frame has brought yet. It is
sampled as a count and as the age (since it was sent) of the oldest one.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import json
import time
from datetime import datetime

from .fanout import Light

KEEP_FRAMES = 50_000  # per province: the arrivals a late answer can still be matched against


class BoardWatcher(Light):
    """A national EOC dashboard (it sees every province) that times commands and positions."""

    def __init__(self) -> None:
        super().__init__(True, None, None)
        self.applied: dict[str, int] = {}
        self._waiting: dict[str, list[tuple[int, float]]] = {}  # (position, sent at), per province
        # Each province's frames that moved ``applied``: positions (ascending) and arrival times.
        self._frames: dict[str, tuple[list[int], list[float]]] = {}
        self._unkept: dict[str, int] = {}  # positions at or below: no arrival kept (snapshot, old frames)
        self.latencies_ms: list[float] | None = None  # set to a list to record
        self.shown: dict[str, list[tuple[float, float]]] | None = None  # team -> (at, arrival) when recording
        self.before_answer = 0  # matched with a frame that came before the command's answer
        self.unmatched = 0  # answered past frames no longer kept (never in a sane run)
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

    def expect(self, province: str, position: int, sent_at: float) -> None:
        """A command sent at ``sent_at`` (perf_counter) was answered with this log position."""
        if self.applied.get(province, 0) >= position:
            # Its frame came before the answer: the first frame at or past the position.
            positions, arrivals = self._frames.get(province, ([], []))
            i = bisect.bisect_left(positions, position)
            if i == len(positions) or position <= self._unkept.get(province, 0):
                self.unmatched += 1
                return
            self.before_answer += 1
            self._record(arrivals[i] - sent_at)
            return
        heapq.heappush(self._waiting.setdefault(province, []), (position, sent_at))

    def _record(self, seconds: float) -> None:
        if self.latencies_ms is not None:
            self.latencies_ms.append(round(seconds * 1000, 3))

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
                    self._unkept[key[8:]] = self.applied[key[8:]]
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
                if self.shown is not None:
                    self.shown.setdefault(key[9:], []).append((datetime.fromisoformat(row["at"]).timestamp(), wall))

    def _applied(self, province: str, position: int, arrived: float) -> None:
        if position <= self.applied.get(province, 0):
            return
        self.applied[province] = position
        positions, arrivals = self._frames.setdefault(province, ([], []))
        positions.append(position)
        arrivals.append(arrived)
        if len(positions) > 2 * KEEP_FRAMES:
            self._unkept[province] = positions[KEEP_FRAMES - 1]
            del positions[:KEEP_FRAMES], arrivals[:KEEP_FRAMES]
        waiting = self._waiting.get(province)
        while waiting and waiting[0][0] <= position:
            _, sent_at = heapq.heappop(waiting)
            self._record(arrived - sent_at)


def time_to_map(sent: dict[str, list[float]], shown: dict[str, list[tuple[float, float]]],
                until: float) -> tuple[list[float], int]:
    """Each report's time to the map, in ms: from the moment it was taken (``sent``: team ->
    its reports' moments) to the first frame showing the team at it or a newer position
    (``shown``: team -> (position's moment, arrival), wall clock). A report no frame caught up
    with by ``until`` counts ``until`` minus its moment (a lower bound); how many: the second
    value."""
    out: list[float] = []
    never = 0
    for team, moments in sent.items():
        frames = sorted(shown.get(team, ()), key=lambda f: f[1])
        newest: list[float] = []  # the newest position shown by each arrival
        for at, _ in frames:
            newest.append(max(at, newest[-1]) if newest else at)
        for t in moments:
            i = bisect.bisect_left(newest, t - 1e-3)  # moments travel as whole milliseconds
            if i < len(frames):
                out.append((frames[i][1] - t) * 1000)
            else:
                out.append((until - t) * 1000)
                never += 1
    return out, never
