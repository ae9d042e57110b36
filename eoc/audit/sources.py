"""Where an auditor reads the history from: the event store's log, or the ``eoc.events`` topic.

Both sources give the same two views of a stream:

* ``records()`` — every event *as stored* (its stored version and payload, its chain link),
  with where it physically sits (a log position, or a partition and offset), and even when
  it cannot be decoded: what the tamper check (eoc/audit/verify.py) walks.
* ``envelopes()`` — the decoded, upcast envelopes in stream order: what a replay folds.

Both can stop early at a moment (``until``) or a log position (``until_position``). On
Kafka the end of each partition is found with the broker's offsets-for-times; because the
relay may publish an event a little after it was recorded, the search asks for the first
record a ``lag`` after the moment, and reading still goes on past it while events recorded
before the moment keep coming.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from eoc.audit.stored import StoredDecoder, has_long_number
from events.envelope import Envelope, iso
from events.undecodable import undecodable_of
from projections import reason_of

_END = object()  # the reading thread's last item
Progress = Callable[[int], None]  # called with how many more records were read
# The moment field an event is cut by: when the EOC recorded it (what it knew), or when it happened.
TIME_FIELDS = {"recorded": "recorded_at", "occurred": "occurred_at"}


@dataclass(slots=True)
class StoredRecord:
    """One event as a stream holds it."""

    value: dict[str, Any] | None  # the stored envelope (Envelope.to_dict()); None if unreadable
    where: str  # "position 17" / "partition 3, offset 120": for people
    order: tuple[int, int]  # physical order in its part of the stream: (0, position) / (partition, offset)
    aggregate_id: str | None
    version: int | None
    error: str | None = None
    timestamp_ms: int | None = None  # the Kafka record's timestamp

    @property
    def id(self) -> str | None:
        return self.value["id"] if self.value else None

    @property
    def chain(self) -> str | None:
        return self.value.get("chain") if self.value else None

    @property
    def position(self) -> int | None:
        return self.value.get("position") if self.value else None


def loads_object(data: bytes | None) -> tuple[dict[str, Any] | None, str | None]:
    """A record's value as a JSON object, or None and why not. orjson decodes (several times as
    fast); what it refuses (NaN, lone surrogates, not UTF-8) or might read otherwise (an
    integer of 19 digits or more) ``json`` decides, so the values and the errors are
    ``json.loads``'s (tests/unit/test_audit_loads_object.py)."""
    try:
        if data is None or has_long_number(data):  # orjson might read it as a float
            raise TypeError("json decides")
        value = orjson.loads(data)
    except (orjson.JSONDecodeError, TypeError):
        try:
            value = json.loads(data)  # type: ignore[arg-type]
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            return None, f"the record is not an envelope: {exc}"
    if not isinstance(value, dict):
        return None, "the record is not an envelope: not a JSON object"
    return value, None


def _cutoff(until: datetime | None) -> str | None:
    return iso(until) if until is not None else None


@dataclass(frozen=True, slots=True)
class Reading:
    """What one read of the envelopes asks for: the arguments of ``envelopes()``."""

    until: datetime | None
    by: str
    until_position: int | None
    progress: Progress | None
    errors: list[tuple[str, str]] | None
    lag: timedelta
    undecodable: Callable[[int, str], None] | None

    def not_an_event(self, position: int, error: str, reason: str) -> None:
        """A stored row that is not an event: listed in ``errors`` (``error``), and told to
        ``undecodable`` (``reason``, the follower's words) when it lies within the read."""
        if self.errors is not None:
            self.errors.append((f"position {position}", error))
        if self.undecodable is not None and (self.until_position is None or position <= self.until_position):
            self.undecodable(position, reason)


class _Source:
    def envelopes(
        self,
        *,
        until: datetime | None = None,
        by: str = "recorded",
        until_position: int | None = None,
        progress: Progress | None = None,
        errors: list[tuple[str, str]] | None = None,
        lag: timedelta = timedelta(minutes=5),
        undecodable: Callable[[int, str], None] | None = None,
    ) -> Iterator[Envelope]:
        """Upcast envelopes in stream order. With ``until`` (by recording time) reading stops
        once events are recorded more than ``lag`` after the moment: writers stamp an event a
        moment before its commit, so the log is in recording order up to that jitter.
        ``undecodable(position, reason)`` is told of a stored row that is not an event, in the
        follower's words (``projections.reason_of``), so that a replay dead-letters it alike."""
        return self._envelopes(Reading(until, by, until_position, progress, errors, lag, undecodable))

    def _envelopes(self, read: Reading) -> Iterator[Envelope]:
        raise NotImplementedError


