"""Replay: an auditor's full replay of the history (``eoc replay``), from Kafka and from the
event store, against the fastest raw read and decode of the same stream in the same run.

The stream: a seeded synthetic history (the real domain aggregates of three provinces, drills
included; tests/support/history.py ``aggregates``), written once and copied as stored: for Kafka published as the
relay publishes it (key = province, the stored envelope's JSON, CloudEvents headers) to a
fresh topic of 8 partitions; for the store the same stored events inserted into a fresh
SQLite file or PostgreSQL database.

Each round runs, one after the other over the same data, the replay (``consumers.replay.replay``:
read, decode, upcast, fold every board, as ``eoc replay`` does without its progress bar) and
each raw reader: every record read and its JSON decoded (``loads_object``, the replay's own
decoder), nothing else. For Kafka the raw readers are the three Python clients —
kafka-python (large fetches, 10,000 records a poll), aiokafka (``getmany``) and confluent-kafka
(``consume``, when installed) — and the baseline is the fastest of their medians; for the store,
the recorder's notifications selected in pages of 10,000. Figure: the replay's median events/s.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..services import Database
from ..suite import Context

KAFKA = "Replay, from Kafka"
SQLITE = "Replay, from the store (SQLite)"
POSTGRES = "Replay, from the store (PostgreSQL)"
TARGET_RATE = 100_000.0
TARGET_SHARE = 0.75
TARGET = f">= {TARGET_RATE / 1000:g}k/s and >= {TARGET_SHARE:g} x baseline"
PARTITIONS = 8
PAGE = 10_000
SEED = 1403


def sizes(ctx: Context) -> tuple[int, int]:
    """(events in the stream, rounds)."""
    return (2_000, 1) if ctx.smoke else (100_000, 3)


# ---------------------------------------------------------------------- the stream


def history(events: int, seed: int = SEED) -> Any:
    """A fresh in-memory application holding ``events`` events of the seeded synthetic history."""
    from eoc.app.keyring import SQLiteKeyring
    from eoc.app.service import EOCApplication
    from tests.support.history import aggregates  # the project's one seeded history generator

    app = EOCApplication(env={})
    aggregates(app, keyring=SQLiteKeyring(":memory:"), seed=seed).run(events)
    return app


def notifications(app: Any) -> list[Any]:
    return list(app.recorder.select_notifications(start=0, limit=100_000_000))


def envelopes(app: Any) -> list[dict[str, Any]]:
    """The stored envelopes (``Envelope.to_dict()``), as the relay publishes them."""
    from eoc.domain import to_envelope

    return [to_envelope(app.mapper.to_domain_event(n), position=n.id, as_stored=True).to_dict()
            for n in notifications(app)]


def publish(bootstrap: str, topic: str, values: list[dict[str, Any]]) -> float:
    """A new topic of ``PARTITIONS`` partitions holding ``values`` as the relay writes them; seconds."""
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

    from events.envelope import canonical_json

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="eoc-bench")
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024,
                             max_in_flight_requests_per_connection=1)
    t0 = time.perf_counter()
    for v in values:
        headers = [("ce_specversion", b"1.0"), ("ce_id", v["id"].encode()),
                   ("ce_type", f"ir.behzisti.eoc.{v['type']}.v{v['version']}".encode()),
                   ("ce_source", f"/eoc/{v['province']}".encode()), ("ce_time", v["occurred_at"].encode()),
                   ("content-type", b"application/json")]
        producer.send(topic, key=v["province"].encode(), value=canonical_json(v), headers=headers)
    producer.flush(timeout=120)
    producer.close()
    return time.perf_counter() - t0


def delete_topic(bootstrap: str, topic: str) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="eoc-bench")
    try:
        admin.delete_topics([topic])
    finally:
        admin.close()


# ---------------------------------------------------------------------- the readers


def timed(read: Callable[[], int]) -> dict[str, Any]:
    t0 = time.perf_counter()
    n = read()
    seconds = time.perf_counter() - t0
    return {"events": n, "seconds": round(seconds, 4), "rate": n / seconds}


def replay_rate(source: Any, expected: int) -> dict[str, Any]:
    from consumers.replay import replay

    def read() -> int:
        result = replay(source)
        if result.events != expected:
            raise AssertionError(f"the replay folded {result.events:,} of {expected:,} events")
        return result.events

    return timed(read)


UNDECODED = "a record of the stream does not decode"


def decoded(batches: dict[Any, list[Any]], left: dict[Any, int], pause: Callable[[Any], None]) -> int:
    """Decode every record of a fetch's ``batches``; a partition read to its end (``left``: the
    end offset of each partition not yet read to it) is paused and dropped. How many records."""
    from eoc.audit.sources import loads_object

    n = 0
    for tp, records in batches.items():
        for rec in records:
            if loads_object(rec.value)[0] is None:
                raise AssertionError(UNDECODED)
        n += len(records)
        if tp in left and records and records[-1].offset + 1 >= left[tp]:
            del left[tp]
            pause(tp)
    return n


def kafka_python(bootstrap: str, topic: str) -> int:
    """kafka-python: large fetches, 10,000 records a poll; every value decoded."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=8 * 1024 * 1024,
                             max_poll_records=PAGE, receive_buffer_bytes=4 * 1024 * 1024)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        first, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        consumer.assign(tps)
        left = {}
        for tp in tps:
            if end[tp] > first[tp]:
                consumer.seek(tp, first[tp])
                left[tp] = end[tp]
        n = 0
        while left:
            n += decoded(consumer.poll(timeout_ms=500, max_records=PAGE), left, consumer.pause)
        return n
    finally:
        consumer.close()


