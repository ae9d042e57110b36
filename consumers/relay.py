"""The relay: every event of the PostgreSQL event store, in log order, onto ``eoc.events``.

It follows the store's ordered notification log with the library's subscription (woken by
PostgreSQL LISTEN/NOTIFY, so a commit reaches Kafka in milliseconds) and publishes each event
as stored — its stored version and payload, so the tamper chain can be checked on the topic
too — keyed by province, to the province's partition, with an idempotent producer (acks=all).

Exactly once in effect, after any crash:

* Within a partition Kafka keeps the producer's order (idempotence), so what reached a
  partition is always a prefix of what the relay sent there. Every record carries its log
  position (``eoc_position``), so the last record of partition *q* says exactly how far *q*
  got: every event for *q* at or below it is there, none above it.
* Across partitions there is no such order (a crash can leave partition 1 at position 100 and
  partition 2 at 90). So a restarted relay does not simply resume after the highest position:
  it re-reads the log from a *watermark* and sends an event only if it lies above the last
  position of its own partition. Nothing is lost and nothing is sent twice.
* The watermark bounds that re-read: a background thread flushes the producer every
  ``watermark_every_s`` and then knows that every event up to the position it had sent before
  the flush is acknowledged; each record carries the watermark known when it was sent
  (``eoc_relay_watermark``). On restart the highest watermark found is a true statement about
  the whole topic, and the log is read again from there.
* Only one relay may publish at a time (a second one would duplicate): a relay holds a
  PostgreSQL advisory lock while it runs, so extra replicas wait as hot standbys.

A stored row that is not an event (written by hand, of a type no catalogue knows) does not
stop the relay: it goes to partition 0 as a record that says so (``eoc_undecodable``, its
position and reason), which the workers and a replay from Kafka turn into the same dead-letter
row as the embedded follower.

Downstream, a duplicate would still change nothing (projections/fold.py skips positions it has
folded per province); the relay does not rely on that.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.kafka_codec import (
    POSITION_HEADER,
    WATERMARK_HEADER,
    header,
    relay_headers,
)
from consumers.topics import Layout
from eoc.audit.stored import StoredDecoder
from events.undecodable import UNDECODABLE_HEADER, undecodable_record
from projections import reason_of

log = logging.getLogger(__name__)

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
    """kafka-python producer settings for the audit stream: nothing lost, nothing reordered."""
    cfg: dict[str, Any] = dict(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,  # a few ms of batching: thousands of events a second in few requests
        batch_size=256 * 1024,
        max_in_flight_requests_per_connection=5,  # the most idempotence keeps ordered
        retries=2_147_483_647,
        delivery_timeout_ms=120_000,
        reconnect_backoff_max_ms=1_000,  # back within a second of Kafka's return, not 30 s
        client_id="eoc-relay",
        # The client's own sensors (rates, histograms per send) are read by nobody here: our
        # figures are the relay's (/metrics). Off, they no longer cost CPU on every send.
        metrics_enabled=False,
    )
    cfg.update(overrides)
    return cfg


def close_producer(producer: KafkaProducer, *, timeout_s: float = 10) -> None:
    """Hand Kafka what is still buffered, then close the producer (even if the flush failed)."""
    try:
        producer.flush(timeout=timeout_s)
    finally:
        producer.close(timeout=timeout_s)


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


class Relay:
    """Publishes the event store's log to Kafka. ``run()`` blocks until ``stop()``."""

    def __init__(
        self,
        app: Any,
        bootstrap: str,
        layout: Layout,
        *,
        producer: KafkaProducer | None = None,
        watermark_every_s: float = 0.5,
        lock: Callable[[threading.Event], Any] | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.bootstrap = bootstrap
        self.layout = layout
        self.producer = producer or KafkaProducer(**producer_config(bootstrap))
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
        self._stop = threading.Event()
        self._subscription: Any = None
        self._error: BaseException | None = None

    def stop(self) -> None:
        self._stop.set()
        sub = self._subscription
        if sub is not None:
            sub.stop()

    def run(self) -> None:
        held = self.lock(self._stop) if self.lock is not None else None  # wait to be the one relay
        try:
            if not self._stop.is_set():
                self._run()
        finally:
            if held is not None:
                held.close()

    def _run(self) -> None:
        layout = self.layout
        topic, n = layout.events, layout.partitions
        partitions = self.producer.partitions_for(topic)
        if not partitions:
            raise RuntimeError(f"topic {topic} does not exist: run `eoc topics` first")
        if len(partitions) != n:
            raise RuntimeError(f"{topic} has {len(partitions)} partitions; the layout says {n}")
        self.resume = resume = find_resume_point(self.bootstrap, topic, n)
        last_in = dict(resume.last_in_partition)
        self.watermark = self.last_sent = resume.scan_from
        log.info("relay resumes after position %s (partitions end at %s)", resume.scan_from, last_in)
        flusher = threading.Thread(target=self._flush_loop, name="eoc-relay-watermark", daemon=True)
        flusher.start()

        # Per event: decode, encode, send. Everything else (flushing, watermark) is per batch
        # in the other thread; the producer batches the sends itself (linger_ms).
        decode = StoredDecoder(self.app.mapper, remember=10_000).envelope
        send, partition_for = self.producer.send, layout.partition_for
        errback = self._failed
        highest_skippable = resume.highest
        with self.app.recorder.subscribe(gt=resume.scan_from) as subscription:
            self._subscription = subscription
            if self._stop.is_set():
                subscription.stop()
            self.ready.set()
            for notification in subscription:
                if self._error is not None:
                    raise RuntimeError("Kafka refused an event; restart to resume") from self._error
                try:
                    envelope = decode(notification, as_stored=True)
                except Exception as exc:  # a stored row that is not an event: said, and the stream goes on
                    envelope = None
                    reason = reason_of(exc)
                partition = partition_for(envelope.province) if envelope is not None else UNDECODABLE_PARTITION
                if notification.id <= highest_skippable and notification.id <= last_in.get(partition, 0):
                    self.skipped += 1
                    continue
                if envelope is None:
                    log.error("the stored row at position %d is not an event (%s); relayed as such",
                              notification.id, reason)
                    self.undecodable += 1
                    send(topic, key=None, value=undecodable_record(notification.id, reason),
                         headers=[(UNDECODABLE_HEADER, b"1"), *relay_headers(notification.id, self.watermark)],
                         partition=partition).add_errback(errback)
                else:
                    headers = envelope.cloudevent_headers()
                    headers.extend(relay_headers(notification.id, self.watermark))
                    send(topic, key=envelope.province.encode(), value=envelope.to_json(),
                         headers=headers, partition=partition).add_errback(errback)
                self.last_sent = notification.id
                self.sent += 1
        self._subscription = None
        self.producer.flush()
        self.watermark = self.last_sent
        if self._error is not None:
            raise RuntimeError("Kafka refused an event") from self._error

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.watermark_every_s):
            upto = self.last_sent
            if upto > self.watermark:
                self.producer.flush()
                if self._error is None:
                    self.watermark = upto
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
        close_producer(self.producer)


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
