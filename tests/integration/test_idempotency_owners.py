"""Several ``eoc api`` processes share the cluster's keys (eoc/app/idempotency.py
``PostgresKeyStore``): a pending key of another process is taken over only once that process is
gone, so a retry that lands on a second API while the first still decides the command is told
"in progress" and never runs it a second time."""

from __future__ import annotations

import time

import pytest

from eoc.app.idempotency import PostgresKeyStore

pytestmark = pytest.mark.postgres

KEY = "retry-on-another-api-0001"


def test_a_pending_key_of_a_live_process_is_not_taken_over_and_of_a_gone_one_is(fresh_pg_dsn):
    first = PostgresKeyStore(fresh_pg_dsn, process="api-first")
    twin = PostgresKeyStore(fresh_pg_dsn, process="api-first")  # a second store of the same process
    second = PostgresKeyStore(fresh_pg_dsn, process="api-second")
    try:
        assert first.claim("u1", KEY, "request-1") is None  # the first API runs the command
        seen = second.claim("u1", KEY, "request-1")  # the client's retry reaches the second API
        assert seen is not None and seen.owner == "api-first" and seen.status is None
        assert not second.reclaim("u1", KEY, "request-1")  # the first is alive: it may commit it now
        first.close()
        assert not second.reclaim("u1", KEY, "request-1")  # still alive while any of its stores is open
        twin.close()  # the process is gone: its sessions end, as when it dies
        # PostgreSQL lets the lock go once it has seen the session's end (a moment later).
        deadline = time.monotonic() + 10
        while not second.reclaim("u1", KEY, "request-1"):
            assert time.monotonic() < deadline, "the gone process's key was never taken over"
            time.sleep(0.02)
        seen = second.claim("u1", KEY, "request-1")
        assert seen is not None and seen.owner == "api-second"
        assert not second.reclaim("u1", KEY, "request-1")  # ours now: nothing to take over
    finally:
        for store in (first, twin, second):
            store.close()


def test_a_store_whose_database_restarted_holds_its_liveness_again_before_it_claims(fresh_pg_dsn):
    import psycopg

    mine = PostgresKeyStore(fresh_pg_dsn, process="api-restarted")
    other = PostgresKeyStore(fresh_pg_dsn, process="api-other")
    try:
        with psycopg.connect(fresh_pg_dsn, autocommit=True) as admin:  # its liveness session is cut
            admin.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "  # waits for the end
                          "WHERE application_name = 'eoc-idempotency-owner' AND datname = current_database()")
        assert mine.claim("u1", KEY, "request-1") is None  # takes its lock again first
        assert not other.reclaim("u1", KEY, "request-1")
    finally:
        mine.close()
        other.close()


def test_a_pending_key_of_a_live_process_whose_answer_was_lost_long_ago_is_taken_over(fresh_pg_dsn):
    import psycopg

    from eoc.app.idempotency import TAKE_OVER_AFTER_S

    owner = PostgresKeyStore(fresh_pg_dsn, process="api-alive")
    other = PostgresKeyStore(fresh_pg_dsn, process="api-other")
    try:
        assert owner.claim("u1", KEY, "request-1") is None
        assert not other.reclaim("u1", KEY, "request-1")
        with psycopg.connect(fresh_pg_dsn, autocommit=True) as conn:  # its answer lost, long ago
            conn.execute("UPDATE idempotency_keys SET created = %s WHERE key = %s",
                         (time.time() - TAKE_OVER_AFTER_S - 5, KEY))
        assert other.reclaim("u1", KEY, "request-1")
    finally:
        owner.close()
        other.close()


def test_a_keys_time_is_kept_to_the_second_and_a_table_made_with_four_byte_times_is_changed(fresh_pg_dsn):
    """PostgreSQL's REAL is four bytes: a time of today came back up to 64 s off, so a key 605 s
    old could still read as younger than ``TAKE_OVER_AFTER_S`` (CI once saw exactly that)."""
    import psycopg

    with psycopg.connect(fresh_pg_dsn, autocommit=True) as conn:  # a table as an older release made it
        conn.execute("CREATE TABLE idempotency_keys (principal TEXT NOT NULL, key TEXT NOT NULL, "
                     "request TEXT NOT NULL, owner TEXT NOT NULL, status INTEGER, answer BYTEA, created REAL NOT NULL, "
                     "PRIMARY KEY (principal, key))")
    store = PostgresKeyStore(fresh_pg_dsn, process="api-upgraded")
    try:
        before = time.time()
        assert store.claim("u1", KEY, "request-1") is None
        after = time.time()
        with psycopg.connect(fresh_pg_dsn, autocommit=True) as conn:
            kind = conn.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'idempotency_keys' "
                                "AND column_name = 'created'").fetchone()
            (created,) = conn.execute("SELECT created FROM idempotency_keys WHERE key = %s", (KEY,)).fetchone()
        assert kind == ("double precision",)
        assert before <= created <= after
    finally:
        store.close()