# ---------------------------------------------------------------------- the event store


class StoreSource(_Source):
    """The event store's ordered log (SQLite or PostgreSQL), read through the application's
    recorder in batches, from the oldest notification on, and decoded as its mapper would
    (eoc/audit/stored.py)."""

    name = "store"

    def __init__(self, app: Any, *, batch: int = 10_000, track: Any = None) -> None:
        self.app = app  # keep the application referenced: a collected one closes its pool
        self.batch = batch
        self.track = track  # eoc.app.track.PositionTrack: the kept position reports (None: none)

    def describe(self) -> str:
        return f"event store ({type(self.app.recorder).__module__.split('.')[-1]})"

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def _notifications(self, until_position: int | None, after: int = 0) -> Iterator[Any]:
        recorder = self.app.recorder
        position = after
        while True:
            batch = recorder.select_notifications(start=position, limit=self.batch, stop=until_position,
                                                  inclusive_of_start=False)
            yield from batch
            if len(batch) < self.batch:
                return
            position = batch[-1].id

    def records(self, *, progress: Progress | None = None, until_position: int | None = None,
                after: int = 0) -> Iterator[StoredRecord]:

        decode = StoredDecoder(self.app.mapper).envelope
        for n in self._notifications(until_position, after):
            value, error = None, None
            try:
                value = decode(n, as_stored=True).to_dict()
            except Exception as exc:  # a row someone wrote by hand: name it, do not stop
                error = f"the stored row cannot be decoded: {type(exc).__name__}: {exc}"
            if progress:
                progress(1)
            yield StoredRecord(value, f"position {n.id}", (0, n.id), str(n.originator_id),
                               int(n.originator_version), error)

    def _envelopes(self, read: Reading) -> Iterator[Envelope]:
        """In log order."""
        decode, field = StoredDecoder(self.app.mapper).envelope, TIME_FIELDS[read.by]
        until = read.until
        cut, stop_after = _cutoff(until), _cutoff(until + read.lag) if until is not None else None
        for n in self._notifications(read.until_position):
            if read.progress:
                read.progress(1)
            try:
                envelope = decode(n)
            except Exception as exc:
                read.not_an_event(n.id, f"{type(exc).__name__}: {exc}", reason_of(exc))
                continue
            if cut is not None:
                moment = getattr(envelope, field)
                if moment > cut:
                    if read.by == "recorded" and moment > stop_after:  # type: ignore[operator]
                        return
                    continue
            yield envelope


# ---------------------------------------------------------------------- Kafka


