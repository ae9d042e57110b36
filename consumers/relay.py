"""The relay: every event of the PostgreSQL event store, in log order, onto ``eoc.events``.

It follows the store's ordered notification log (woken by PostgreSQL LISTEN/NOTIFY, so a
commit reaches Kafka in milliseconds) and publishes each event as stored — its stored version
and payload, so the tamper chain can be checked on the topic too — keyed by province, to the province's partition, with an idempotent producer (acks=all).

Exactly once in effect, after any crash:

* Within a partition Kafka keeps the producer's order (idempotence), so what reached a
  partition is always a prefix of what the relay sent there. Every record carries its log
  position (``eoc_position``), so the last record of partition *q* says exactly how far *q*
  got: every event for *q* at or below it is there, none above it.
* Across partitions there is no such order (a crash can leave partition 1 at position 100 and
  partition 2 at 90). So a restarted relay does not simply resume after the highest position:
  it re-reads the log from a *watermark* and sends an event only if it lies above the last
  position of its own partition. Nothing is lost and nothing is sent twice.
* The watermark bounds that re-read: every ``watermark_every_s`` the producer is flushed, and
  then every event up to the position handed to it before the flush is acknowledged; each
  record carries the watermark known when it was sent (``eoc_relay_watermark``). On restart
  the highest watermark found is a true statement about the whole topic, and the log is read
  again from there.
* Only one relay may publish at a time (a second one would duplicate): a relay holds a
  PostgreSQL advisory lock while it runs, so extra replicas wait as hot standbys.

A stored row that is not an event (written by hand, of a type no catalogue knows) does not
stop the relay: it goes to partition 0 as a record that says so (``eoc_undecodable``, its
position and reason), which the workers and a replay from Kafka turn into the same dead-letter
row as the embedded follower.

Downstream, a duplicate would still change nothing (projections/fold.py skips positions it has
folded per province); the relay does not rely on that.

One thread from commit to Kafka (رله، یک رشته): on one event loop, an asynchronous PostgreSQL
connection listens for the store's NOTIFY and reads the new rows (consumers/log_tail.py), each
row is decoded and turned into a record (CloudEvents headers, the JSON as stored) and handed to
aiokafka's producer (its records built in C, one request in flight per broker, which keeps a
partition's order through retries). The library's subscription took three threads for the same
path; every hand-off was a wake-up that each sparse command paid.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import UnknownTopicOrPartitionError
from kafka import KafkaConsumer, TopicPartition

from consumers.kafka_codec import (
    POSITION_HEADER,
    WATERMARK_HEADER,
    header,
    relay_headers,
)
from consumers.log_tail import LogTail
from consumers.topics import Layout
from eoc.audit.stored import StoredDecoder
from events.undecodable import UNDECODABLE_HEADER, undecodable_record
from projections import reason_of

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0  # the producer's start (metadata, the idempotent producer id), at most
UNDECODABLE_PARTITION = 0  # a stored row that is not an event has no province: the first partition


@dataclass
class ResumePoint:
    """Where a relay starts: read the log after ``scan_from``; skip what partitions already hold."""

    scan_from: int
    last_in_partition: dict[int, int]

    @property
    def highest(self) -> int:
        return max(self.last_in_partition.values(), default=0)


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    """aiokafka producer settings for the audit stream: nothing lost, nothing reordered."""
    cfg: dict[str, Any] = dict(
        bootstrap_servers=bootstrap,
        acks="all",
        # Idempotent: a retried batch is not written twice, and (aiokafka keeps one request in
        # flight to a broker) a partition's order survives the retries. A batch is retried while
        # its partition has a leader; a send waits for room at most request_timeout_ms; either
        # failing stops the relay, which restarts and resumes.
        enable_idempotence=True,
        linger_ms=2,  # a few ms of batching: thousands of events a second in few requests
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
        retry_backoff_ms=200,
        client_id="eoc-relay",
    )
    cfg.update(overrides)
    return cfg


def find_resume_point(bootstrap: str, topic: str, partitions: int, *, timeout_s: float = 30.0) -> ResumePoint:
    """Read the last relayed record of each partition (skipping records not from a relay)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             client_id="eoc-relay-resume", consumer_timeout_ms=1000)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        begins = consumer.beginning_offsets(tps)
        ends = consumer.end_offsets(tps)
        last: dict[int, int] = {}
        watermark = 0
        for tp in tps:
            found = _last_relayed(consumer, tp, begins[tp], ends[tp], timeout_s)
            if found is not None:
                position, mark = found
                last[tp.partition] = position
                watermark = max(watermark, mark)
        return ResumePoint(scan_from=watermark, last_in_partition=last)
    finally:
        consumer.close()


