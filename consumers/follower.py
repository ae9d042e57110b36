"""The embedded follower: folds the event store's ordered log into the boards, live.

The writer hands it each batch's stored rows right after the commit, and it folds them there,
on the writer's thread (``on_commit``: one thread hop less between a command and the boards,
and no read back). Anything that did not come that way (a writer in another process, a start
after a crash) its own thread reads from the notifications after its position, in batches.
Either way it hands the changed rows to its listeners (the websocket bridge, the terminal
board) with a sequence number.
It saves a checkpoint (its position and the rows) so that after a restart it catches up
from where it was instead of from the beginning.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eoc.audit.stored import StoredDecoder
from events.envelope import Envelope, compact_json
from projections import Board, apply, as_of, reason_of, undecodable

log = logging.getLogger(__name__)

Listener = Callable[[int, dict[str, Any]], None]  # (sequence number, changed rows)


class FileCheckpoint:
    """Position and rows in one JSON file, replaced atomically."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> tuple[int, dict[str, Any]] | None:
        try:
            data = json.loads(self.path.read_bytes())  # UTF-8 whatever the locale
        except FileNotFoundError:
            return None
        return int(data["position"]), data["rows"]

    def save(self, position: int, rows: dict[str, Any]) -> None:
        # Every board row, every few seconds: orjson writes it several times faster (compact_json).
        text = compact_json({"position": position, "rows": rows})
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(text)
        os.replace(tmp, self.path)