class KafkaSource(_Source):
    """A topic of envelopes (``eoc.events``: key = province, value = the stored envelope's JSON),
    read from the beginning without a consumer group (an auditor's read leaves no trace on the
    cluster and moves nobody's offsets).

    The client is aiokafka (its record batches are parsed in C), on an event loop of its own
    thread so that the source reads alike from a script, the CLI or a coroutine's worker thread;
    the fetched batches come over a bounded queue, so the next fetch is under way while the
    caller folds the last one. bench/scenarios/replay.py measures it against kafka-python and
    confluent-kafka: the fastest of the three on this stream."""

    track: Any = None  # the cluster's position track, when the auditor's CLI opens one

    name = "kafka"
    max_records = 10_000  # records a fetch hands over at most

    def __init__(self, bootstrap: str, topic: str, *, poll_timeout_s: float = 30.0,
                 consumer_config: dict[str, Any] | None = None) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.poll_timeout_s = poll_timeout_s
        self.consumer_config = consumer_config or {}  # aiokafka's AIOKafkaConsumer arguments

    def describe(self) -> str:
        return f"Kafka topic {self.topic} at {self.bootstrap}"

    def _consumer(self) -> Any:
        from aiokafka import AIOKafkaConsumer

        config: dict[str, Any] = dict(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", client_id="eoc-audit",
            fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_wait_ms=50,
        )
        config.update(self.consumer_config)
        return AIOKafkaConsumer(**config)

    async def _partitions(self) -> list[Any]:
        from aiokafka import TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="eoc-audit")
        await admin.start()
        try:
            (topic,) = await admin.describe_topics([self.topic])
        finally:
            await admin.close()
        if topic["error_code"] or not topic["partitions"]:
            raise LookupError(f"the topic {self.topic!r} does not exist at {self.bootstrap}")
        return [TopicPartition(self.topic, p["partition"]) for p in sorted(topic["partitions"],
                                                                            key=lambda p: p["partition"])]

    async def bounds(self, consumer: Any, until: datetime | None = None,
                     lag: timedelta = timedelta(minutes=5)) -> dict[Any, tuple[int, int, int]]:
        """Per partition: (first offset, soft end, hard end). The soft end is the first record
        stamped ``lag`` after ``until`` (offsets-for-times), the hard end the high watermark."""
        tps = await self._partitions()
        start = await consumer.beginning_offsets(tps)
        hard = await consumer.end_offsets(tps)
        soft = dict(hard)
        if until is not None:
            at = int((until + lag).timestamp() * 1000)
            found = await consumer.offsets_for_times({tp: at for tp in tps})
            for tp in tps:
                if found.get(tp) is not None:
                    soft[tp] = found[tp].offset
        return {tp: (start[tp], min(soft[tp], hard[tp]), hard[tp]) for tp in tps}

    def count(self, until: datetime | None = None, lag: timedelta = timedelta(minutes=5)) -> int:
        """How many records a read up to ``until`` expects (the progress bar's total)."""

        async def count() -> int:
            consumer = self._consumer()
            await consumer.start()
            try:
                return sum(soft - first for first, soft, _ in (await self.bounds(consumer, until, lag)).values())
            finally:
                await consumer.stop()

        with ThreadPoolExecutor(1, thread_name_prefix="eoc-audit-kafka") as pool:
            return pool.submit(asyncio.run, count()).result()

    async def _fetch(self, until: datetime | None, lag: timedelta, handoff: queue.Queue[Any],
                     closed: set[Any], stop: threading.Event) -> None:
        """The reading thread: the bounds, then each fetch's batches, then ``_END`` (or the error)."""

        def put(item: Any) -> bool:
            while not stop.is_set():
                try:
                    handoff.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        consumer = self._consumer()
        try:
            await consumer.start()
            bounds = await self.bounds(consumer, until, lag)
            consumer.assign(list(bounds))
            open_parts = {}
            for tp, (first, _, hard) in bounds.items():
                if hard > first:
                    consumer.seek(tp, first)
                    open_parts[tp] = hard
                else:
                    consumer.pause(tp)
            put(bounds)
            idle_since = time.monotonic()
            while open_parts and not stop.is_set():
                for tp in [tp for tp in open_parts if tp in closed]:  # the reader has what it needs
                    del open_parts[tp]
                    consumer.pause(tp)
                if not open_parts:
                    break
                batches = await consumer.getmany(timeout_ms=500, max_records=self.max_records)
                if not batches:
                    if time.monotonic() - idle_since > self.poll_timeout_s:
                        raise TimeoutError(f"no records from {self.topic} for {self.poll_timeout_s:.0f} s; "
                                           f"still waiting on partitions {sorted(tp.partition for tp in open_parts)}")
                    continue
                idle_since = time.monotonic()
                for tp, records in batches.items():
                    if tp in open_parts and records and records[-1].offset + 1 >= open_parts[tp]:
                        del open_parts[tp]
                        consumer.pause(tp)
                if not put(batches):
                    return
        except BaseException as exc:  # handed to the reader, who raises it
            put(exc)
            return
        finally:
            await consumer.stop()
        put(_END)

    def _fetched(self, until: datetime | None, lag: timedelta, closed: set[Any]) -> Generator[Any, None, None]:
        """The bounds, then the batches of each fetch, read by a thread of their own; the caller
        adds to ``closed`` the partitions it has read to their end (the thread stops fetching them)."""
        handoff: queue.Queue[Any] = queue.Queue(maxsize=4)
        stop = threading.Event()
        thread = threading.Thread(target=lambda: asyncio.run(self._fetch(until, lag, handoff, closed, stop)),
                                  name="eoc-audit-kafka", daemon=True)
        thread.start()
        try:
            while (item := handoff.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join()

    def _raw(self, *, until: datetime | None, by: str, progress: Progress | None,
             lag: timedelta) -> Iterator[tuple[Any, Any, dict[str, Any] | None, str | None]]:
        """(partition, record, decoded JSON or None, error) in offset order per partition."""
        closed: set[Any] = set()
        fetched = self._fetched(until, lag, closed)
        try:
            yield from self._records(fetched, until=until, by=by, progress=progress, closed=closed)
        finally:
            fetched.close()  # the reading thread stops

    @staticmethod
    def _records(fetched: Iterator[Any], *, until: datetime | None, by: str, progress: Progress | None,
                 closed: set[Any]) -> Iterator[tuple[Any, Any, dict[str, Any] | None, str | None]]:
        bounds = next(fetched)
        open_parts = {tp: (soft, hard) for tp, (first, soft, hard) in bounds.items() if hard > first}
        cut, field = _cutoff(until), TIME_FIELDS[by]
        for batches in fetched:
            for tp, records in batches.items():
                if tp not in open_parts:
                    continue
                soft, hard = open_parts[tp]
                done = False
                n = 0
                for rec in records:
                    if rec.offset >= hard:
                        done = True
                        break
                    n += 1
                    value, error = loads_object(rec.value)
                    if (cut is not None and rec.offset >= soft and value is not None
                            and str(value.get(field, "")) > cut):
                        done = True  # past the moment, and past where the broker said it ends
                        break
                    yield tp, rec, value, error
                    if rec.offset + 1 >= hard:
                        done = True
                        break
                if progress and n:
                    progress(n)
                if done:
                    del open_parts[tp]
                    closed.add(tp)
            if not open_parts:
                return

    def records(self, *, progress: Progress | None = None, until_position: int | None = None,
                after: int = 0) -> Iterator[StoredRecord]:
        for tp, rec, value, error in self._raw(until=None, by="recorded", progress=progress, lag=timedelta(0)):
            if (bad := undecodable_of(rec.headers, rec.value)) is not None:  # as StoreSource says it
                value, error = None, f"the stored row cannot be decoded: {bad[1]}"
            if value is not None and isinstance(value.get("position"), int) and (
                    value["position"] <= after or (until_position is not None and value["position"] > until_position)):
                continue
            agg = str(value.get("aggregate_id")) if value and "aggregate_id" in value else None
            version = value.get("aggregate_version") if value else None
            yield StoredRecord(value, f"partition {tp.partition}, offset {rec.offset}", (tp.partition, rec.offset),
                               agg, version if isinstance(version, int) else None, error, rec.timestamp)

    def _envelopes(self, read: Reading) -> Iterator[Envelope]:
        """In offset order per partition. A stored row that is not an event reaches the topic
        as the relay's record of it (``consumers.kafka_codec.undecodable_record``)."""
        cut, field = _cutoff(read.until), TIME_FIELDS[read.by]
        errors, until_position = read.errors, read.until_position
        # Cutting by occurrence time: the broker's timestamps say nothing about it; read all.
        search = read.until if read.by == "recorded" else None
        for tp, rec, value, error in self._raw(until=search, by=read.by, progress=read.progress, lag=read.lag):
            where = f"partition {tp.partition}, offset {rec.offset}"
            if (bad := undecodable_of(rec.headers, rec.value)) is not None:
                position, reason = bad
                read.not_an_event(position, reason, reason)
                continue
            if value is None:
                if errors is not None:
                    errors.append((where, error or "unreadable"))
                continue
            try:
                envelope = Envelope.from_dict(value)
            except ValueError as exc:
                if errors is not None:
                    errors.append((where, str(exc)))
                continue
            if until_position is not None and (envelope.position or 0) > until_position:
                continue
            if cut is not None and getattr(envelope, field) > cut:
                continue
            yield envelope
