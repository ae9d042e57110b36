"""The relay against the real broker and PostgreSQL: the raw records (key, partition,
CloudEvents headers, the event as stored), and resuming after a crash with no gap and
nothing sent twice."""

from __future__ import annotations

import json
import threading
from collections import defaultdict

import pytest
from aiokafka.partitioner import DefaultPartitioner
from kafka import KafkaProducer

from consumers.kafka_codec import POSITION_HEADER, WATERMARK_HEADER, event_record, header, relay_headers
from consumers.relay import AdvisoryLock, Relay, find_resume_point
from eoc.domain import to_envelope
from events.chain import GENESIS, link
from events.envelope import Envelope
from tests.support.cluster import cluster_history, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def _run(relay: Relay) -> threading.Thread:
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    assert relay.ready.wait(30), "the relay did not start following the log"
    return thread


def _stop(relay: Relay, thread: threading.Thread) -> None:
    relay.stop()
    thread.join(30)
    relay.close()


def test_a_published_event_is_a_cloudevent_keyed_by_province_in_its_province_partition(cluster, embedded, clock):
    history = cluster_history(embedded.service, clock, seed=5, provinces=("QZV", "THR"))
    history.setup()
    history.run(60)
    relay = Relay(embedded.app, cluster.bootstrap, cluster.layout)
    thread = _run(relay)
    stored = {n.id: n for n in embedded.app.recorder.select_notifications(start=0, limit=10_000)}
    events = cluster.reader(cluster.layout.events, rows=False)
    wait_until(lambda: events.catch_up() >= 0 and len(events.records) >= len(stored), timeout=60,
               what="every stored event on the topic")
    _stop(relay, thread)

    assert len(events.records) == len(stored)
    partitioner = DefaultPartitioner()
    by_aggregate = defaultdict(list)
    for record in events.records:
        headers = dict(record.headers)
        position = int(headers[POSITION_HEADER])
        stored_event = embedded.app.mapper.to_domain_event(stored[position])
        expected = to_envelope(stored_event, position=position, as_stored=True)
        # The key is the province, and the partition is the one a Kafka client's default
        # partitioner picks for that key (aiokafka's, which Faust uses, checks ours).
        assert record.key == expected.province.encode()
        assert record.partition == cluster.layout.partition_for(expected.province)
        all_partitions = list(range(cluster.layout.partitions))
        assert record.partition == partitioner(record.key, all_partitions, all_partitions)
        # CloudEvents 1.0, binary content mode.
        assert headers["ce_specversion"] == b"1.0"
        assert headers["ce_id"] == expected.id.encode()
        assert headers["ce_type"] == f"ir.behzisti.eoc.{expected.type}.v{expected.version}".encode()
        assert headers["ce_source"].decode().startswith(f"/eoc/{expected.province}/")
        assert headers["ce_time"] == expected.occurred_at.encode()
        assert headers["ce_subject"] == expected.aggregate_id.encode()
        assert headers["content-type"] == b"application/json"
        assert int(headers[WATERMARK_HEADER]) < position
        # The value is the event as stored, and decodes (upcast) to what the follower folds.
        assert json.loads(record.value) == expected.to_dict()
        assert Envelope.from_json(record.value) == to_envelope(stored_event, position=position)
        by_aggregate[expected.aggregate_id].append(json.loads(record.value))

    # The tamper chain can be checked on the topic alone: each event links to the one before.
    checked = 0
    for chain in by_aggregate.values():
        previous = GENESIS
        for event in sorted(chain, key=lambda e: e["aggregate_version"]):
            assert event["chain"] == link(previous, event)
            previous = event["chain"]
            checked += 1
    assert checked == len(stored)
    # Within a partition, the log order.
    for partition in {r.partition for r in events.records}:
        positions = [int(dict(r.headers)[POSITION_HEADER]) for r in events.records if r.partition == partition]
        assert positions == sorted(positions)


