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
- ``take_batches``: ``Stream.take_events`` whose window opens at a batch's first event, and
  only while the stream is busy (the stream's buffering processor, passive consumption and
  acks, as ``take_events`` uses them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP
from mode.utils.futures import notify

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


def take_batches(stream: Any, max_: int, within: float) -> AsyncIterator[Sequence[Any]]:
    """The stream's events a batch at a time: a batch is given when ``max_`` events wait, or
    ``within`` seconds after its first event came — or at once, with what waits, when the last
    batch ended at least ``within`` before (a leading edge); nothing wakes while no event waits.

    ``Stream.take_events(max_, within)`` (faust-streaming 0.15.3, BSD licence), with one change.
    Its window is a timed wait in a loop, so it wakes every ``within`` seconds whether or not an
    event came: at the worker's 2 ms, 500 times a second, each wake-up a few tasks of ``mode``'s
    ``wait``, an eighth of a core of this machine with no event at all, and on a machine of two
    cores, time the API and the relay do not get. Here the loop first waits, without a timeout,
    for the buffer's first event; then, as before, for a full buffer or the window's end. The
    rest is ``take_events``: the same buffering processor on passive consumption, at most
    ``max_`` events a batch, and every event acked once its batch has been handled.

    The leading edge (لبهٔ پیشرو), as the bridge's flush has one: the window gathers the events
    of a busy stream into one batch (one commit, one flush for many events), but an event that
    comes after a quiet spell has nothing to wait for, and at a command every 10 ms each batch
    is one command's events, so the window only added its 2 ms to every command's way to the
    board. While events keep coming (the last batch ended less than ``within`` ago) the window
    applies as before."""
    events: list[Any] = []
    started = asyncio.Event()  # the buffer has an event: the batch's window is open
    full = asyncio.Event()
    consumed = asyncio.Event()
    consuming: asyncio.Future[None] | None = None  # set while the caller handles a batch
    enable_acks = stream.enable_acks

    async def add_to_buffer(value: Any) -> Any:
        nonlocal consuming
        try:
            if consuming is not None:  # wait until the batch being handled is acked
                try:
                    await consuming
                finally:
                    consuming = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("Take buffer found current_event is None")
            events.append(event)
            started.set()
            if len(events) >= max_:
                full.set()
                consumed.clear()
                await stream.wait(consumed)  # no more than max_ in a batch
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stream.log.exception("Error adding to take buffer: %r", exc)
            await stream.crash(exc)
        return value

    async def batches() -> AsyncIterator[Sequence[Any]]:
        nonlocal consuming
        stream.enable_acks = False  # acked here, once the caller has handled the batch
        stream.add_processor(add_to_buffer)
        stream._enable_passive(aiter(stream.channel))  # as take_events does
        clock = stream.loop.time
        ended = clock() - within  # when the last batch was handled (none yet: long enough ago)
        try:
            while not stream.should_stop:
                if not events and await stream.wait_for_stopped(started):
                    break  # the stream stopped while nothing waited
                if clock() - ended < within:  # busy: gather the window's events into this batch
                    await stream.wait_for_stopped(full, timeout=within)
                if events:
                    consuming = stream.loop.create_future()
                    batch = list(events)
                    try:
                        yield batch
                    finally:
                        events.clear()
                        for event in batch:
                            await stream.ack(event)
                        notify(consuming)
                        started.clear()
                        full.clear()
                        consumed.set()
                        ended = clock()
        finally:
            stream.enable_acks = enable_acks
            stream._processors.remove(add_to_buffer)

    agen = batches()
    stream._active_agens.add(agen)  # closed by the stream when it stops (as take_events' are)
    return agen
