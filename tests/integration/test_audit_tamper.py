"""Tamper evidence on real stores and a real topic: a modified, deleted, inserted or reordered
event is caught and named; a history rewritten with recomputed links is caught by the signed
checkpoints."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from eoc.audit.checkpoints import CheckpointPublisher, SQLiteCheckpointLog, load_or_create_key
from eoc.audit.sources import KafkaSource, StoreSource
from eoc.audit.verify import verify
from eoc.cli import main
from events.chain import GENESIS, link
from tests.support.audit import (
    RawStore,
    cli_env,
    longest_stream,
    publish,
    signed_checkpoints,
    stored_dicts,
    with_history,
)
from tests.support.history import aggregates


@pytest.fixture
def history(make_system: Any) -> Any:
    system = make_system()
    with_history(system, 400, seed=5)
    return system


def target(system: Any) -> list[dict[str, Any]]:
    """The longest stream (a team's): the events the tests tamper with, in version order."""
    stream = longest_stream(stored_dicts(system.app))
    assert len(stream) >= 8
    return stream


def tampered(verdict: Any) -> list[tuple[str, str | None, int | None]]:
    return sorted((f.kind, f.event_id, f.version) for f in verdict.findings if f.tampered)


def verify_store(system: Any, **kw: Any) -> Any:
    from eoc.app.service import EOCApplication

    app = EOCApplication(env=system.settings.eventsourcing_env())  # an auditor's own reader
    try:
        return verify(StoreSource(app), **kw)
    finally:
        app.close()


# ---------------------------------------------------------------------- the event store


def test_an_untouched_store_verifies(history: Any) -> None:
    verdict = verify_store(history)
    assert verdict.ok, [f.line() for f in verdict.findings]
    assert verdict.events == history.app.recorder.max_notification_id()


def test_a_modified_event_is_named(history: Any) -> None:
    stream = target(history)
    victim = stream[3]
    raw = RawStore(history)
    state = raw.state(victim["aggregate_id"], 4)
    state["occurred_at"] = "2024-08-20T01:00:00.000Z"  # backdated, chain value kept
    raw.set_state(victim["aggregate_id"], 4, state)
    raw.close()
    verdict = verify_store(history)
    assert tampered(verdict) == [("modified", victim["id"], 4)]
    finding = verdict.tampered[0]
    assert finding.aggregate_id == victim["aggregate_id"] and finding.position == victim["position"]
    assert f"position {victim['position']}" in finding.line()


def test_a_deleted_event_is_named(history: Any) -> None:
    stream = target(history)
    raw = RawStore(history)
    raw.delete(stream[3]["aggregate_id"], 4)
    raw.close()
    verdict = verify_store(history)
    assert tampered(verdict) == [("deleted", None, 4)]
    finding = verdict.tampered[0]
    assert finding.aggregate_id == stream[3]["aggregate_id"]
    assert stream[2]["id"] in finding.detail and stream[4]["id"] in finding.detail  # between which two


def _forged_after(previous: dict[str, Any], template: dict[str, Any], version: int) -> tuple[dict[str, Any], str]:
    """A well-made fake: a new event id, a plausible payload, and a correctly computed link."""
    fields = {**template, "id": str(uuid.uuid4()), "aggregate_version": version,
              "occurred_at": "2024-08-20T02:13:00.000Z"}
    return fields, link(previous["chain"], fields)


def test_an_inserted_event_is_named(history: Any) -> None:
    stream = target(history)
    agg = stream[0]["aggregate_id"]
    raw = RawStore(history)
    state = raw.state(agg, 4)
    topic = raw.topic(agg, 4)
    for version in range(len(stream), 3, -1):  # make room at version 4
        raw.renumber(agg, version, version + 1)
    fields, chain = _forged_after(stream[2], stream[3], 4)
    state.update(event_id=fields["id"], occurred_at=fields["occurred_at"], chain=chain)
    raw.insert(agg, 4, topic, state)
    raw.close()
    verdict = verify_store(history)
    assert tampered(verdict) == [("inserted", fields["id"], 4)]


def test_reordered_events_are_named(history: Any) -> None:
    stream = target(history)
    agg = stream[0]["aggregate_id"]
    raw = RawStore(history)
    raw.renumber(agg, 4, -1)
    raw.renumber(agg, 5, 4)
    raw.renumber(agg, -1, 5)
    raw.close()
    verdict = verify_store(history)
    assert tampered(verdict) == sorted([("reordered", stream[3]["id"], 5), ("reordered", stream[4]["id"], 4)])


def test_the_verify_command_names_it_and_fails(history: Any, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    cli_env(monkeypatch, history)
    assert main(["verify", "--quiet"]) == 1  # no signed checkpoint: that alone fails, loudly
    assert "NO SIGNED CHECKPOINT" in capsys.readouterr().err
    assert main(["verify", "--quiet", "--checkpoints", "none"]) == 0  # the links only, asked for
    stream = target(history)
    raw = RawStore(history)
    raw.delete(stream[5]["aggregate_id"], 6)
    raw.close()
    capsys.readouterr()
    assert main(["verify", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "DELETED" in out and stream[5]["aggregate_id"] in out and "version 6" in out and "TAMPERED" in out


# ---------------------------------------------------------------------- signed checkpoints


def test_a_history_rewritten_with_new_links_fails_its_checkpoints(history: Any) -> None:
    checkpoints, public = signed_checkpoints(history)
    assert verify_store(history, checkpoints=checkpoints, public_keys=[public]).ok
    stream = target(history)
    agg = stream[0]["aggregate_id"]
    raw = RawStore(history)
    previous = stream[2]["chain"]
    for i, event in enumerate(stream[3:], start=3):  # change v4, then recompute every later link
        fields = copy.deepcopy(event)
        if i == 3:
            fields["occurred_at"] = "2024-08-20T02:13:00.000Z"
        chain = link(previous, fields)
        state = raw.state(agg, i + 1)
        state.update(occurred_at=fields["occurred_at"], chain=chain)
        raw.set_state(agg, i + 1, state)
        previous = chain
    raw.close()
    chains_only = verify_store(history)
    assert chains_only.ok  # the links alone cannot tell
    verdict = verify_store(history, checkpoints=checkpoints, public_keys=[public])
    found = verdict.tampered
    assert found and {f.kind for f in found} == {"checkpoint"}
    first = min(c["sequence"] for c in checkpoints if c["position"] >= stream[3]["position"])
    assert f"checkpoint #{first} " in found[0].detail and stream[0]["province"] in found[0].detail
    assert "changed or reordered" in found[0].detail


def test_events_cut_off_the_end_of_a_stream_fail_the_checkpoints(history: Any) -> None:
    checkpoints, public = signed_checkpoints(history)
    values = stored_dicts(history.app)
    heads: dict[str, dict[str, Any]] = {}
    for v in values:
        heads[v["aggregate_id"]] = v
    middle = sorted(heads.values(), key=lambda v: v["position"])[len(heads) // 2]  # a stream's last event
    raw = RawStore(history)
    raw.delete(middle["aggregate_id"], middle["aggregate_version"])
    raw.close()
    assert verify_store(history).ok  # no link is broken: the stream just looks shorter
    verdict = verify_store(history, checkpoints=checkpoints, public_keys=[public])
    assert {f.kind for f in verdict.tampered} == {"checkpoint"}
    assert middle["province"] in verdict.tampered[0].detail and "events were removed" in verdict.tampered[0].detail

    last = max(values, key=lambda v: v["position"])
    raw = RawStore(history)
    raw.delete(last["aggregate_id"], last["aggregate_version"])  # and the last event of the log
    raw.close()
    verdict = verify_store(history, checkpoints=checkpoints, public_keys=[public])
    assert any(f.kind == "deleted" and "cut off its end" in f.detail for f in verdict.tampered)


def test_a_forged_checkpoint_is_refused(history: Any) -> None:
    checkpoints, public = signed_checkpoints(history)
    forged = copy.deepcopy(checkpoints)
    forged[1]["events"] += 1
    verdict = verify_store(history, checkpoints=forged, public_keys=[public])
    assert any(f.kind == "checkpoint" and "signature" in f.detail for f in verdict.findings)


def test_checkpoint_and_verify_commands(history: Any, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    cli_env(monkeypatch, history)
    assert main(["checkpoint"]) == 0
    assert "checkpoint #1" in capsys.readouterr().out
    assert main(["checkpoint", "--public-key"]) == 0
    assert "BEGIN PUBLIC KEY" in capsys.readouterr().out
    assert main(["verify", "--quiet"]) == 0
    assert "1 signed checkpoints" in capsys.readouterr().out
    stream = target(history)
    raw = RawStore(history)
    state = raw.state(stream[0]["aggregate_id"], 2)
    state["chain"] = link(GENESIS, {**stream[1], "aggregate_version": 2})  # a clumsy rewrite
    raw.set_state(stream[0]["aggregate_id"], 2, state)
    raw.close()
    assert main(["verify", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "CHECKPOINT" in out and "TAMPERED" in out


# ---------------------------------------------------------------------- a Kafka topic


@pytest.fixture
def stream_values() -> list[dict[str, Any]]:
    """A history in an in-memory store: the topics get a copy of it, tampered with or not."""
    from eoc.app.keyring import SQLiteKeyring
    from eoc.app.service import EOCApplication

    app = EOCApplication(env={})
    aggregates(app, keyring=SQLiteKeyring(":memory:"), seed=9).run(400)
    return stored_dicts(app)


def _verify_topic(kafka_bootstrap: str, topic: str, values: list[dict[str, Any]]) -> Any:
    publish(kafka_bootstrap, topic, values)
    return verify(KafkaSource(kafka_bootstrap, topic))


@pytest.mark.kafka
def test_a_topic_copy_verifies_and_redeliveries_are_not_tampering(
        kafka_bootstrap: str, kafka_topic: Any, stream_values: list[dict[str, Any]]) -> None:
    redelivered = stream_values[:300] + stream_values[250:]  # a relay that resent 50 records
    verdict = _verify_topic(kafka_bootstrap, kafka_topic(), redelivered)
    assert verdict.ok, [f.line() for f in verdict.findings]
    assert verdict.events == len(stream_values) and verdict.duplicates == 50


@pytest.mark.kafka
def test_a_modified_record_on_the_topic_is_named(kafka_bootstrap: str, kafka_topic: Any,
                                                 stream_values: list[dict[str, Any]]) -> None:
    stream = longest_stream(stream_values)
    victim = stream[3]
    copied = [copy.deepcopy(v) for v in stream_values]
    for v in copied:
        if v["id"] == victim["id"]:
            v["actor"] = {"role": "dispatcher", "user": "someone-else"}
    verdict = _verify_topic(kafka_bootstrap, kafka_topic(), copied)
    assert tampered(verdict) == [("modified", victim["id"], 4)]
    assert "partition" in verdict.tampered[0].where and "offset" in verdict.tampered[0].where


@pytest.mark.kafka
def test_a_skipped_record_on_the_topic_is_named(kafka_bootstrap: str, kafka_topic: Any,
                                                stream_values: list[dict[str, Any]]) -> None:
    stream = longest_stream(stream_values)
    copied = [v for v in stream_values if v["id"] != stream[3]["id"]]
    verdict = _verify_topic(kafka_bootstrap, kafka_topic(), copied)
    assert tampered(verdict) == [("deleted", None, 4)]
    assert verdict.tampered[0].aggregate_id == stream[3]["aggregate_id"]


@pytest.mark.kafka
def test_an_inserted_record_on_the_topic_is_named(kafka_bootstrap: str, kafka_topic: Any,
                                                  stream_values: list[dict[str, Any]]) -> None:
    stream = longest_stream(stream_values)
    fields, chain = _forged_after(stream[2], stream[3], 4)
    forged = {**fields, "chain": chain}
    copied = []
    for v in stream_values:
        if v["id"] == stream[3]["id"]:
            copied.append(forged)  # right before the genuine version 4
        copied.append(v)
    verdict = _verify_topic(kafka_bootstrap, kafka_topic(), copied)
    assert tampered(verdict) == [("inserted", forged["id"], 4)]


@pytest.mark.kafka
def test_reordered_records_on_the_topic_are_named(kafka_bootstrap: str, kafka_topic: Any,
                                                  stream_values: list[dict[str, Any]]) -> None:
    stream = longest_stream(stream_values)
    a, b = stream[3]["id"], stream[4]["id"]
    copied = list(stream_values)
    i, j = (next(k for k, v in enumerate(copied) if v["id"] == x) for x in (a, b))
    copied[i], copied[j] = copied[j], copied[i]
    verdict = _verify_topic(kafka_bootstrap, kafka_topic(), copied)
    kinds = {(f.kind, f.event_id) for f in verdict.tampered}
    assert kinds and {k for k, _ in kinds} == {"reordered"}
    assert {e for _, e in kinds} <= {a, b} and kinds & {("reordered", a), ("reordered", b)}


@pytest.mark.kafka
def test_the_topic_is_checked_against_the_signed_checkpoints(
        history: Any, kafka_bootstrap: str, kafka_topic: Any) -> None:
    checkpoints, public = signed_checkpoints(history)
    values = stored_dicts(history.app)
    good = kafka_topic()
    publish(kafka_bootstrap, good, values)
    verdict = verify(KafkaSource(kafka_bootstrap, good), checkpoints=checkpoints, public_keys=[public])
    assert verdict.ok and verdict.checkpoints == len(checkpoints)
    stream = longest_stream(values)
    # A forger who recomputes the links of a rewritten stream on the topic.
    rewritten, previous = [], stream[2]["chain"]
    changed = {}
    for event in stream[3:]:
        fields = {**event, "occurred_at": "2024-08-20T02:13:00.000Z"} if event is stream[3] else dict(event)
        fields["chain"] = previous = link(previous, fields)
        changed[event["id"]] = fields
    rewritten = [changed.get(v["id"], v) for v in values]
    bad = kafka_topic()
    publish(kafka_bootstrap, bad, rewritten)
    assert verify(KafkaSource(kafka_bootstrap, bad)).ok
    verdict = verify(KafkaSource(kafka_bootstrap, bad), checkpoints=checkpoints, public_keys=[public])
    assert {f.kind for f in verdict.tampered} == {"checkpoint"}


@pytest.mark.kafka
def test_records_of_two_streams_swapped_on_the_topic_are_named(kafka_bootstrap: str, kafka_topic: Any,
                                                               stream_values: list[dict[str, Any]]) -> None:
    # Each stream still links; only the log positions show that a board would fold them out of order.
    i = 200
    j = next(k for k in range(i + 1, len(stream_values))
             if stream_values[k]["province"] == stream_values[i]["province"]
             and stream_values[k]["aggregate_id"] != stream_values[i]["aggregate_id"])
    assert all(v["aggregate_id"] not in (stream_values[i]["aggregate_id"], stream_values[j]["aggregate_id"])
               or k in (i, j) for k, v in enumerate(stream_values[i:j + 1], start=i))
    copied = list(stream_values)
    copied[i], copied[j] = copied[j], copied[i]
    verdict = _verify_topic(kafka_bootstrap, kafka_topic(), copied)
    found = verdict.tampered
    assert found and {f.kind for f in found} == {"reordered"}
    assert {f.event_id for f in found} <= {stream_values[i]["id"], stream_values[j]["id"]}
    assert "out of order" in found[0].detail


def test_checkpoints_are_published_every_n_events_while_the_system_runs(make_system: Any) -> None:
    import time

    system = make_system()
    key = load_or_create_key(system.settings.data_dir / "audit_ed25519.pem")
    log = SQLiteCheckpointLog(system.settings.data_dir / "audit.sqlite")
    publisher = CheckpointPublisher(StoreSource(system.app), key, [log], every_events=100, every_s=3600).start()
    try:
        history = with_history(system, 250, seed=31)
        deadline = time.monotonic() + 30
        while len(log.load()) < 2 and time.monotonic() < deadline:  # published on the publisher's thread
            time.sleep(0.05)
        history.run(100)
    finally:
        publisher.stop()
    publisher.publish()  # and the rest, as a shutdown would
    records = log.load()
    log.close()
    assert len(records) >= 3 and records[-1]["position"] == system.app.recorder.max_notification_id()
    assert all(b["position"] - a["position"] >= 100 for a, b in zip(records[:-2], records[1:-1], strict=True))
    verdict = verify_store(system, checkpoints=records, public_keys=[key.public_key()])
    assert verdict.ok and verdict.checkpoints == len(records)


@pytest.mark.kafka
def test_checkpoints_on_their_topic(history: Any, kafka_bootstrap: str, kafka_topic: Any,
                                    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    topic = kafka_topic(partitions=1, stem="checkpoints")
    cli_env(monkeypatch, history)
    monkeypatch.setenv("EOC_KAFKA_BOOTSTRAP", kafka_bootstrap)
    assert main(["checkpoint", "--publish", "table,kafka", "--checkpoint-topic", topic]) == 0
    with_history(history, 50, seed=32)
    assert main(["checkpoint", "--publish", "table,kafka", "--checkpoint-topic", topic]) == 0
    capsys.readouterr()
    assert main(["verify", "--quiet", "--checkpoints", "kafka", "--checkpoint-topic", topic]) == 0
    assert "2 signed checkpoints" in capsys.readouterr().out
    raw = RawStore(history)
    raw.delete(target(history)[0]["aggregate_id"], 3)
    raw.close()
    assert main(["verify", "--quiet", "--checkpoints", "kafka", "--checkpoint-topic", topic]) == 1
    out = capsys.readouterr().out
    assert "DELETED" in out and "CHECKPOINT" in out
