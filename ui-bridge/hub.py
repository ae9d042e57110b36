"""The bridge's core: one mirror of the boards, many dashboards grouped by what they may see.

The hub keeps its own copy of the rows (so a snapshot and the sequence number it is
consistent with are always at hand on the loop), merges the feed's changes for one tick,
and at the end of the tick filters them once per view (role, province), serialises them
once per view, and writes the same prebuilt frame to every socket of the view. See
``protocol`` for what a client sees.

When frames leave is the throttle's (``throttle.py``): a leading edge, then a gap that follows
what frames cost, between ``MIN_GAP_S`` (4 ms) and ``tick_s`` (50 ms). A lone command reaches
the dashboards without waiting, and a burst costs at most one frame per gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.connection import broadcast
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from events.policy import sees_secret_counts
from projections import as_of
from projections.visibility import Unseal, secret_counts, visible_row, visible_rows

from . import protocol as p
from .feed import BoardFeed
from .flow import is_backed_up
from .throttle import Throttle

log = logging.getLogger(__name__)

ViewKey = tuple[str, str]  # (role, province)


@dataclass(eq=False)
class Client:
    """One dashboard's socket and where its stream of frames stands."""

    conn: Any  # websockets ServerConnection (or anything with send(), paused (flow.py), protocol.state)
    role: str
    province: str
    user: str = ""  # the signed-in user's pseudonymous id (for the access log)
    session: str | None = None  # the sign-in session (closed when it is revoked)
    sent_seq: int = -1  # seq of the last frame written or queued for it; -1 before its snapshot
    backlog: deque[str] = field(default_factory=deque)
    needs_snapshot: bool = True
    drainer: asyncio.Task[None] | None = None
    overflows: int = 0

    @property
    def view(self) -> ViewKey:
        return (self.role, self.province)

    @property
    def draining(self) -> bool:
        """True while its socket is not keeping up: new frames go to the backlog."""
        return bool(self.backlog) or self.needs_snapshot or is_backed_up(self.conn)


@dataclass(eq=False)
class View:
    role: str
    province: str
    clients: set[Client] = field(default_factory=set)
    rows_json: tuple[int, str] | None = None  # (seq, the visible rows serialised) for snapshots
    rows: dict[str, Any] = field(default_factory=dict)  # the same rows, unserialised
    as_of: dict[str, Any] | None = None  # what those rows are as of (projections.as_of)


@dataclass
class Stats:
    ticks: int = 0
    delta_frames: int = 0  # frames written or queued, all clients together
    snapshots: int = 0
    overflows: int = 0
    heartbeats: int = 0