def test_a_relay_resumes_after_a_torn_publish_with_no_gap_and_nothing_twice(cluster, embedded, clock):
    """A relay killed while sends to several partitions were in flight leaves each partition
    with a prefix of what it sent, to a different point in the log. The next relay must send
    exactly the missing events: not everything after the highest position (a gap in the
    partitions that were behind), not everything again (duplicates)."""
    layout = cluster.layout
    history = cluster_history(embedded.service, clock, seed=11, provinces=("QZV", "ESF", "ALB"))
    history.setup()
    history.run(200)
    notifications = embedded.app.recorder.select_notifications(start=0, limit=10_000)
    envelopes = [to_envelope(embedded.app.mapper.to_domain_event(n), position=n.id, as_stored=True)
                 for n in notifications]
    partitions = sorted({layout.partition_for(e.province) for e in envelopes})
    assert len(partitions) == 3
    # What the dead relay got through: it had confirmed everything up to 1/8 of the log (its
    # watermark); beyond that, partition A got up to 3/4 of the log, B up to 1/4, C nothing more.
    n = len(envelopes)
    reached = {partitions[0]: envelopes[3 * n // 4].position, partitions[1]: envelopes[n // 4].position}
    watermark = envelopes[n // 8].position
    producer = KafkaProducer(bootstrap_servers=cluster.bootstrap, acks="all")
    for e in envelopes:
        p = layout.partition_for(e.province)
        if e.position <= max(watermark, reached.get(p, 0)):
            value, headers = event_record(e, extra_headers=relay_headers(e.position, min(watermark, e.position - 1)))
            producer.send(layout.events, key=e.province.encode(), value=value, headers=headers, partition=p)
    producer.flush()
    producer.close()

    resume = find_resume_point(cluster.bootstrap, layout.events, layout.partitions)
    assert resume.scan_from == watermark
    assert {p: resume.last_in_partition[p] for p in reached} == {
        p: max(e.position for e in envelopes if e.position <= reached[p] and layout.partition_for(e.province) == p)
        for p in reached}

    relay = Relay(embedded.app, cluster.bootstrap, layout)
    thread = _run(relay)
    events = cluster.reader(layout.events, rows=False)
    history.run(30)  # and it goes on following the log

    def published() -> list[int]:
        events.catch_up()
        return sorted(int(header(r.headers, POSITION_HEADER)) for r in events.records)

    def stored() -> list[int]:
        return [n.id for n in embedded.app.recorder.select_notifications(start=0, limit=10_000)]

    try:
        wait_until(lambda: published() == stored(), timeout=60, what="every stored event exactly once on the topic")
    finally:
        _stop(relay, thread)
    assert published() == stored()
    assert relay.skipped == sum(1 for e in envelopes if watermark < e.position <= reached.get(
        layout.partition_for(e.province), 0))
    for p in partitions:  # and each partition is still in log order
        ordered = [int(header(r.headers, POSITION_HEADER)) for r in events.records if r.partition == p]
        assert ordered == sorted(ordered)


def test_only_one_relay_publishes_at_a_time(fresh_pg_dsn):
    """A second relay waits on the PostgreSQL advisory lock until the first one is gone."""
    first = AdvisoryLock(fresh_pg_dsn, "eoc-relay:test")()
    second = AdvisoryLock(fresh_pg_dsn, "eoc-relay:test", retry_s=0.05)
    acquired = threading.Event()
    thread = threading.Thread(target=lambda: (second(), acquired.set()), daemon=True)
    thread.start()
    wait_until(lambda: second.attempts >= 3, timeout=10, what="the second relay to try for the lock")
    assert not acquired.is_set()  # it has tried, and waits
    first.close()  # the first relay is gone (its connection closed)
    assert acquired.wait(10)
    second.close()

    # A standby told to stop while it waits gives up.
    third, stop = AdvisoryLock(fresh_pg_dsn, "eoc-relay:test", retry_s=0.05), threading.Event()
    holder = AdvisoryLock(fresh_pg_dsn, "eoc-relay:test")()
    gave_up = threading.Thread(target=lambda: third(stop), daemon=True)
    gave_up.start()
    wait_until(lambda: third.attempts >= 2, timeout=10, what="the third relay to try")
    stop.set()
    gave_up.join(10)
    assert not gave_up.is_alive()
    third.close()
    holder.close()
