"""Pins what consumers/faust_adapter.py relies on in faust-streaming, without a broker: the
worker's app is built as ``create_app`` builds it (memory store) and never started, so an
upgrade that changes one of these fails here and not in a cluster test."""

from __future__ import annotations

import asyncio
import inspect
import json
import weakref

import faust.streams
import pytest
from faust.assignor.client_assignment import ClientAssignment
from faust.types import TP

from consumers import faust_adapter
from consumers.topics import Layout
from consumers.worker import _json, create_app
from tests.support.pins import assert_pinned


@pytest.fixture
def worker(tmp_path):
    layout = Layout(prefix="pin-")
    app, processor = create_app("127.0.0.1:1", layout, datadir=str(tmp_path / "faust"))  # never connects
    return app, processor, layout


class _Message:
    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, partition


class _Event:
    """What a table asks of the stream's current event when it is written: its source partition."""

    def __init__(self, topic: str, partition: int) -> None:
        self.message = _Message(topic, partition)


def test_the_installed_library_is_the_pinned_one():
    assert_pinned("faust-streaming", faust_adapter.PINNED_VERSION)


def test_a_table_write_lands_in_the_rows_and_its_changelog_record_is_the_one_the_worker_writes(worker):
    app, processor, layout = worker
    board = processor.board_table
    row = {"kind": "incident", "province": "QZV", "note": "شب"}

    async def write() -> object:
        current = _Event(layout.events, 3)
        faust.streams._current_event.set(weakref.ref(current))  # as inside the agent's stream
        board["incident/1"] = row
        return app.producer.buffer.pending.get_nowait()

    sent = asyncio.run(write())
    rows = faust_adapter.rows_of(board)
    assert rows == {"incident/1": row}
    rows["incident/2"] = {"kind": "team"}  # written in the store, read by the table
    assert board["incident/2"] == {"kind": "team"}
    # Faust's own changelog record: the topic and partition the worker writes to by hand, and JSON
    # that reads back as what the worker writes (Faust escapes non-ASCII, the worker does not).
    message = sent.message  # type: ignore[attr-defined]
    assert message.channel.get_topic_name() == faust_adapter.changelog_topic_name(board) == "pin-eoc-worker-board-changelog"
    assert message.partition == 3
    assert (json.loads(message.key), json.loads(message.value)) == (json.loads(_json("incident/1")), json.loads(_json(row)))


def test_recovery_applies_the_changelog_records_and_tombstones_of_the_board_table(worker):
    app, processor, layout = worker
    # What Faust's recovery hands the table: the changelog record's key and value, JSON-decoded.
    row = {"province": "QZV", "day": "2026-12-02", "note": "شب"}
    records = [_Recovered(json.loads(_json("figures/QZV/2026-12-02")), json.loads(_json(row)), 2),
               _Recovered("incident/1", {"a": 1}, 2), _Recovered("incident/1", None, 2)]  # a tombstone
    processor.board_table.apply_changelog_batch(records)
    assert faust_adapter.rows_of(processor.board_table) == {"figures/QZV/2026-12-02": row}
    # The worker has one table: its hourly figures are the board's cells, not a windowed table.
    assert [t.name for t in app.tables.values()] == ["board"]


class _Recovered:
    def __init__(self, key: object, value: object, partition: int) -> None:
        self.key, self.value = key, value
        self.message = type("M", (), {"value": value, "partition": partition, "key": key})()


def test_owned_partitions_are_the_assignors_active_ones_of_the_topic(worker):
    app, processor, layout = worker
    assert faust_adapter.owned_partitions(app, layout.events) == set()  # nothing assigned before a rebalance
    # Where the assignor keeps what the group gave this worker (set by its on_assignment).
    app.assignor._assignment = ClientAssignment(actives={layout.events: [0, 2], layout.telemetry: [1]},
                                                standbys={layout.events: [1]})
    assert app.assignor.assigned_actives() == {TP(layout.events, 0), TP(layout.events, 2), TP(layout.telemetry, 1)}
    assert faust_adapter.owned_partitions(app, layout.events) == {0, 2}
    assert faust_adapter.owned_partitions(app, layout.telemetry) == {1}


def test_reading_again_seeks_the_consumer_with_topic_partitions(worker, monkeypatch):
    app, processor, layout = worker
    consumer = app.consumer
    seek_wait = type(consumer).seek_wait
    assert inspect.iscoroutinefunction(seek_wait)
    assert list(inspect.signature(seek_wait).parameters) == ["self", "partitions"]
    # The consumer delegates to its thread (aiokafka's own), which seeks each partition.
    thread_seek_wait = type(consumer._thread).seek_wait
    assert inspect.iscoroutinefunction(thread_seek_wait)
    assert list(inspect.signature(thread_seek_wait).parameters) == ["self", "partitions"]
    asked: list[dict] = []

    async def recorded(partitions):
        asked.append(dict(partitions))

    monkeypatch.setattr(consumer, "seek_wait", recorded)
    asyncio.run(faust_adapter.read_again_from(app, {(layout.events, 4): 17, (layout.telemetry, 4): 0}))
    assert asked == [{TP(layout.events, 4): 17, TP(layout.telemetry, 4): 0}]


