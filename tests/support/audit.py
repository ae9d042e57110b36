"""Shared pieces of the audit tests: a system with a synthetic history, raw access to the
event store's table (to tamper with it the way an attacker with database access would), and
test topics on the real Kafka broker; the environment the `eoc` commands read for a system, its
signed checkpoints, and its boards as the API answers them."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from eoc.audit.checkpoints import CheckpointPublisher, SQLiteCheckpointLog, load_or_create_key
from eoc.audit.sources import StoreSource
from eoc.domain import to_envelope
from events.envelope import canonical_json
from tests.support.history import History, aggregates


def with_history(system: Any, events: int, **kw: Any) -> History:
    history = aggregates(system.app, keyring=system.keyring, **kw)
    history.run(events)
    system.follower.wait_for(system.app.recorder.max_notification_id(), timeout=60)
    return history


def stored_dicts(app: Any) -> list[dict[str, Any]]:
    """Every event as the relay publishes it (stored version and payload, position, chain)."""
    return [to_envelope(app.mapper.to_domain_event(n), position=n.id, as_stored=True).to_dict()
            for n in app.recorder.select_notifications(start=0, limit=10_000_000)]


def longest_stream(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    streams: dict[str, list[dict[str, Any]]] = {}
    for v in values:
        streams.setdefault(v["aggregate_id"], []).append(v)
    return max(streams.values(), key=len)


# ---------------------------------------------------------------------- the store's table, raw


class RawStore:
    """The event store's rows through plain SQL: what a person with database access can do."""

    def __init__(self, system: Any) -> None:
        self.settings = system.settings
        self.postgres = self.settings.store == "postgres"
        if self.postgres:
            import psycopg

            self.conn: Any = psycopg.connect(self.settings.pg_dsn, autocommit=True)
            self.table, self.mark = "eoc_events", "%s"
        else:
            self.conn = sqlite3.connect(str(self.settings.sqlite_path), isolation_level=None)
            self.table, self.mark = "stored_events", "?"

    def _id(self, aggregate_id: str) -> Any:
        return uuid.UUID(aggregate_id) if self.postgres else uuid.UUID(aggregate_id).hex

    def _sql(self, sql: str, *params: Any) -> Any:
        return self.conn.execute(sql.replace("?", self.mark).replace("TABLE", self.table), params)

    def state(self, aggregate_id: str, version: int) -> dict[str, Any]:
        row = self._sql("SELECT state FROM TABLE WHERE originator_id=? AND originator_version=?",
                        self._id(aggregate_id), version).fetchone()
        return json.loads(bytes(row[0]))

    def topic(self, aggregate_id: str, version: int) -> str:
        return self._sql("SELECT topic FROM TABLE WHERE originator_id=? AND originator_version=?",
                         self._id(aggregate_id), version).fetchone()[0]

    def set_state(self, aggregate_id: str, version: int, state: dict[str, Any]) -> None:
        self._sql("UPDATE TABLE SET state=? WHERE originator_id=? AND originator_version=?",
                  json.dumps(state, separators=(",", ":")).encode(), self._id(aggregate_id), version)

    def delete(self, aggregate_id: str, version: int) -> None:
        self._sql("DELETE FROM TABLE WHERE originator_id=? AND originator_version=?", self._id(aggregate_id), version)

    def renumber(self, aggregate_id: str, old: int, new: int) -> None:
        self._sql("UPDATE TABLE SET originator_version=? WHERE originator_id=? AND originator_version=?",
                  new, self._id(aggregate_id), old)

    def insert(self, aggregate_id: str, version: int, topic: str, state: dict[str, Any]) -> None:
        self._sql("INSERT INTO TABLE (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
                  self._id(aggregate_id), version, topic, json.dumps(state, separators=(",", ":")).encode())

    def close(self) -> None:
        self.conn.close()


# ---------------------------------------------------------------------- Kafka test topics


@pytest.fixture
def kafka_topic(kafka_bootstrap: str) -> Iterator[Any]:
    """Makes uniquely named topics on the real broker; deletes them after the test."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="eoc-audit-tests")
    made: list[str] = []

    def make(partitions: int = 4, stem: str = "audit") -> str:
        name = f"test.{stem}.{uuid.uuid4().hex[:12]}"
        admin.create_topics([NewTopic(name, partitions, 1)])
        made.append(name)
        return name

    yield make
    if made:
        admin.delete_topics(made)
    admin.close()


def publish(bootstrap: str, topic: str, values: list[dict[str, Any]], *, timestamps_ms: list[int] | None = None) -> None:
    """Publish envelopes as the relay does: key = province, CloudEvents headers, log order."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                             batch_size=512 * 1024, max_in_flight_requests_per_connection=1)
    try:
        for i, v in enumerate(values):
            headers = [("ce_specversion", b"1.0"), ("ce_id", str(v["id"]).encode()),
                       ("ce_type", f"ir.behzisti.eoc.{v['type']}.v{v['version']}".encode()),
                       ("ce_source", f"/eoc/{v['province']}".encode()), ("ce_time", str(v["occurred_at"]).encode()),
                       ("content-type", b"application/json")]
            producer.send(topic, key=str(v["province"]).encode(), value=canonical_json(v), headers=headers,
                          timestamp_ms=timestamps_ms[i] if timestamps_ms else None)
        producer.flush(timeout=60)
    finally:
        producer.close()


def cli_env(monkeypatch: pytest.MonkeyPatch, system: Any) -> None:
    s = system.settings
    monkeypatch.setenv("EOC_STORE", s.store)
    monkeypatch.setenv("EOC_DATA_DIR", str(s.data_dir))
    monkeypatch.setenv("EOC_TOKEN_SECRET", s.token_secret.decode())
    if s.pg_dsn:
        monkeypatch.setenv("EOC_PG_DSN", s.pg_dsn)
    monkeypatch.delenv("EOC_AUDIT_KEY", raising=False)


def signed_checkpoints(system: Any, every: int = 100) -> tuple[list[dict[str, Any]], Any]:
    """Checkpoints every ``every`` events over the whole log, as the publisher would have made them."""
    key = load_or_create_key(system.settings.data_dir / "audit_ed25519.pem")
    log = SQLiteCheckpointLog(system.settings.data_dir / "audit.sqlite")
    source = StoreSource(system.app)
    publisher = CheckpointPublisher(source, key, [log], every_events=every)
    head = source.head()
    records = []
    for stop in [*range(every, head, every), head]:
        publisher.source = _Upto(source, stop)
        records.append(publisher.publish())
    log.close()
    return records, key.public_key()


class _Upto:
    """The log as it stood when it ended at ``stop`` (a checkpoint taken back then)."""

    def __init__(self, source: StoreSource, stop: int) -> None:
        self.source, self.stop = source, stop

    def records(self, **kw: Any) -> Any:
        return self.source.records(until_position=self.stop, **kw)

    def head(self) -> int:
        return self.stop


def api_boards(system: Any) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from eoc.http.api import create_api

    token = system.signer.issue("auditor", "IR", sub="inspector-1")
    answer = TestClient(create_api(system)).get("/api/v1/boards", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    return answer.json()


def envelopes(system) -> list:
    rec = system.app.recorder
    return [to_envelope(system.app.mapper.to_domain_event(n), n.id)
            for n in rec.select_notifications(start=0, limit=1_000_000)]
