"""Hostile histories through the cluster's runners: relay + Faust worker against the real
broker and PostgreSQL fold the same boards as the embedded follower and a replay, poison
events become the same dead-letter rows everywhere, and the worker also puts them on the
dead-letter topic with their reason. Every history holds a payload that breaks the
catalogue's schema (the case the runners once decided apart: the follower folded it, the
worker refused it at decoding and wrote no row); the test checks it occurred and that every
runner made it the same named dead letter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.kafka_codec import DLQ_ERROR, DLQ_REASON, header
from tests.support.cluster import boards_converge, cluster_history, replay, wait_until
from tests.support.poison import (
    HOSTILE_TEXT,
    incident_in_year_999,
    incident_without_a_location,
    team_with_hostile_name,
    undecodable_row,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

STEP = st.one_of(st.integers(1, 12).map(lambda n: ("commands", n)),
                 st.sampled_from([incident_in_year_999, incident_without_a_location]).map(lambda p: ("poison", p)),
                 st.sampled_from(HOSTILE_TEXT).map(lambda t: ("text", t)))
# At least one payload that breaks its schema, at a drawn place in the history.
STEPS = st.tuples(st.lists(STEP, min_size=3, max_size=11), st.integers(0, 11)).map(
    lambda t: [*t[0][:t[1]], ("poison", incident_without_a_location), *t[0][t[1]:]])


@settings(max_examples=2, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=STEPS)
def test_hostile_histories_fold_alike_in_the_follower_the_faust_worker_and_replay(cluster, embedded, clock, steps):
    """Each example adds to the same store and topics: after each, the three runners agree."""
    boards = cluster.reader(cluster.layout.boards)
    dlq = cluster.reader(cluster.layout.dlq, rows=False)
    if "worker" not in cluster.processes:
        cluster.start("relay")
        cluster.start("worker")
    history = cluster_history(embedded.service, clock, seed=len(steps))
    history.setup()
    breaking = 0
    for kind, value in steps:
        clock.advance(seconds=61)
        if kind == "commands":
            history.run(value)
        elif kind == "text":
            team_with_hostile_name(embedded.app, datetime.now(UTC), value)
        else:
            value(embedded.app, datetime.now(UTC), "[/]")
            breaking += value is incident_without_a_location
    assert breaking >= 1  # the hostile case occurred in this history
    last = embedded.app.recorder.max_notification_id()
    assert embedded.follower.wait_for(last, timeout=30)
    _, followed = embedded.follower.snapshot()
    expected = replay(embedded.app)
    assert followed == expected
    letters = {k: r for k, r in expected.items() if k.startswith("deadletter/")}
    assert all(r["type"] == "IncidentOpened" and r["reason"] for r in letters.values())
    invalid = {k for k, r in letters.items() if r["reason"].startswith("InvalidPayload: IncidentOpened: ")}
    assert len(invalid) >= breaking  # (the store and topics are shared by the examples)
    # The worker's boards equal them: the same dead-letter rows, named alike.
    boards_converge(boards, expected, timeout=120, cluster=cluster)
    wait_until(lambda: dlq.catch_up() >= 0 and len(dlq.records) >= len(letters), timeout=60,
               what="a dead-letter record for every poison event")
    kinds = {header(r.headers, DLQ_ERROR) for r in dlq.records}
    assert b"invalid" in kinds and kinds <= {b"fold_failed", b"invalid"}
    for r in dlq.records:
        reason = header(r.headers, DLQ_REASON)
        if header(r.headers, DLQ_ERROR) == b"invalid":
            assert reason.startswith(b"InvalidPayload: IncidentOpened: ")
        else:
            assert b"Invalid isoformat" in reason
    assert {header(r.headers, DLQ_REASON).decode() for r in dlq.records} == {r["reason"] for r in letters.values()}


def test_a_stored_row_that_is_not_an_event_is_relayed_as_a_dead_letter_and_the_stream_goes_on(cluster, embedded,
                                                                                            clock):
    """A row no catalogue knows, in the middle of the log: the relay does not stop on it (it
    once did, and every restart stopped there again). It reaches eoc.events as the relay's
    record of it; the worker makes the same dead-letter row as the follower and a replay, and
    the events after it are folded too. A replay from Kafka makes the same boards."""
    from eoc.audit.sources import KafkaSource
    from projections import Board, fold, undecodable

    boards = cluster.reader(cluster.layout.boards)
    dlq = cluster.reader(cluster.layout.dlq, rows=False)
    cluster.start("relay")
    cluster.start("worker")
    history = cluster_history(embedded.service, clock, seed=99)
    history.setup()
    history.run(5)
    undecodable_row(embedded.app, datetime.now(UTC), "")
    bad = embedded.app.recorder.max_notification_id()
    clock.advance(seconds=61)
    history.run(40)  # after it: these must reach the boards too
    last = embedded.app.recorder.max_notification_id()
    assert last > bad
    assert embedded.follower.wait_for(last, timeout=30)
    _, followed = embedded.follower.snapshot()
    expected = replay(embedded.app)
    assert followed == expected
    letter = expected[f"deadletter/{bad}"]
    assert letter["type"] is None and "vanished" in letter["reason"], letter
    boards_converge(boards, expected, timeout=120, cluster=cluster)
    wait_until(lambda: dlq.catch_up() >= 0 and any(header(r.headers, DLQ_ERROR) == b"not_an_event"
                                                   for r in dlq.records), timeout=60,
               what="the dead-letter record of the stored row")
    record = next(r for r in dlq.records if header(r.headers, DLQ_ERROR) == b"not_an_event")
    assert header(record.headers, DLQ_REASON).decode() == letter["reason"]
    # The auditor's replay from Kafka: the same boards, the row said in its errors.
    board, errors = Board(), []
    source = KafkaSource(cluster.bootstrap, cluster.layout.events)
    fold(source.envelopes(errors=errors, undecodable=lambda p, why: undecodable(board, p, why)), board)
    assert dict(board.rows) == expected
    assert errors == [(f"position {bad}", letter["reason"])]
    assert "relay stops" not in cluster.logs()
