"""Reading the compacted ``eoc.boards`` topic back into rows: once (``read_boards``), or live
(``BoardTopicView``, the cluster API's stand-in for the embedded follower's ``snapshot``).

The topic holds the latest value of every row per key; a tombstone (null value) deletes the
row. Read from the beginning it is a snapshot; followed, it is the deltas. Rows are shown a
worker's batch at a time (``projections.batches``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer
from kafka import KafkaConsumer, TopicPartition

from consumers.kafka_codec import decode_row
from consumers.telemetry import kafka_down
from projections.batches import BatchGate, apply_changes

log = logging.getLogger(__name__)

Listener = Callable[[int, dict[str, Any]], None]


def from_start(bootstrap: str, topic: str, *, client_id: str = "eoc-board-reader") -> tuple[KafkaConsumer, list[TopicPartition]]:
    """A consumer of every partition of ``topic``, at its beginning, in no group (nothing is
    committed: a reader that starts again reads again from the beginning)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", client_id=client_id,
                             bootstrap_timeout_ms=5_000, reconnect_backoff_max_ms=1_000)
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        consumer.close()
        raise RuntimeError(f"topic {topic} does not exist: run `eoc topics` first")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    return consumer, tps


def read_to_end(consumer: KafkaConsumer, tps: list[TopicPartition], on_records: Callable[[list[Any]], None],
                timeout_s: float) -> None:
    """Hand every record up to the end offsets taken now to ``on_records``, a partition's
    records at a time."""
    ends = consumer.end_offsets(tps)
    deadline = time.monotonic() + timeout_s
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        if time.monotonic() > deadline:
            raise TimeoutError(f"could not read {tps[0].topic} to its end in {timeout_s} s")
        for records in consumer.poll(timeout_ms=200, max_records=10_000).values():
            on_records(records)


def _fold(rows: dict[str, Any], gate: BatchGate, records: Any, changes: dict[str, Any] | None = None) -> None:
    """Whole batches of ``records`` (one partition's) into ``rows`` (see projections.batches)."""
    if not records:
        return
    done = gate.feed(records[0].partition, ((r.key.decode(), decode_row(r.value)) for r in records if r.key))
    apply_changes(rows, done)
    if changes is not None:
        changes.update(done)


def read_boards(bootstrap: str, topic: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
    """Every row of the board topic as it stands now (latest value per key)."""
    consumer, tps = from_start(bootstrap, topic)
    try:
        rows: dict[str, Any] = {}
        gate = BatchGate()
        read_to_end(consumer, tps, lambda records: _fold(rows, gate, records), timeout_s)
        return rows
    finally:
        consumer.close()


class BoardTopicView:
    """The boards as the cluster's workers publish them, followed in a thread of its own.

    Offers what the API reads from the embedded follower: ``snapshot()``, ``position`` (the
    highest log position folded, over all provinces) and listeners.

    The thread runs its own event loop with aiokafka, as the bridge's feed reads the same topic
    (ui-bridge/kafka_feed.py): records are parsed in C and fetched on the loop. kafka-python's
    consumer, used here before, held a quarter of the API's GIL at 100 commands/s (its network
    thread, its fetch requests and the hand-offs between its threads; BENCHMARKS.md, session 10).
    """

    def __init__(self, bootstrap: str, topic: str, *, client_id: str = "eoc-board-reader") -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.client_id = client_id
        self.rows: dict[str, Any] = {}
        self.sequence = 0
        self.position = 0
        self.listeners: list[Listener] = []
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> BoardTopicView:
        self._thread = threading.Thread(target=self._run, name="eoc-board-topic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # seen within a second: a read waits at most 500 ms, a retry 1 s
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        asyncio.run(self._follow())

    async def _open(self) -> AIOKafkaConsumer:
        """A consumer of every partition of the topic, at its beginning, in no group (subscribed
        without a group, it assigns itself every partition once it has the topic's metadata)."""
        consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, client_id=self.client_id,
                                    group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                                    isolation_level="read_committed", request_timeout_ms=10_000,
                                    key_deserializer=None, value_deserializer=None)
        try:
            await consumer.start()
            deadline = time.monotonic() + 10.0
            while not consumer.assignment():
                if time.monotonic() > deadline or self._stop.is_set():
                    raise RuntimeError(f"topic {self.topic} does not exist: run `eoc topics` first")
                await asyncio.sleep(0.05)
            await consumer.seek_to_beginning(*consumer.assignment())
        except BaseException:
            await consumer.stop()
            raise
        return consumer

    async def _follow(self) -> None:
        down_since: float | None = None
        while not self._stop.is_set():
            # Kafka down: one line when it goes, one when it is back; checked every second.
            problem = kafka_down(self.bootstrap)
            if problem is None:
                try:
                    consumer = await self._open()
                    gate = BatchGate()
                    with self._lock:
                        self.rows = {}  # read again from the beginning: the topic is the truth
                except Exception as exc:
                    problem = f"{type(exc).__name__}: {exc}"
            if problem is not None:
                if down_since is None:
                    down_since = time.monotonic()
                    # Info: the publisher's warning is the outage's one line.
                    log.info("cannot read %s (%s); the boards stay as they were until it answers",
                             self.topic, problem)
                await asyncio.sleep(1.0)
                continue
            if down_since is not None:
                log.info("reading %s again after %.0f s", self.topic, time.monotonic() - down_since)
                down_since = None
            try:
                while not self._stop.is_set():
                    polled = await consumer.getmany(timeout_ms=500, max_records=10_000)
                    if polled:
                        self._show(polled.values(), gate)
            except Exception as exc:
                log.warning("reading %s failed (%s: %s); starting again", self.topic, type(exc).__name__, exc)
            finally:
                await consumer.stop()

    def _show(self, polled: Iterable[list[Any]], gate: BatchGate) -> None:
        changes: dict[str, Any] = {}
        with self._lock:  # whole batches only: a half-shown batch is a board no replay makes
            for records in polled:
                _fold(self.rows, gate, records, changes)
            if not changes:  # only the start of a batch: shown when it ends
                return
            for key, row in changes.items():
                if key.startswith("applied/") and isinstance(row, int) and row > self.position:
                    self.position = row
            self.sequence += 1
            self._lock.notify_all()
            for listener in list(self.listeners):
                try:
                    listener(self.sequence, changes)
                except Exception:
                    log.exception("a board listener failed")

    def snapshot(self) -> tuple[int, dict[str, Any]]:
        with self._lock:
            return self.sequence, dict(self.rows)