def aiokafka(bootstrap: str, topic: str) -> int:
    """aiokafka: ``getmany`` of up to 10,000 records; every value decoded."""

    async def read() -> int:
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            (described,) = await admin.describe_topics([topic])
        finally:
            await admin.close()
        tps = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                    fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=8 * 1024 * 1024,
                                    fetch_max_wait_ms=50)
        await consumer.start()
        try:
            consumer.assign(tps)
            first, end = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
            left = {}
            for tp in tps:
                if end[tp] > first[tp]:
                    consumer.seek(tp, first[tp])
                    left[tp] = end[tp]
                else:
                    consumer.pause(tp)
            n = 0
            while left:
                n += decoded(await consumer.getmany(timeout_ms=500, max_records=PAGE), left, consumer.pause)
            return n
        finally:
            await consumer.stop()

    return asyncio.run(read())


def confluent_kafka(bootstrap: str, topic: str) -> int:
    """confluent-kafka (librdkafka): ``consume`` of up to 10,000 messages; every value decoded."""
    from confluent_kafka import Consumer, TopicPartition

    from eoc.audit.sources import loads_object

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"eoc-bench-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "fetch.max.bytes": 64 * 1024 * 1024,
                         "max.partition.fetch.bytes": 8 * 1024 * 1024, "fetch.wait.max.ms": 50})
    try:
        left, tps = {}, []
        for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            first, end = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if end > first:
                left[p] = end
                tps.append(TopicPartition(topic, p, first))
        consumer.assign(tps)
        n = 0
        while left:
            for message in consumer.consume(PAGE, 0.5):
                if message.error():
                    continue
                if loads_object(message.value())[0] is None:
                    raise AssertionError(UNDECODED)
                n += 1
                p = message.partition()
                if p in left and message.offset() + 1 >= left[p]:
                    del left[p]
        return n
    finally:
        consumer.close()


def kafka_readers() -> dict[str, Callable[[str, str], int]]:
    """The raw readers of a topic, by client (confluent-kafka only when installed)."""
    readers: dict[str, Callable[[str, str], int]] = {"kafka-python": kafka_python, "aiokafka": aiokafka}
    try:
        import confluent_kafka as _  # noqa: F401  (not a dependency of the system: measured when present)
    except ImportError:
        return readers
    readers["confluent-kafka"] = confluent_kafka
    return readers


def store_raw(app: Any) -> int:
    """The recorder's notifications in pages of 10,000; every stored state decoded."""
    from eoc.audit.sources import loads_object

    recorder, position, n = app.recorder, 0, 0
    while True:
        page = recorder.select_notifications(start=position, limit=PAGE, inclusive_of_start=False)
        for notification in page:
            if loads_object(notification.state)[0] is None:
                raise AssertionError(UNDECODED)
        n += len(page)
        if len(page) < PAGE:
            return n
        position = page[-1].id