def test_recovery_progress_reads_what_faust_recovery_counts(worker):
    """The watchdog's reading (consumers/worker.py, RecoveryWatchdog): Faust's Recovery service
    under ``app.tables.recovery``, its ``in_recovery`` flag and its per-changelog-partition
    ``active_offsets`` and ``active_highwaters``, which its recovery loop writes as it reads."""
    app, processor, _ = worker
    recovery = app.tables.recovery
    topic = faust_adapter.changelog_topic_name(processor.board_table)
    stuck, done = TP(topic, 5), TP(topic, 2)
    recovery.add_active(processor.board_table, stuck)  # as an assignment adds them: no offset yet
    recovery.add_active(processor.board_table, done)
    assert faust_adapter.recovery_progress(app) == faust_adapter.RecoveryProgress(False, {}, {})
    recovery._set_recovery_started()  # what its on_rebalance does
    # As its recovery loop sets them: nothing read of partition 5 ("have offset -1"), 2 read to its end.
    recovery.active_offsets[stuck], recovery.active_offsets[done] = -1, 40
    recovery.active_highwaters[stuck], recovery.active_highwaters[done] = 120, 40
    progress = faust_adapter.recovery_progress(app)
    assert progress.in_recovery and app.in_recovery
    assert progress.offsets == {(topic, 5): -1, (topic, 2): 40}
    assert progress.highwaters == {(topic, 5): 120, (topic, 2): 40}
    assert progress.remaining == recovery.active_remaining_total() == 121
    recovery.active_offsets[stuck] = 120
    recovery._set_recovery_ended()
    assert faust_adapter.recovery_progress(app).remaining == recovery.active_remaining_total() == 0
    assert not faust_adapter.recovery_progress(app).in_recovery


def _batches_of(take: str, puts: list[list[int]], *, idle_s: float = 0.3, within: float = 0.05,
                gap_s: float = 0.2, turn_between: bool = False):
    """An agent of a broker-less app (Faust's test context) that takes its stream with ``take``
    (``"ours"``: ``take_batches``; ``"faust"``: ``Stream.take_events``), 3 at most a batch:
    ``idle_s`` with nothing, then each group of ``puts`` at once (or one turn of the loop apart:
    ``turn_between``), ``gap_s`` apart. The batches
    (seconds after their group was put, the values), the stream's waits while idle, and
    whether every event had been acked once its batch was handled."""
    import time

    app = faust.App(f"pin-take-{take}", store="memory://")
    got: list[tuple[float, list[int]]] = []
    waits: list[int] = [0]
    unacked: list[int] = []
    put_at: list[float] = [0.0]

    @app.agent()
    async def batcher(stream):
        wait = stream.wait_for_stopped

        async def counted(*args, **kwargs):
            waits[0] += 1
            return await wait(*args, **kwargs)

        stream.wait_for_stopped = counted
        taken = (faust_adapter.take_batches(stream, 3, within) if take == "ours"
                 else stream.take_events(3, within))
        previous: list = []
        async for batch in taken:
            unacked.extend(e.value for e in previous if not e.message.acked)  # acked once handled
            got.append((time.monotonic() - put_at[0], [e.value for e in batch]))
            previous = list(batch)
            yield len(batch)

    async def run() -> int:
        async with batcher.test_context() as agent:
            await asyncio.sleep(idle_s)
            idle_waits = waits[0]
            for group in puts:
                put_at[0] = time.monotonic()
                for value in group:
                    await agent.put(value, wait=False)
                    if turn_between:  # as a consumer that hands over a fetch's records one a turn
                        await asyncio.sleep(0)
                await asyncio.sleep(gap_s)
            return idle_waits

    idle_waits = asyncio.run(run())
    return got, idle_waits, unacked


def test_take_batches_gives_a_full_batch_at_once_and_the_rest_when_the_first_events_window_ends():
    got, _, unacked = _batches_of("ours", [[0, 1, 2, 3, 4], [99]], within=0.5, gap_s=1.5)
    assert [values for _, values in got] == [[0, 1, 2], [3, 4], [99]]
    assert got[0][0] < 0.25  # full: at once
    assert got[1][0] >= 0.5  # right after a batch (busy): the window, from its first event
    assert got[2][0] < 0.25  # after a quiet spell: at once (the leading edge), not the window
    assert unacked == []


def test_take_batches_on_the_leading_edge_takes_what_came_together_in_one_batch():
    # A command's events come in one fetch: the first after a quiet spell must not leave the
    # others to a second batch and its window.
    for turn_between in (False, True):
        got, _, unacked = _batches_of("ours", [[7, 8], [9]], within=0.5, gap_s=1.0, turn_between=turn_between)
        assert [values for _, values in got] == [[7, 8], [9]], turn_between
        assert got[0][0] < 0.25 and got[1][0] < 0.25
        assert unacked == []


def test_take_batches_does_not_wake_while_no_event_waits_where_faust_take_events_does():
    _, ours, _ = _batches_of("ours", [[1]], within=0.01)
    _, faust_waits, _ = _batches_of("faust", [[1]], within=0.01)
    assert ours <= 1  # one wait, for the first event
    assert faust_waits >= 10  # 0.3 s of 10 ms windows: why the worker has its own (an upgrade that changes it shows here)


def test_the_workers_kafka_consumer_decodes_a_bounded_number_of_records_a_poll(worker):
    """faust-streaming passes ``broker_max_poll_records`` to aiokafka's consumer as
    ``max_poll_records``; without it a poll decoded every record fetched (behind a backlog,
    hundreds of thousands at once: the worker's memory high-water mark, BENCHMARKS.md session 19)."""
    from consumers.worker import MAX_POLL_RECORDS

    app, _, _ = worker

    async def made() -> int | None:
        consumer = app.consumer._thread._create_worker_consumer(app.transport)  # never started: no broker
        try:
            return consumer._max_poll_records
        finally:
            await consumer.stop()

    polled = asyncio.run(made())
    assert polled == MAX_POLL_RECORDS
    assert MAX_POLL_RECORDS >= create_app.__kwdefaults__["batch_max"]  # a poll still fills a batch