def _last_relayed(consumer: KafkaConsumer, tp: TopicPartition, begin: int, end: int,
                  timeout_s: float) -> tuple[int, int] | None:
    """(position, watermark) of the last record of ``tp`` that carries a relay position."""
    window, hi = 16, end
    while hi > begin:
        lo = max(begin, hi - window)
        consumer.assign([tp])
        consumer.seek(tp, lo)
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while consumer.position(tp) < hi:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {tp.topic}[{tp.partition}] offsets {lo}..{hi}")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(r for r in batch if r.offset < hi)
        for record in reversed(records):
            position = header(record.headers, POSITION_HEADER)
            if position is not None:
                mark = header(record.headers, WATERMARK_HEADER)
                return int(position), int(mark or 0)
        hi, window = lo, window * 4  # only foreign records there: look further back
    return None


class LoopProducer:
    """aiokafka's producer on an event loop of its own thread; the relay follows the log on the
    same loop (``submit``) and sends from there.

    ``send`` (on the loop) hands a record to the producer, which batches it (``linger_ms``); it
    waits only when the producer's buffer is full, which holds the log's reading back while
    Kafka is slow. A send that fails for good calls ``on_error`` once; the records after it are
    dropped (the caller stops, and resumes from what Kafka holds). ``flush`` (from any other
    thread) waits until everything sent before it is acknowledged.
    """

    CLOSE_TIMEOUT_S = 5.0  # what close() gives the producer to hand over what it holds

    def __init__(self, config: dict[str, Any], on_error: Callable[[BaseException], None]) -> None:
        self.on_error = on_error
        self.handed = 0  # position of the last record handed to the producer (set on the loop)
        self._failed = False
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="eoc-relay-kafka", daemon=True)
        self._thread.start()
        self.producer: AIOKafkaProducer
        try:
            self._call(self._start(config), timeout=START_TIMEOUT_S)
        except BaseException:
            self._end()
            raise

    async def _start(self, config: dict[str, Any]) -> None:
        producer = AIOKafkaProducer(**config)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self.producer = producer

    def submit(self, coro: Any) -> concurrent.futures.Future[Any]:
        """(Any other thread.) Run ``coro`` on the loop; cancelling the future cancels it."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _call(self, coro: Any, timeout: float | None = None) -> Any:
        return self.submit(coro).result(timeout)

    def cancel(self, task: asyncio.Task[Any]) -> None:
        """(Any thread.) Cancel a task of the loop (if the loop still runs); its future says
        when it has ended."""
        try:
            self._loop.call_soon_threadsafe(task.cancel)
        except RuntimeError:  # the loop has closed: every task of it has ended
            pass

    def partitions_for(self, topic: str) -> set[int]:
        return self._call(self.producer.partitions_for(topic))

    async def send(self, position: int, topic: str, partition: int, key: bytes | None, value: bytes,
                   headers: list[tuple[str, bytes]]) -> None:
        """(On the loop.) Hand one record to the producer, after every record sent before it."""
        if self._failed:
            return
        try:
            future = await self.producer.send(topic, value, key=key, partition=partition, headers=headers)
        except Exception as exc:  # refused at once (too large), no room for a long while, or gone
            self._fail(exc)
            return
        future.add_done_callback(self._delivered)
        self.handed = position

    def flush(self, timeout: float | None = None) -> None:
        """(Any other thread.) Block until everything sent before is acknowledged (or has
        failed); TimeoutError after ``timeout`` seconds (a retried batch never expires while
        Kafka is away)."""
        self._call(self.producer.flush(), timeout)

    async def flush_handed(self) -> int:
        """(On the loop.) Wait until what the producer holds is acknowledged; the position it
        reached."""
        upto = self.handed
        await self.producer.flush()
        return upto

    def _delivered(self, future: asyncio.Future[Any]) -> None:
        exc = None if future.cancelled() else future.exception()
        if exc is not None:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if not self._failed:
            self._failed = True
            self.on_error(exc)

    def every(self, seconds: float, tick: Callable[[], Any]) -> None:
        """Run the coroutine function ``tick`` on the loop every ``seconds`` until closed (a
        tick that fails is said, and the next one runs)."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await tick()
                except Exception:
                    log.exception("the relay's periodic task failed; it runs again")

        self._loop.call_soon_threadsafe(lambda: self._loop.create_task(loop()))

    def close(self) -> None:
        """Hand Kafka what the producer holds (for at most CLOSE_TIMEOUT_S), then end the
        producer's tasks and the loop: once this returns, this producer sends nothing more."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._close(self.CLOSE_TIMEOUT_S), self.CLOSE_TIMEOUT_S + 10)
        except Exception as exc:
            log.warning("the relay's producer did not close cleanly: %r", exc)
        finally:
            self._end()

    async def _close(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(self.producer.stop(), timeout_s)
        finally:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=5) if tasks else None

    def _end(self) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()


class Relay:
    """Publishes the event store's log to Kafka. ``run()`` blocks until ``stop()``."""

    def __init__(
        self,
        app: Any,
        bootstrap: str,
        layout: Layout,
        *,
        watermark_every_s: float = 0.5,
        lock: Callable[[threading.Event], Any] | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.bootstrap = bootstrap
        self.layout = layout
        self.producer: LoopProducer | None = None  # started by run(), once this relay holds the lock
        self.watermark_every_s = watermark_every_s
        self.lock = lock
        self.heartbeat = heartbeat or (lambda: None)  # for a container's health check
        self.sent = 0  # events published by this process
        self.skipped = 0  # events found already in their partition on resume
        self.undecodable = 0  # stored rows that are not events, relayed as dead letters
        self.last_sent = 0  # log position of the last event handed to the producer
        self.watermark = 0  # every event up to here is acknowledged by Kafka
        self.resume: ResumePoint | None = None
        self.metrics: Any = None  # eoc.app.metrics.Metrics, set by the composition root
        self.ready = threading.Event()  # set once the relay follows the log
        self.tail: LogTail | None = None  # the log as this relay follows it (set by run())
        self._stop = threading.Event()
        self._following: asyncio.Task[None] | None = None  # the follow, on the producer's loop
        self._error: BaseException | None = None

    def stop(self) -> None:
        """(Any thread.) Stop following the log; ``run()`` then flushes and returns."""
        self._stop.set()
        following, producer = self._following, self.producer
        if following is not None and producer is not None:
            producer.cancel(following)

    def run(self) -> None:
        held = self.lock(self._stop) if self.lock is not None else None  # wait to be the one relay
        try:
            if not self._stop.is_set():
                self.producer = LoopProducer(producer_config(self.bootstrap), self._failed)
                self._run(self.producer)
        finally:
            # The producer ends before the lock is let go: a standby that takes the lock reads
            # where the partitions end, and nothing of this relay's may land after that.
            if self.producer is not None:
                self.producer.close()
            if held is not None:
                held.close()

    def _run(self, producer: LoopProducer) -> None:
        layout = self.layout
        topic, n = layout.events, layout.partitions
        try:
            partitions = producer.partitions_for(topic)
        except UnknownTopicOrPartitionError:
            partitions = set()
        if not partitions:
            raise RuntimeError(f"topic {topic} does not exist: run `eoc topics` first")
        if len(partitions) != n:
            raise RuntimeError(f"{topic} has {len(partitions)} partitions; the layout says {n}")
        self.resume = resume = find_resume_point(self.bootstrap, topic, n)
        last_in = dict(resume.last_in_partition)
        self.watermark = self.last_sent = resume.scan_from
        log.info("relay resumes after position %s (partitions end at %s)", resume.scan_from, last_in)
        producer.every(self.watermark_every_s, self._mark)

        # The log is read, decoded and sent on the producer's loop, one thread from NOTIFY to
        # Kafka (consumers/log_tail.py says why); this thread waits until the relay stops.
        self.tail = LogTail(self.app.recorder, gt=resume.scan_from)
        try:  # until stop() cancels the follow (and it has closed its connection)
            producer.submit(self._follow(producer, self.tail, last_in, resume.highest)).result()
        except concurrent.futures.CancelledError:
            pass
        finally:
            self._following = None
        try:
            producer.flush(timeout=10)
        except TimeoutError:  # Kafka is away: the next relay resumes from what it holds
            if self._error is None:
                log.warning("the relay stops with events not yet acknowledged by Kafka; the next one resends them")
                return
        if self._error is not None:
            raise RuntimeError("Kafka refused an event; restart to resume") from self._error
        self.watermark = self.last_sent

    async def _follow(self, producer: LoopProducer, tail: LogTail, last_in: dict[int, int],
                      highest_skippable: int) -> None:
        """(On the producer's loop, until cancelled.) Per event: decode, encode, send; the
        producer batches the records itself (linger_ms)."""
        self._following = asyncio.current_task()  # first the task, then the flag: stop() sees one
        if self._stop.is_set():
            return
        topic, partition_for = self.layout.events, self.layout.partition_for
        decode = StoredDecoder(self.app.mapper, remember=10_000).envelope
        send = producer.send
        async with contextlib.aclosing(tail.batches(listening=self.ready.set)) as batches:
            async for batch in batches:
                await self._publish(batch, send, topic, partition_for, decode, last_in, highest_skippable)
                if self._error is not None:
                    return

    async def _publish(self, batch: list[Any], send: Any, topic: str, partition_for: Callable[[str], int],
                       decode: Callable[..., Any], last_in: dict[int, int], highest_skippable: int) -> None:
        """One read's rows: each decoded, skipped if its partition holds it already, sent."""
        for notification in batch:
            if self._error is not None:
                return
            try:
                envelope = decode(notification, as_stored=True)
            except Exception as exc:  # a stored row that is not an event: said, and the stream goes on
                envelope = None
                reason = reason_of(exc)
            position = notification.id
            partition = partition_for(envelope.province) if envelope is not None else UNDECODABLE_PARTITION
            if position <= highest_skippable and position <= last_in.get(partition, 0):
                self.skipped += 1
                continue
            if envelope is None:
                log.error("the stored row at position %d is not an event (%s); relayed as such",
                          position, reason)
                self.undecodable += 1
                await send(position, topic, partition, None, undecodable_record(position, reason),
                           [(UNDECODABLE_HEADER, b"1"), *relay_headers(position, self.watermark)])
            else:
                headers = envelope.cloudevent_headers()
                headers.extend(relay_headers(position, self.watermark))
                await send(position, topic, partition, envelope.province.encode(), envelope.to_json(), headers)
            self.last_sent = position
            self.sent += 1

    async def _mark(self) -> None:
        """(On the producer's loop, every watermark_every_s.) Move the watermark up to what
        Kafka has acknowledged, and say the relay is alive."""
        producer = self.producer
        assert producer is not None
        if producer.handed > self.watermark:
            upto = await producer.flush_handed()
            if self._error is None:
                self.watermark = max(self.watermark, upto)
        if self._error is None:
            self.heartbeat()

    def _failed(self, exc: BaseException) -> None:
        # A send that failed for good would leave a gap: stop, and let the restart resume.
        if self._error is None:
            self._error = exc
            log.error("Kafka refused an event: %r; the relay stops", exc)
            self.stop()

    def close(self) -> None:
        self.stop()
        if self.producer is not None:
            self.producer.close()


class AdvisoryLock:
    """A PostgreSQL session advisory lock: held while the connection lives, so a relay that
    dies (even by kill -9) lets the standby in as soon as PostgreSQL sees the socket close."""

    def __init__(self, dsn: str, name: str, *, retry_s: float = 1.0) -> None:
        self.dsn = dsn
        self.name = name
        self.retry_s = retry_s
        self.attempts = 0
        self.conn: Any = None

    def __call__(self, stop: threading.Event | None = None) -> AdvisoryLock:
        """Wait until the lock is ours (or ``stop`` is set)."""
        import psycopg

        stop = stop or threading.Event()
        self.conn = psycopg.connect(self.dsn, autocommit=True)
        waiting = False
        while not stop.is_set():
            self.attempts += 1
            if self.conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (self.name,)).fetchone()[0]:
                if waiting:
                    log.warning("the lock %r is ours now: this relay publishes", self.name)
                return self
            if not waiting:
                log.warning("another relay holds %r; waiting as a standby", self.name)
                waiting = True
            stop.wait(self.retry_s)
        return self

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