# ---------------------------------------------------------------------- the figures


def _figures(ctx: Context, scenario: str, runs: dict[str, list[dict[str, Any]]], detail: dict[str, Any]) -> None:
    median = {name: statistics.median(r["rate"] for r in found) for name, found in runs.items()}
    raw = {name: rate for name, rate in median.items() if name != "replay"}
    fastest = max(raw, key=lambda name: raw[name])
    rate, baseline = median["replay"], raw[fastest]
    ctx.add(scenario, "replay: events/s (read, decode, upcast, fold every board)", rate, "/s", baseline,
            f"fastest raw read + decode, same run ({fastest})", target=TARGET,
            met=rate >= TARGET_RATE and rate >= TARGET_SHARE * baseline)
    for name, value in sorted(raw.items()):
        if name != fastest:
            ctx.add(scenario, f"raw read + decode, {name}", value, "/s", baseline, f"the fastest ({fastest})")
    ctx.detail(scenario, {**detail, "median_rate": {k: round(v) for k, v in median.items()}, "runs": runs})


def _rounds(rounds: int, readers: dict[str, Callable[[], dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Each reader once a round, in turn, ``rounds`` times."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in readers}
    for _ in range(rounds):
        for name, read in readers.items():
            runs[name].append(read())
    return runs


def _kafka(ctx: Context) -> None:
    from eoc.audit.sources import KafkaSource

    events, rounds = sizes(ctx)
    bootstrap = ctx.services()["EOC_KAFKA_BOOTSTRAP"]
    values = envelopes(history(events))
    topic = f"bench.replay.{uuid.uuid4().hex[:10]}"
    published_s = publish(bootstrap, topic, values)
    try:
        readers: dict[str, Callable[[], dict[str, Any]]] = {
            "replay": lambda: replay_rate(KafkaSource(bootstrap, topic), len(values))}
        for name, read in kafka_readers().items():
            readers[name] = lambda read=read: timed(lambda: read(bootstrap, topic))  # type: ignore[misc]
        runs = _rounds(rounds, readers)
    finally:
        delete_topic(bootstrap, topic)
    _figures(ctx, KAFKA, runs, {"events": len(values), "partitions": PARTITIONS, "published_s": round(published_s, 2)})


def _store(ctx: Context, scenario: str, store: str) -> None:
    from eventsourcing.persistence import StoredEvent

    from eoc.app.config import Settings
    from eoc.app.service import EOCApplication
    from eoc.audit.sources import StoreSource

    events, rounds = sizes(ctx)
    stored = notifications(history(events))
    database = Database(ctx.services()["EOC_PG_DSN"], "replay") if store == "postgres" else None
    data = ctx.workdir / f"replay-{store}-{uuid.uuid4().hex[:6]}"
    data.mkdir(parents=True)
    settings = Settings.from_env({}, store=store, pg_dsn=database.dsn if database else None, data_dir=Path(data),
                                 token_secret=b"bench-key-7c1e9a3f5d2b8064ee19ab37c5d2", single_writer=True)
    app = EOCApplication(env=settings.eventsourcing_env())
    try:
        for i in range(0, len(stored), 5000):
            app.recorder.insert_events([StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
                                        for n in stored[i:i + 5000]])
        runs = _rounds(rounds, {"replay": lambda: replay_rate(StoreSource(app), len(stored)),
                                f"notifications in pages of {PAGE:,}": lambda: timed(lambda: store_raw(app))})
    finally:
        app.close()
        if database is not None:
            database.drop()
    _figures(ctx, scenario, runs, {"events": len(stored), "store": store})


async def run_kafka(ctx: Context) -> None:
    await asyncio.to_thread(_kafka, ctx)


async def run_sqlite(ctx: Context) -> None:
    await asyncio.to_thread(_store, ctx, SQLITE, "sqlite")


async def run_postgres(ctx: Context) -> None:
    await asyncio.to_thread(_store, ctx, POSTGRES, "postgres")