class Follower:
    """Applies the projections to the application's log as events are written."""

    def __init__(
        self,
        app: Any,
        *,
        checkpoint: FileCheckpoint | None = None,
        track: Any = None,
        batch_size: int = 1000,
        checkpoint_every_s: float = 5.0,
        idle_wait_s: float = 1.0,
    ) -> None:
        self.app = app
        # Stored rows straight to envelopes (eoc/audit/stored.py), as a replay reads them: the
        # live boards and a replay decode alike, without the domain events' round trip.
        self._decode = StoredDecoder(app.mapper, remember=10_000).envelope
        self.checkpoint = checkpoint
        self.track = track  # eoc.app.track.PositionTrack: kept position reports (None: not kept)
        self.batch_size = batch_size
        self.checkpoint_every_s = checkpoint_every_s
        # Only a safety net for a writer in another process: in one process every commit is
        # folded by the writer or wakes the follower at once.
        self.idle_wait_s = idle_wait_s
        self.board = Board()
        self.position = 0  # last notification id folded
        self.sequence = 0  # last delta sequence number handed to listeners
        self.listeners: list[Listener] = []
        self.applied = 0
        self.duplicates = 0
        self.dead_letters = 0  # stored events that could not be folded (rows deadletter/...)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.RLock()  # guards the board: telemetry arrives on other threads
        self._progress = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._last_checkpoint = time.monotonic()
        if checkpoint is not None:
            saved = checkpoint.load()
            if saved is not None:
                self.position, rows = saved
                self.board = Board(rows)
        # Folded on the writer's commit (``on_commit``); the follower's thread reads the store
        # only for what that did not fold.
        app.committed_listeners.append(self.on_commit)

    # ------------------------------------------------------------------ running

    def wake(self, _position: int | None = None) -> None:
        self._wake.set()

    def start(self) -> Follower:
        newest = self.app.recorder.max_notification_id() or 0
        if self.position > newest:
            # The checkpoint is ahead of the store (a store replaced or reset): it describes
            # a history that is not there, so fold this store from its beginning.
            log.warning("board checkpoint at %s is ahead of the store (%s): rebuilding", self.position, newest)
            self.position, self.board = 0, Board()
        self.catch_up()
        self._catch_up_track()
        self._thread = threading.Thread(target=self._run, name="eoc-follower", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.save_checkpoint()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=self.idle_wait_s)
            self._wake.clear()
            try:
                self.catch_up()
            except Exception:  # a follower must not die: log, and try again on the next wake
                log.exception("follower failed to catch up at position %s", self.position)
                time.sleep(0.5)
            if time.monotonic() - self._last_checkpoint > self.checkpoint_every_s:
                self.save_checkpoint()

    def catch_up(self) -> int:
        """Fold everything after the current position. Returns how many events were read."""
        total = 0
        recorder, decode = self.app.recorder, self._decode
        while True:
            notifications = recorder.select_notifications(
                start=self.position, limit=self.batch_size, inclusive_of_start=False
            )
            if not notifications:
                return total
            with self._lock:
                self._fold(notifications, decode)
            total += len(notifications)
            if len(notifications) < self.batch_size:
                return total

    def on_commit(self, recordings: list[Any]) -> None:
        """Told by the writer, on its thread, right after a commit: the batch's stored rows are
        folded at once — no wake-up of the follower's thread, no read back from the store — when
        they come next after what is folded. Otherwise (the follower is not started or is behind,
        another process wrote between) the follower's thread reads the store as before. The rows
        are the very ones stored (the library's ``Recording.notification``: state, topic and
        position as written), decoded as a replay decodes them."""
        notifications = [r.notification for r in recordings]
        if notifications and self._thread is not None and not self._stop.is_set():
            with self._lock:
                if notifications[0].id == self.position + 1:
                    try:
                        self._fold(notifications, self._decode)
                    except Exception:  # the follower's thread goes on from where this stopped
                        log.exception("folding a commit failed at position %s", self.position)
                    else:
                        return
        self._wake.set()

    def _fold(self, notifications: list[Any], decode: Callable[[Any], Envelope]) -> None:
        """Fold stored rows in their order (under the lock), skipping what is folded already,
        and hand the changes to the listeners."""
        for n in notifications:
            if n.id <= self.position:  # folded on the writer's commit while this batch was read
                continue
            # Never stuck on one stored event: one that cannot be read or folded
            # becomes a dead letter on the board, and the next one folds on.
            try:
                envelope = decode(n)
            except Exception as exc:
                self._dead_letter_at(n.id, reason_of(exc))
                undecodable(self.board, n.id, reason_of(exc))
                self.position = n.id
                continue
            if apply(self.board, envelope, self._dead_letter):
                self.applied += 1
            else:
                self.duplicates += 1
            self.position = n.id
        self._publish()
        self._progress.notify_all()

    def _dead_letter(self, envelope: Envelope, reason: str) -> None:
        self._dead_letter_at(envelope.position, f"{envelope.type}: {reason}")

    def _dead_letter_at(self, position: int | None, reason: str) -> None:
        self.dead_letters += 1
        log.error("dead letter at log position %s: %s", position, reason)

    def apply_telemetry(self, envelope: Envelope) -> Envelope:
        """A position report kept by the command service's thinning: kept in the position
        track, then folded at once, not through the log. Both under the board's lock, so
        the boards never show a track point after one that is not yet folded."""
        return self.apply_telemetry_many([envelope])[0]

    def apply_telemetry_many(self, envelopes: list[Envelope], shown: Sequence[Envelope] = ()) -> list[Envelope]:
        """A batch of position reports, as ``apply_telemetry``: the kept ones in the track in
        one transaction, folded in their order, then the ones only shown (not kept: the live
        map's, eoc/app/track.py), and all of it in one delta."""
        with self._lock:
            if self.track is not None and envelopes:
                envelopes = self.track.append_many(envelopes)
            for envelope in envelopes:
                apply(self.board, envelope)
            for envelope in shown:
                apply(self.board, envelope)
            self._publish()
        return envelopes  # with their places in the track

    def _catch_up_track(self) -> None:
        """After a restart: the track points kept after the board's checkpoint was saved."""
        if self.track is None:
            return

        with self._lock:
            # Points are kept and folded one at a time under this lock, in track order: every
            # point up to the highest mark was folded, and none after it.
            marks = as_of(self.board.rows)["telemetry"]
            for point in self.track.points(after=max(marks.values(), default=0)):
                apply(self.board, point)
            self._publish()

    def _publish(self) -> None:
        changes = self.board.take_changes()
        if not changes:
            return
        self.sequence += 1
        for listener in list(self.listeners):
            try:
                listener(self.sequence, changes)
            except Exception:
                log.exception("a board listener failed; the follower goes on")

    # ------------------------------------------------------------------ reading

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Block until the log is folded up to ``position`` (tests, benchmarks): True, or
        ``TimeoutError`` naming both positions when it is not folded within ``timeout`` seconds
        (a caller that forgets to check cannot read a board that is behind as if it were not)."""
        self.wake()
        deadline = time.monotonic() + timeout
        with self._progress:
            while self.position < position:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the follower folded the log to {self.position}, not to {position}, "
                                       f"within {timeout:g} s")
                self._progress.wait(left)
        return True

    def snapshot(self) -> tuple[int, dict[str, Any]]:
        """The sequence number and a copy of all rows, consistent with each other."""
        with self._lock:
            return self.sequence, self.board.snapshot()

    def save_checkpoint(self) -> None:
        if self.checkpoint is None:
            return
        with self._lock:
            position, rows = self.position, self.board.snapshot()
        self.checkpoint.save(position, rows)
        self._last_checkpoint = time.monotonic()
