"""Cluster mode: the bridge fed by the compacted board topic on Kafka.

The topic (``eoc.boards`` by default) holds every board row: key = the row's key as UTF-8
(``team/<id>``, ``centre/<id>``, ``drill/...``), value = the row as JSON, or a tombstone
(no value) for a row that is gone. Compaction keeps the newest value per key, so reading the
topic from the beginning to its current end gives the whole board (the snapshot); after that
every worker's batch is one delta: rows are held until the batch's mark, so a dashboard never
shows half a batch (``projections.batches``). A key always lives in one partition (its
province's), so a row's changes arrive in order.

The feed reads with its own assignment and no consumer group: every bridge reads the whole
topic, and nothing is committed (a restarted bridge starts again from a snapshot).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from projections.batches import BatchGate, apply_changes

from .feed import OnChanges

log = logging.getLogger(__name__)

BOARDS_TOPIC = "eoc.boards"


@dataclass(eq=False)
class KafkaBoardFeed:
    bootstrap: str
    topic: str = BOARDS_TOPIC
    _: KW_ONLY
    client_id: str = "eoc-bridge"
    wait_for_topic_s: float | None = 60.0  # None: wait for the topic as long as it takes
    max_records: int = 5000  # at most this many records a read
    # What was read: the last sequence number given out, records read, records skipped.
    seq: int = field(default=0, init=False)
    records: int = field(default=0, init=False)
    bad_records: int = field(default=0, init=False)
    _consumer: AIOKafkaConsumer | None = field(default=None, init=False, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _on_changes: OnChanges | None = field(default=None, init=False, repr=False)
    _gate: BatchGate = field(default_factory=BatchGate, init=False, repr=False)

    async def start(self, on_changes: OnChanges) -> tuple[int, dict[str, Any]]:
        self._on_changes = on_changes
        # Subscribed without a group: the consumer assigns itself every partition of the topic.
        consumer = self._consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.bootstrap, client_id=self.client_id, group_id=None,
            enable_auto_commit=False, auto_offset_reset="earliest", isolation_level="read_committed",
            key_deserializer=None, value_deserializer=None,
        )
        try:
            await consumer.start()
            partitions = await self._partitions()
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            rows: dict[str, Any] = {}
            # The snapshot: everything up to the end offsets taken now (compaction keeps it short),
            # a worker's batch whole or not at all (projections.batches).
            while not await self._reached(end):
                batch = await consumer.getmany(timeout_ms=500, max_records=self.max_records)
                for tp, records in batch.items():
                    apply_changes(rows, self._gate.feed(tp.partition, self._decode(records)))
        except BaseException:
            await consumer.stop()
            raise
        self.seq = 1  # the snapshot is the first state; deltas count on from it
        log.info("board snapshot from %s: %d rows", self.topic, len(rows))
        self._task = asyncio.create_task(self._follow(), name="kafka-board-feed")
        return self.seq, rows

    async def stop(self) -> None:
        self._on_changes = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _partitions(self) -> list[TopicPartition]:
        """The topic's partitions; waits for the topic, which the cluster's setup creates."""
        assert self._consumer is not None
        loop = asyncio.get_running_loop()
        deadline = None if self.wait_for_topic_s is None else loop.time() + self.wait_for_topic_s
        next_note = loop.time() + 5.0
        while not self._consumer.assignment():
            if deadline is not None and loop.time() > deadline:
                raise TimeoutError(f"topic {self.topic} not found on {self.bootstrap}")
            if loop.time() > next_note:
                log.info("waiting for topic %s on %s", self.topic, self.bootstrap)
                next_note = loop.time() + 30.0
            await asyncio.sleep(0.05)
        return sorted(self._consumer.assignment())

    async def _reached(self, end: dict[TopicPartition, int]) -> bool:
        assert self._consumer is not None
        for tp, offset in end.items():
            if await self._consumer.position(tp) < offset:
                return False
        return True

    async def _follow(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=1000, max_records=self.max_records)
            except KafkaError:
                log.exception("reading %s failed; retrying", self.topic)
                await asyncio.sleep(1.0)
                continue
            changes: dict[str, Any] = {}
            for tp, records in batch.items():
                changes.update(self._gate.feed(tp.partition, self._decode(records)))
            if changes and self._on_changes is not None:
                self.seq += 1
                self._on_changes(self.seq, changes)

    def _decode(self, records: list[Any]) -> list[tuple[str, Any]]:
        out = []
        for record in records:
            self.records += 1
            if record.key is None:
                self.bad_records += 1
                continue
            try:
                key = record.key.decode()
                value = None if record.value is None else json.loads(record.value)
            except (UnicodeDecodeError, ValueError):
                # One bad record must not stop the boards; the relay's tests own the format.
                self.bad_records += 1
                log.warning("skipped an unreadable record at %s:%s", record.partition, record.offset)
                continue
            out.append((key, value))
        return out
