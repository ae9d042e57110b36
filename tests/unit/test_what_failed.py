"""A cluster process that cannot start or stops says which dependency failed, in one line: Kafka
only when Kafka's client failed, PostgreSQL by address (never its password) when the store did,
else the error as it is (a duplicate key in PostgreSQL's catalogue was once logged as Kafka being
down)."""

from __future__ import annotations

import kafka.errors
import psycopg
import pytest
from eventsourcing import persistence as es_persistence

from eoc.main.cluster import what_failed

DSN = "postgresql://eoc:s3cret-pw@db.example:6543/eoc"


def test_a_kafka_client_error_blames_kafka_at_its_address():
    line = what_failed(kafka.errors.KafkaTimeoutError("no metadata"), kafka="k1:9092", dsn=DSN)
    assert line.startswith("Kafka at k1:9092 does not answer")
    assert "PostgreSQL" not in line


@pytest.mark.parametrize("error", [psycopg.OperationalError, es_persistence.OperationalError])
def test_a_store_that_does_not_answer_is_named_without_its_password(error):
    line = what_failed(error("connection refused"), kafka="k1:9092", dsn=DSN)
    assert line.startswith("PostgreSQL at db.example:6543/eoc does not answer")
    assert "s3cret" not in line and "Kafka" not in line


@pytest.mark.parametrize("dsn", [DSN, "host=db.example port=6543 dbname=eoc password=s3cret-pw"])
def test_a_store_refusal_is_not_an_outage(dsn):
    line = what_failed(psycopg.errors.UniqueViolation("duplicate key value violates unique constraint"),
                       kafka="k1:9092", dsn=dsn)
    assert line.startswith("PostgreSQL at db.example:6543/eoc refused (UniqueViolation")
    assert "s3cret" not in line


def test_anything_else_is_told_as_it_is():
    line = what_failed(ValueError("bad partition count"), kafka="k1:9092", dsn=DSN)
    assert line == "failed (ValueError: bad partition count)"
