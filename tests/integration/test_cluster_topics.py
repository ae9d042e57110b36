"""Topics as code: the layout on the real broker, the AsyncAPI document generated from it,
the wire codec's verdicts, and the production docker-compose file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from consumers import asyncapi
from consumers.kafka_codec import DeadLetter, decode_event, encode_row, event_record
from consumers.topics import BOARDS, DLQ, EVENTS, TELEMETRY, TOPICS, Layout, describe_topics, ensure_topics
from events.catalogue import CATALOGUE
from events.envelope import Envelope

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------- the broker


@pytest.mark.kafka
def test_the_topics_are_created_as_the_layout_says_and_creating_again_changes_nothing(kafka_bootstrap):
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    layout, other = Layout(prefix=f"t{uuid.uuid4().hex[:10]}."), Layout(prefix=f"t{uuid.uuid4().hex[:10]}.")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        first = ensure_topics(admin, layout)
        assert {s.name: s.status for s in first} == {layout.name(t): "created" for t in TOPICS}
        again = ensure_topics(admin, layout)
        assert {s.status for s in again} == {"exists"}

        partitions = {s.name: s.partitions for s in again}
        assert partitions[layout.events] == partitions[layout.telemetry] == 8
        assert partitions[layout.dlq] == 1
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, layout.name(t)) for t in (EVENTS, TELEMETRY, BOARDS, DLQ)],
            config_filter="all")["topic"]

        def cfg(topic, key):
            return configs[layout.name(topic)][key]["value"]

        assert (cfg(EVENTS, "cleanup.policy"), cfg(EVENTS, "retention.ms")) == ("delete", "-1")  # the audit stream
        assert (cfg(TELEMETRY, "cleanup.policy"), cfg(TELEMETRY, "retention.ms")) == ("delete", "86400000")
        assert cfg(BOARDS, "cleanup.policy") == "compact"
        assert cfg(DLQ, "retention.ms") == str(30 * 24 * 3600 * 1000)

        # A topic that exists with another partition count is reported, not changed.
        admin.create_topics({other.dlq: {"num_partitions": 2, "replication_factor": 1}}, wait_for_metadata=True)
        states = {s.name: s for s in ensure_topics(admin, other)}
        assert states[other.dlq].status == "mismatch"
        assert "2 partitions, the layout says 1" in states[other.dlq].problems
        assert {s.name: s.status for s in describe_topics(admin, other)}[other.events] == "exists"
    finally:
        for made in (layout, other):
            admin.delete_topics([made.name(t) for t in TOPICS], raise_errors=False)
        admin.close()


def test_a_province_has_one_partition_for_all_its_topics():
    layout = Layout()
    assert layout.partition_for("QZV") == layout.partition_for("QZV") == 3
    assert {layout.partition_for(p) for p in ("QZV", "THR", "ESF", "ALB", "KSH")} == {0, 1, 3, 5}
    assert Layout(partitions=16).partition_for("QZV") != Layout(partitions=16).partition_for("ALB")


# ---------------------------------------------------------------------- the AsyncAPI document


def test_the_asyncapi_document_in_the_repository_is_what_the_code_generates():
    text = (ROOT / "events" / "asyncapi.yaml").read_text(encoding="utf-8")
    assert text == asyncapi.render(), "events/asyncapi.yaml is stale: run `eoc topics --asyncapi`"


def test_the_asyncapi_document_describes_every_topic_and_every_event_type():
    doc = asyncapi.build()
    assert doc["asyncapi"].startswith("2.6")
    channels = doc["channels"]
    for topic in (t for t in TOPICS if "changelog" not in t.name):
        binding = channels[topic.name]["bindings"]["kafka"]
        assert binding["partitions"] == (topic.partitions or 8)
        assert binding["topicConfiguration"]["cleanup.policy"] == topic.kafka_configs(1)["cleanup.policy"].split(",")
    stored = {m["$ref"].rsplit("/", 1)[1] for m in channels["eoc.events"]["subscribe"]["message"]["oneOf"]}
    assert stored == {name for name, cls in CATALOGUE.items() if not cls.TELEMETRY}
    messages, schemas = doc["components"]["messages"], doc["components"]["schemas"]
    for name in CATALOGUE:
        assert messages[name]["traits"] == [{"$ref": "#/components/messageTraits/CloudEvent"}]
        assert f"{name}Payload" in schemas
    # Every reference resolves inside the document.
    refs = []

    def walk(node):
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    for ref in refs:
        target = doc
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]


def test_the_yaml_reads_back_to_the_document():
    assert yaml.safe_load(asyncapi.render()) == asyncapi.build()


# ---------------------------------------------------------------------- the codec


def _envelope(**changes) -> Envelope:
    base = dict(type="CallClassified", version=1, id=str(uuid.uuid4()), aggregate_id=str(uuid.uuid4()),
                aggregate_version=2, occurred_at="2026-11-23T08:00:00.000Z", recorded_at="2026-11-23T08:00:00.001Z",
                province="QZV", county="Qazvin", actor={"role": "call_taker", "user": "u"}, exercise=False,
                payload={"category": "spouse_abuse", "priority": "urgent", "risk_flags": [],
                         "received_at": "2026-11-23T07:59:00.000Z"}, position=12)
    base.update(changes)
    return Envelope(**base)


@pytest.mark.parametrize("value, telemetry, kind", [
    (b"\xff\xfe", False, "invalid"),
    (b"[1, 2]", False, "invalid"),
    (None, False, "not_an_event"),
    (_envelope(type="AlienLanded").to_json(), False, "unknown_type"),
    (_envelope(payload={"category": "nonsense", "priority": "urgent", "received_at": "2026-11-23T07:59:00.000Z"}
               ).to_json(), False, "invalid"),
    (_envelope(position=None).to_json(), False, "invalid"),
    (_envelope(province="XXX").to_json(), False, "invalid"),
    (_envelope().to_json(), True, "wrong_topic"),
], ids=["bytes", "not-an-object", "tombstone", "unknown-type", "bad-payload", "no-position", "no-province",
        "event-on-telemetry"])
def test_a_record_that_must_not_be_folded_is_a_dead_letter_with_a_reason(value, telemetry, kind):
    with pytest.raises(DeadLetter) as refused:
        decode_event(value, telemetry=telemetry)
    assert refused.value.kind == kind and refused.value.reason


def test_a_good_record_decodes_and_is_checked_against_its_partition():
    value, headers = event_record(_envelope())
    assert decode_event(value, telemetry=False, partition=3, partition_of=Layout().partition_for).province == "QZV"
    assert dict(headers)["ce_type"] == b"ir.behzisti.eoc.CallClassified.v1"
    with pytest.raises(DeadLetter) as refused:
        decode_event(value, telemetry=False, partition=4, partition_of=Layout().partition_for)
    assert refused.value.kind == "wrong_partition"
    assert encode_row(None) is None and json.loads(encode_row({"a": "ب"})) == {"a": "ب"}


# ---------------------------------------------------------------------- the deployment


def test_the_production_compose_file_is_valid():
    compose = shutil.which("docker-compose")
    if compose is None:
        message = "Debian's docker-compose is not installed (apt-get install -y docker-compose)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    check = subprocess.run([compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                           capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 0, check.stderr
    config = subprocess.run([compose, "-f", str(ROOT / "docker-compose.yml"), "config"],
                            capture_output=True, text=True, cwd=ROOT, check=True).stdout
    for service in ("kafka:", "postgres:", "api:", "relay:", "worker-1:", "worker-2:", "bridge:", "topics:"):
        assert f"\n  {service}" in config
