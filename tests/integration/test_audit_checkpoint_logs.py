"""Both tables that keep signed checkpoints beside the store give back what was appended, in
sequence order, after a reopen; a sequence is kept once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from eoc.audit.checkpoints import PostgresCheckpointLog, SQLiteCheckpointLog


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def open_log(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "postgres":
        dsn = request.getfixturevalue("fresh_pg_dsn")
        return lambda: PostgresCheckpointLog(dsn)
    return lambda: SQLiteCheckpointLog(tmp_path / "audit.sqlite")


def test_checkpoints_come_back_in_sequence_order_after_a_reopen(open_log) -> None:
    records = [{"sequence": n, "head": f"h{n}", "signature": "s" * n, "nested": {"events": n * 10}}
               for n in (2, 1, 3)]
    log = open_log()
    for record in records:
        log.append(record)
    log.close()
    again = open_log()
    try:
        assert again.load() == sorted(records, key=lambda r: r["sequence"])
        with pytest.raises((sqlite3.IntegrityError, psycopg.errors.UniqueViolation)):
            again.append({"sequence": 2, "head": "other"})
        assert [r["head"] for r in again.load()] == ["h1", "h2", "h3"]
    finally:
        again.close()