class Hub:
    def __init__(
        self,
        feed: BoardFeed,
        unseal: Unseal | None = None,
        *,
        tick_s: float = p.TICK_S,
        min_gap_s: float = p.MIN_GAP_S,
        heartbeat_s: float = p.HEARTBEAT_S,
        max_backlog: int = p.MAX_BACKLOG,
        now: Callable[[], str] = p.now_iso,
        clock: Callable[[], dict[str, Any]] | None = None,
        on_read: Callable[[list[Client], dict[str, Any], str], None] | None = None,
    ) -> None:
        self.feed = feed
        self.unseal = unseal
        # Told of every frame's rows as sent to a client (the access log of secret reads).
        self.on_read = on_read
        self.tick_s = tick_s
        self.heartbeat_s = heartbeat_s
        self.max_backlog = max_backlog
        self.now = now
        self.clock = clock  # a simulated clock: {"simulated": True, "rate": R}, told in snapshots
        self.rows: dict[str, Any] = {}
        self.seq = 0
        self.views: dict[ViewKey, View] = {}
        self.stats = Stats()
        self._pending: dict[str, Any] = {}  # key -> newest row (None: deleted) in this tick
        self._before: dict[str, Any] = {}  # key -> the row as clients last saw it (tick start)
        self._ticker: asyncio.Task[None] | None = None  # heartbeats
        self._loop: asyncio.AbstractEventLoop | None = None
        self.throttle = Throttle(self._send_pending, tick_s=tick_s, min_gap_s=min_gap_s,
                                 on_error=lambda: log.exception("bridge tick failed"))

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.seq, rows = await self.feed.start(self._on_changes)
        self.rows = dict(rows)
        self._ticker = asyncio.create_task(self._heartbeat_forever(), name="bridge-heartbeats")

    async def stop(self) -> None:
        await self.feed.stop()
        self.throttle.cancel()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for view in self.views.values():
            for client in view.clients:
                if client.drainer is not None:
                    client.drainer.cancel()

    # ------------------------------------------------------------------ clients

    def add(self, client: Client) -> None:
        view = self.views.get(client.view)
        if view is None:
            view = self.views[client.view] = View(client.role, client.province)
        view.clients.add(client)
        self.resync(client)

    def remove(self, client: Client) -> None:
        view = self.views.get(client.view)
        if view is not None:
            view.clients.discard(client)
            if not view.clients:
                del self.views[client.view]
        if client.drainer is not None and client.drainer is not asyncio.current_task():
            client.drainer.cancel()

    def resync(self, client: Client) -> None:
        """Drop whatever waits for this client; it gets a fresh snapshot next."""
        client.backlog.clear()
        client.needs_snapshot = True
        self._ensure_drainer(client)

    @property
    def clients(self) -> int:
        return sum(len(v.clients) for v in self.views.values())

    # ------------------------------------------------------------------ the feed

    def _on_changes(self, seq: int, changes: dict[str, Any]) -> None:
        if seq <= self.seq:
            return
        for key, row in changes.items():
            if key not in self._before:
                self._before[key] = self.rows.get(key)
            if row is None:
                self.rows.pop(key, None)
            else:
                self.rows[key] = row
            self._pending[key] = row
        self.seq = seq
        self._schedule_flush()

    # ------------------------------------------------------------------ ticks

    def _schedule_flush(self) -> None:
        loop = self._loop
        if loop is not None:
            self.throttle.poke(loop)

    @property
    def gap_s(self) -> float:
        return self.throttle.gap_s

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                self.heartbeat()
            except Exception:  # a failed beat must not stop the next ones
                log.exception("bridge heartbeat failed")

    def flush(self) -> None:
        """Send the changes of this tick now (what a due send does): one serialisation per view,
        one frame per socket."""
        if self._pending:
            self.throttle.run()

    def _send_pending(self) -> None:
        if not self._pending:
            return
        pending, before, seq = self._pending, self._before, self.seq
        self._pending, self._before = {}, {}
        self.stats.ticks += 1
        self._flush(pending, before, seq)

    def _flush(self, pending: dict[str, Any], before: dict[str, Any], seq: int) -> None:
        now = self.now()
        for view in self.views.values():
            changes = self._visible_changes(view, pending, before)
            if not changes:
                continue  # the seq moves on without this view; "prev" tells its clients so
            changes_json = p.dumps(changes)
            groups: dict[int, list[Client]] = {}
            for client in view.clients:
                if client.needs_snapshot or client.sent_seq >= seq:
                    continue  # a snapshot is on its way, or it already holds these rows
                groups.setdefault(client.sent_seq, []).append(client)
            for prev, clients in groups.items():
                self._told(clients, changes, "delta")  # the view's rows read once for all of them
                self._send(clients, p.delta_frame(seq, prev, changes_json, now), seq)

    def _visible_changes(self, view: View, pending: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
        role, province, unseal = view.role, view.province, self.unseal
        out: dict[str, Any] = {}
        for key, row in pending.items():
            seen = visible_row(key, row, role, province, unseal) if row is not None else None
            if seen is not None:
                out[key] = seen
            else:
                old = before.get(key)
                if old is not None and visible_row(key, old, role, province, unseal) is not None:
                    out[key] = None  # it was on this client's board: it is gone now
        if sees_secret_counts(role):  # a secret place changed: its province's count row did
            touched = {("drill/" if k.startswith("drill/") else "", r["province"])
                       for k, r in [*pending.items(), *before.items()]
                       if isinstance(r, dict) and r.get("secret") and "centre/" in k}
            if touched:
                out.update({k: v for k, v in secret_counts(self.rows, touched).items()
                            if province == "IR" or v["province"] == province})
        return out

    def _told(self, clients: list[Client], rows: dict[str, Any], channel: str) -> None:
        """These clients were given these rows (the access log records what they reveal)."""
        if self.on_read is not None:
            try:
                self.on_read(clients, rows, channel)
            except Exception:  # the log's trouble must not stop the board; it is reported
                log.exception("recording a read in the access log failed")

    def heartbeat(self) -> None:
        frame = p.heartbeat_frame(self.seq, self.now()).encode()
        live = [c.conn for v in self.views.values() for c in v.clients if not c.draining and c.sent_seq >= 0]
        broadcast(live, frame, text=True)
        self.stats.heartbeats += 1

    # ------------------------------------------------------------------ writing

    def _send(self, clients: list[Client], frame: str, seq: int) -> None:
        fast = []
        for client in clients:
            client.sent_seq = seq
            if client.draining:
                client.backlog.append(frame)
                if len(client.backlog) > self.max_backlog:
                    # Too far behind to catch up frame by frame: a snapshot replaces it all.
                    client.overflows += 1
                    self.stats.overflows += 1
                    client.backlog.clear()
                    client.needs_snapshot = True
                self._ensure_drainer(client)
            else:
                fast.append(client.conn)
        if fast:
            broadcast(fast, frame.encode(), text=True)
        self.stats.delta_frames += len(clients)

    def _ensure_drainer(self, client: Client) -> None:
        if client.drainer is None or client.drainer.done():
            client.drainer = asyncio.create_task(self._drain(client), name="bridge-drain")

    async def _drain(self, client: Client) -> None:
        """Write a lagging client's frames one by one, waiting for its socket each time."""
        try:
            while client.backlog or client.needs_snapshot:
                if client.conn.protocol.state is not State.OPEN:
                    return
                if client.needs_snapshot:
                    # Taken now, not when it was asked for: it holds everything up to now.
                    client.needs_snapshot = False
                    client.backlog.clear()
                    client.sent_seq = self.seq
                    frame = self.snapshot_frame(client)
                    if self.on_read is not None:
                        view = self.views.get(client.view)
                        self._told([client], visible_rows(self.rows, client.role, client.province, self.unseal)
                                   if view is None else _cached_rows(view), "snapshot")
                else:
                    frame = client.backlog.popleft()
                await client.conn.send(frame)
        except ConnectionClosed:
            pass

    def snapshot_frame(self, client: Client) -> str:
        """The snapshot for a client's view at the current seq (serialised once per view and seq)."""
        self.stats.snapshots += 1
        view = self.views.get(client.view) or View(client.role, client.province)
        if view.rows_json is None or view.rows_json[0] != self.seq:
            rows = visible_rows(self.rows, view.role, view.province, self.unseal)
            view.rows_json = (self.seq, p.dumps(rows))
            view.rows = rows
            view.as_of = as_of(rows)
        return p.snapshot_frame(self.seq, view.role, view.province, self.now(), view.rows_json[1],
                                 self.clock() if self.clock else None, view.as_of)


def _cached_rows(view: View) -> dict[str, Any]:
    return view.rows
