"""The audit replayer: the same projections as the live runners, fed from a stream.

``replay(source, until=...)`` folds the envelopes of the event store's log or of the
``eoc.events`` topic (eoc/audit/sources.py) into a fresh board, up to a moment or a log
position, and returns the rows as they stood then. Nothing here knows what a board means:
``projections.fold`` does, exactly as in the embedded follower and the Faust worker, which
is why a replay to the live position gives the live boards back.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from eoc.audit.sources import KafkaSource, Progress, StoreSource
from events.envelope import Envelope, iso
from events.jalali import describe, format_jalali, iso_utc
from projections import Board, apply, undecodable

Source = StoreSource | KafkaSource


@dataclass
class Replay:
    """The boards rebuilt from a stream, and what went into them."""

    rows: dict[str, Any]
    source: str
    until: datetime | None = None  # the moment asked for (None: the whole stream)
    until_position: int | None = None
    by: str = "recorded"
    events: int = 0  # envelopes folded
    telemetry_points: int = 0  # points of the position track folded
    redelivered: int = 0  # envelopes the fold recognised as already applied (duplicates)
    position: int = 0  # the highest log position folded
    last_recorded_at: str | None = None
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (where, why) not folded
    types: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:

        moment = None
        if self.until is not None:
            moment = {"iso": iso_utc(self.until), "jalali": format_jalali(self.until, seconds=True),
                      "text": describe(self.until), "by": self.by}
        return {
            "source": self.source,
            "moment": moment,
            "until_position": self.until_position,
            "position": self.position,
            "events": self.events,
            "telemetry_points": self.telemetry_points,
            "redelivered": self.redelivered,
            "last_recorded_at": self.last_recorded_at,
            "rejected": [{"where": w, "reason": r} for w, r in self.rejected],
            "types": dict(sorted(self.types.items())),
            "rows": self.rows,
        }


def replay(
    source: Source,
    *,
    until: datetime | None = None,
    by: str = "recorded",
    until_position: int | None = None,
    progress: Progress | None = None,
    lag: timedelta = timedelta(minutes=5),
    board: Board | None = None,
    positions: dict[str, int] | None = None,
    telemetry: dict[str, int] | None = None,
) -> Replay:
    """Fold ``source`` into a board, up to ``until`` (by recording or occurrence time) and/or
    ``until_position`` (a log position); ``board`` continues an earlier replay. ``positions``
    (a board snapshot's ``as_of`` positions) stops each province at its own position, and
    leaves out provinces not named: the snapshot of a runner that folds provinces apart.

    The source's position track (kept position reports, eoc/app/track.py) is folded after
    the log: with ``positions``, each province's points up to its ``telemetry`` mark (none
    when not named); otherwise the points recorded (or taken, ``by="occurred"``) up to
    ``until``, or up to the last event folded when cut at a log position. Team positions
    are the newest by the time they were taken, so the order of the two streams is no matter."""
    if positions is not None:
        until_position = max(positions.values(), default=0)
    board = Board() if board is None else board
    result = Replay(board.rows, source.describe(), until, until_position, by)  # type: ignore[arg-type]
    types = result.types
    def not_an_event(position: int, reason: str) -> None:  # as the follower: a dead letter of no province
        if until is None:  # a row with no moment is cut by position only
            undecodable(board, position, reason)

    def poison(e: Envelope, reason: str) -> None:
        result.rejected.append((f"position {e.position}", reason))

    changes, folded, redelivered = board.changes, 0, 0
    position, last_recorded_at = result.position, result.last_recorded_at
    with fewer_collections():
        for envelope in source.envelopes(until=until, by=by, until_position=until_position,
                                         progress=progress, errors=result.rejected, lag=lag,
                                         undecodable=not_an_event):
            if positions is not None and envelope.position is not None and (
                    envelope.position > positions.get(envelope.province, 0)):
                continue
            if apply(board, envelope, poison):
                folded += 1
                types[envelope.type] = types.get(envelope.type, 0) + 1
            else:
                redelivered += 1
            if envelope.position is not None and envelope.position > position:
                position = envelope.position
            if last_recorded_at is None or envelope.recorded_at > last_recorded_at:
                last_recorded_at = envelope.recorded_at
            changes.clear()  # a replay keeps no deltas
    result.events += folded
    result.redelivered += redelivered
    result.position = position
    result.last_recorded_at = last_recorded_at
    track = getattr(source, "track", None)
    if track is not None:
        _fold_track(board, result, track, until=until, by=by, until_position=until_position,
                    positions=positions, telemetry=telemetry)
    result.rows = dict(board.rows)
    return result


_COLLECTING = threading.Lock()
_collecting: list[tuple[int, int, int]] = []  # the collector's thresholds, once for each replay under way


@contextmanager
def fewer_collections(young: int = 50_000) -> Iterator[None]:
    """While replays run, the cyclic garbage collector looks at young objects every ``young``
    allocations instead of every 700: a replay makes a few dicts an event and keeps a board of
    them, so the default passes (the full ones walking the whole board) cost a sixth of it.
    Objects are still freed by their counts as ever; the thresholds come back when the last
    replay ends."""
    with _COLLECTING:
        if not _collecting:
            thresholds = gc.get_threshold()
            gc.set_threshold(max(thresholds[0], young), *thresholds[1:])
        else:
            thresholds = _collecting[0]
        _collecting.append(thresholds)
    try:
        yield
    finally:
        with _COLLECTING:
            thresholds = _collecting.pop()
            if not _collecting:
                gc.set_threshold(*thresholds)


def _fold_track(board: Board, result: Replay, track: Any, *, until: datetime | None, by: str,
                until_position: int | None, positions: dict[str, int] | None,
                telemetry: dict[str, int] | None) -> None:

    marks = None if positions is None else dict(telemetry or {})
    field = "recorded_at" if by == "recorded" else "occurred_at"
    cut = iso(until) if until is not None else (
        result.last_recorded_at if until_position is not None and marks is None else None)
    if until_position is not None and until is None and marks is None:
        field = "recorded_at"
    last = max(marks.values(), default=0) if marks is not None else None
    if last == 0:
        return
    for point in track.points(until_seq=last):
        if marks is not None and (point.position or 0) > marks.get(point.province, 0):
            continue
        if cut is not None and getattr(point, field) > cut:
            continue
        apply(board, point)
        result.telemetry_points += 1
        if result.last_recorded_at is None or point.recorded_at > result.last_recorded_at:
            result.last_recorded_at = point.recorded_at
    board.changes.clear()


@contextmanager
def progress_bar(total: int | None, description: str, *, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr with the rate and the time left; a no-op when disabled."""
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    class Rate(TextColumn):
        def render(self, task: Any) -> Any:  # events per second, not bytes
            from rich.text import Text

            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} ev/s" if speed else "— ev/s", style="progress.data.speed")

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
               Rate(""), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=False, refresh_per_second=5) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
