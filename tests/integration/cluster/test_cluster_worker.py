"""The Faust worker against the real broker and PostgreSQL: the same boards as the embedded
follower, the hourly figures, and poison messages on the dead-letter topic."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka import KafkaProducer

from consumers.kafka_codec import (
    BATCH_HEADER,
    DLQ_ERROR,
    DLQ_OFFSET,
    DLQ_PARTITION,
    DLQ_REASON,
    DLQ_TOPIC,
    POSITION_HEADER,
    header,
)
from consumers.telemetry import TelemetryPublisher
from events.envelope import iso
from events.jalali import IRST
from projections.hourly import hourly_figures
from tests.support.cluster import boards_converge, cluster_history, replay, stored_envelopes, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]


def test_one_history_gives_identical_boards_embedded_and_through_relay_and_faust(cluster, embedded, clock):
    """The embedded follower and relay + Faust worker fold the same history — calls, incidents,
    dispatches, admissions, drills and position reports — into identical boards, row for row.
    Nothing is left out of the comparison: position reports reach both runners (the follower
    directly, the worker through eoc.telemetry.positions), and as every command happens at a
    moment of its own, "the latest report wins" picks the same row whatever order a runner
    sees reports and status changes in."""
    publisher = TelemetryPublisher(cluster.bootstrap, cluster.layout)
    to_follower = embedded.service.telemetry_many
    shown_sent: list[int] = []

    def both(kept: list[Any], shown: list[Any]) -> None:
        # The follower keeps a report in the position track first; the worker gets it with its
        # place. The reports only shown reach it as the cluster's API sends them: a batch record.
        kept = to_follower(kept, shown)
        if kept:
            publisher.publish_many(kept)
        if shown:
            publisher.publish_shown(shown)
            shown_sent.append(len(shown))

    embedded.service.telemetry_many = both
    boards = cluster.reader(cluster.layout.boards)
    cluster.start("relay")
    cluster.start("worker")

    history = cluster_history(embedded.service, clock, seed=2026, telemetry=True)
    history.setup()
    history.run(1500)  # while the relay and the worker run
    publisher.close()
    last = embedded.app.recorder.max_notification_id()
    assert embedded.follower.wait_for(last, timeout=30)
    _, expected = embedded.follower.snapshot()

    assert history.reports > 50 and any(k.startswith("drill/") for k in expected)
    boards_converge(boards, expected, timeout=120, cluster=cluster)
    # And both are right: without the telemetry, the boards are a replay of the log; with the
    # position track, they are a replay of the log and the track, positions included.
    assert _without_positions(expected) == _without_positions(replay(embedded.app))
    from consumers.replay import replay as audit_replay
    from eoc.audit.diff import kept_positions
    from eoc.audit.sources import StoreSource

    # A replay shows what history holds of the positions: each team's last kept point.
    assert audit_replay(StoreSource(embedded.app, track=embedded.follower.track)).rows == kept_positions(expected)
    assert sum(shown_sent) > 0, "reports only shown were among the ones compared"


def test_hourly_figures_on_the_topic_are_the_projections_real_calls_per_local_hour(cluster, embedded, clock):
    """eoc.figures.hourly counts each real classified call once, in the local hour (Iran
    Standard Time) it came in, per province and category; drill calls are not counted. The
    records are the embedded follower's own hourly figures, record for record: one projection,
    folded by every runner (projections/hourly.py)."""
    hourly = cluster.reader(cluster.layout.figures_hourly)
    cluster.start("relay")
    cluster.start("worker")
    history = cluster_history(embedded.service, clock, seed=7, drill_share=0.3)
    history.setup()
    history.run(600)

    expected: Counter[str] = Counter()
    drills = 0
    for e in stored_envelopes(embedded.app):
        if e.type == "CallClassified":
            if e.exercise:
                drills += 1
                continue
            received = datetime.fromisoformat(e.payload["received_at"]).astimezone(IRST)
            hour = iso(received.replace(minute=0, second=0, microsecond=0))
            expected[f"{e.province}/{e.payload['category']}/{hour}"] += 1
    assert drills and expected
    assert all(key.endswith(":30:00.000Z") for key in expected), "a local hour starts at half past in UTC"

    def counted() -> dict[str, int]:
        hourly.catch_up()
        return {k: v["calls"] for k, v in hourly.rows.items()}

    wait_until(lambda: counted() == dict(expected), timeout=120, what="the hourly figures")
    last = embedded.app.recorder.max_notification_id()
    assert embedded.follower.wait_for(last, timeout=30)
    _, rows = embedded.follower.snapshot()
    assert hourly.rows == hourly_figures(rows)


def test_poison_messages_go_to_the_dead_letter_topic_and_the_boards_stay_right(cluster, embedded, clock):
    """Garbage bytes, a well-formed envelope of an unknown type, an invalid payload and a
    stored event without a log position each land on eoc.events.dlq with the reason and where
    they came from; the worker goes on and the boards equal a replay of the event store."""
    layout = cluster.layout
    boards, dlq = cluster.reader(layout.boards), cluster.reader(layout.dlq, rows=False)
    cluster.start("relay")
    cluster.start("worker")
    history = cluster_history(embedded.service, clock, seed=99)
    history.setup()
    history.run(150)

    qzv = layout.partition_for("QZV")
    producer = KafkaProducer(bootstrap_servers=cluster.bootstrap, acks="all")
    # A well-formed envelope, only of a type no one has heard of — with a log position far
    # ahead, so that folding it would make the worker skip every later QZV event.
    alien = _envelope("AlienLanded", {"where": "Qazvin"}, position=10**9)
    invalid = _envelope("CallClassified", {"category": "not-a-category", "priority": "urgent",
                                           "received_at": "2026-11-23T08:00:00.000Z"}, position=10**9)
    unplaced = _envelope("CallReceived", {"line": "123", "caller": "S-anon", "received_at": "2026-11-23T08:00:00.000Z"},
                         position=None)
    poison = [
        (layout.events, b"QZV", b"\x00\xff not json at all {", "invalid"),
        (layout.events, b"QZV", alien, "unknown_type"),
        (layout.events, b"QZV", invalid, "invalid"),
        (layout.events, b"QZV", unplaced, "invalid"),
        (layout.telemetry, str(uuid.uuid4()).encode(), b"[1, 2, 3]", "invalid"),
        # A batch of reports only shown (consumers/kafka_codec.batch_record) whose two items are
        # broken: one dead letter for the record, naming both.
        (layout.telemetry, b"QZV", b'[{"type": "TeamPositionReported"}, 5]', "invalid"),
    ]
    sent = []
    for topic, key, value, _ in poison:
        batch = [(BATCH_HEADER, b"2")] if value.startswith(b"[{") else []
        meta = producer.send(topic, key=key, value=value, partition=qzv, headers=[("ce_id", b"poison"), *batch])
        sent.append(meta.get(timeout=30))
    producer.close()
    history.run(150)  # the worker goes on: later events of the same partition are folded

    wait_until(lambda: dlq.catch_up() >= 0 and len(dlq.records) >= len(poison), timeout=120,
               what="the dead letters")
    assert len(dlq.records) == len(poison)
    letters = {(header(r.headers, DLQ_TOPIC), header(r.headers, DLQ_OFFSET)): r for r in dlq.records}
    reasons = []
    for (topic, key, value, kind), meta in zip(poison, sent, strict=True):
        record = letters[(topic.encode(), str(meta.offset).encode())]
        reasons.append(header(record.headers, DLQ_REASON).decode())
        assert record.key == key and record.value == value
        assert header(record.headers, DLQ_ERROR) == kind.encode()
        assert header(record.headers, DLQ_PARTITION) == str(meta.partition).encode()
        assert header(record.headers, "ce_id") == b"poison"  # the original headers are kept
    assert "not JSON" in reasons[0] and "AlienLanded" in reasons[1] and "not-a-category" in reasons[2]
    assert "position" in reasons[3]
    assert reasons[5].startswith("2 of 2 reports of the batch: #0 ") and "#1 " in reasons[5]

    boards_converge(boards, replay(embedded.app), timeout=120, cluster=cluster)

    # A relay started again after poison on its topic resumes where it was (it skips records
    # that are not its own) and sends nothing twice.
    cluster.processes["relay"].stop()
    cluster.start("relay")
    history.run(50)
    events = cluster.reader(layout.events, rows=False)
    wait_until(lambda: events.catch_up() >= 0 and _positions(events) == _store_positions(embedded),
               timeout=60, what="the relay to publish every stored event exactly once")
    boards_converge(boards, replay(embedded.app), timeout=120, cluster=cluster)


def _envelope(type_: str, payload: dict[str, Any], *, position: int | None) -> bytes:
    now = iso(datetime.now(UTC))
    return json.dumps({
        "type": type_, "version": 1, "id": str(uuid.uuid4()), "aggregate_id": str(uuid.uuid4()),
        "aggregate_version": 1, "occurred_at": now, "recorded_at": now, "province": "QZV",
        "county": "Qazvin", "actor": {"role": "system", "user": "x"}, "exercise": False,
        "payload": payload, "position": position, "chain": None,
    }).encode()


def _positions(reader) -> list[int]:
    """The log positions the relay published, sorted (a duplicate would show twice)."""
    return sorted(int(p) for r in reader.records if (p := header(r.headers, POSITION_HEADER)) is not None)


def _without_positions(rows: dict[str, Any]) -> dict[str, Any]:
    """The rows without team positions, and without the position track's marks in as-of rows."""
    return {k: ({f: x for f, x in v.items() if not f.startswith("telemetry")} if k.startswith("as-of/") else v)
            for k, v in rows.items() if "position/" not in k}


def _store_positions(embedded) -> list[int]:
    return [e.position for e in stored_envelopes(embedded.app)]
