"""Where a cluster command's time goes: the moment its event reaches ``eoc.events`` (the relay's
hop) and the moment its effect reaches ``eoc.boards`` (the worker's hop), read by this process
with its own Kafka consumers while the commands run; the dashboard's frame (the bridge's hop)
comes from ``bench.watch``. All three are measured from the moment the command was sent, on one clock.

Events carry their log position in a header (``eoc_position``); the worker publishes
``applied/<province>`` with every batch, so the first such record at or past a command's
position is the moment the board topic holds its effect.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import time
from typing import Any

from .loadgen import quantile


async def from_the_end(bootstrap: str, topic: str) -> Any:
    """A consumer of every partition of ``topic`` (no group, as the bridge reads), from its end."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, fetch_max_wait_ms=5, client_id="eoc-bench-hops")
    await consumer.start()
    for _ in range(200):
        if consumer.assignment():
            break
        await asyncio.sleep(0.05)
    await consumer.seek_to_end(*consumer.assignment())
    return consumer


def q(values: list[float]) -> dict[str, float | None]:
    s = sorted(values)
    return {"p50_ms": quantile(s, 0.5), "p99_ms": quantile(s, 0.99), "n": len(s)}


class _Readers:
    """Topic readers on their own tasks, stopped together."""

    _consumers: list[Any]
    _tasks: list[asyncio.Task[None]]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for consumer in self._consumers:
            await consumer.stop()


class Hops(_Readers):
    def __init__(self, bootstrap: str, events_topic: str, boards_topic: str) -> None:
        self.bootstrap = bootstrap
        self.topics = (events_topic, boards_topic)
        self.events_at: dict[int, float] = {}  # log position -> arrival on eoc.events
        self.boards_at: dict[str, tuple[list[int], list[float]]] = {}  # province -> (positions, arrivals)
        self.commands: list[tuple[str, int, float]] = []  # (province, position, sent at)
        self._consumers: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> Hops:

        for topic, read in zip(self.topics, (self._event, self._board), strict=True):
            consumer = await from_the_end(self.bootstrap, topic)
            self._consumers.append(consumer)
            self._tasks.append(asyncio.create_task(self._follow(consumer, read)))
        return self

    async def _follow(self, consumer: Any, read: Any) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            arrived = time.perf_counter()
            for records in batch.values():
                for record in records:
                    read(record, arrived)

    def _event(self, record: Any, arrived: float) -> None:
        for key, value in record.headers or ():
            if key == "eoc_position":
                self.events_at.setdefault(int(value), arrived)

    def _board(self, record: Any, arrived: float) -> None:
        key = record.key.decode() if record.key else ""
        if key.startswith("applied/") and record.value is not None:
            positions, arrivals = self.boards_at.setdefault(key[8:], ([], []))
            value = json.loads(record.value)
            if not positions or value > positions[-1]:
                positions.append(value)
                arrivals.append(arrived)

    def expect(self, province: str, position: int, sent_at: float) -> None:
        self.commands.append((province, position, sent_at))

    def report(self) -> dict[str, Any]:
        relay: list[float] = []
        worker: list[float] = []
        for province, position, sent in self.commands:
            at = self.events_at.get(position)
            if at is not None:
                relay.append((at - sent) * 1000)
            positions, arrivals = self.boards_at.get(province, ([], []))
            i = bisect.bisect_left(positions, position)
            if i < len(positions):
                worker.append((arrivals[i] - sent) * 1000)

        return {"send_to_events_topic": q(relay), "send_to_boards_topic": q(worker)}


class PositionHops(_Readers):
    """Where a position report's time goes in the cluster: from the moment it was taken
    (``reported_at``, stamped by the load generator on the wall clock) to ``eoc.telemetry.positions``
    (the API's hop: its batch, the track, the producer) and to ``eoc.boards`` (the worker's hop);
    the dashboard's frame ends the scenario's time to the map. The reports kept and the ones only
    shown reach both topics; the ones thinned away neither."""

    def __init__(self, bootstrap: str, telemetry_topic: str, boards_topic: str) -> None:
        self.bootstrap = bootstrap
        self.topics = (telemetry_topic, boards_topic)
        self.recording = False
        self.to_telemetry: list[float] = []
        self.to_boards: list[float] = []
        self._consumers: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> PositionHops:
        for topic, into in zip(self.topics, (self.to_telemetry, self.to_boards), strict=True):
            consumer = await from_the_end(self.bootstrap, topic)
            self._consumers.append(consumer)
            self._tasks.append(asyncio.create_task(self._follow(consumer, into, topic == self.topics[1])))
        return self

    async def _follow(self, consumer: Any, into: list[float], board: bool) -> None:
        from datetime import datetime

        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            wall = time.time()
            if not self.recording:
                continue
            for records in batch.values():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    if record.value is None or (board and not key.startswith("position/")):
                        continue
                    value = json.loads(record.value)
                    for item in value if isinstance(value, list) else (value,):  # a batch of shown reports
                        at = item.get("at") if board else item.get("occurred_at")
                        if at:
                            into.append((wall - datetime.fromisoformat(at).timestamp()) * 1000)

    def report(self) -> dict[str, Any]:
        return {"reported_to_telemetry_topic": q(self.to_telemetry), "reported_to_boards_topic": q(self.to_boards)}
