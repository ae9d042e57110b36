"""Baselines, measured in the same run as the figures they are divided into.

* the raw insert rate of the same database, one row per transaction (sqlite3 in WAL mode as
  the event store uses it; psycopg in autocommit against the same PostgreSQL server), rows
  shaped like stored events (a sequence id, a few keys, a 300-byte payload);
* the HTTP framework's floor: the minimal endpoint of ``bench.floor`` flat out, with the same
  load generator and connection count as the system;
* command to board on the floor (``FloorSession``): the bare endpoint that broadcasts a small
  frame on a bare websocket server, sent to with the same load generator, pacing and
  connections as the system and timed by the same dashboard client — send to frame, and send
  to answer.

The scenarios measure them in windows interleaved with the system's (``session.interleaved``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .loadgen import Pool, flat_out
from .procs import CpuMeter
from .session import BoardSession
from .systems import System

PAYLOAD = os.urandom(150).hex().encode()  # 300 bytes, about a stored event's state


def _events_file(path: Path) -> sqlite3.Connection:
    """A fresh SQLite file in WAL mode (``synchronous`` left at its default, FULL, as the event
    store leaves it) with a table shaped like the store's events."""
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, originator_id TEXT, version INTEGER, "
                 "topic TEXT, state BLOB)")
    return conn


def _insert_one(conn: sqlite3.Connection) -> None:
    """One row, one transaction."""
    conn.execute("BEGIN")
    conn.execute("INSERT INTO events (originator_id, version, topic, state) VALUES (?, ?, ?, ?)",
                 (str(uuid.uuid4()), 1, "eoc.domain.base:Recorded", PAYLOAD))
    conn.execute("COMMIT")


def _flat_out(insert_one: Callable[[], None], seconds: float) -> tuple[int, float]:
    """One-row transactions back to back for ``seconds``: how many, in how long."""
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        insert_one()
        n += 1
    return n, time.perf_counter() - t0


def _commit_times(insert_one: Callable[[], None], rate: float | None, count: int) -> list[float]:
    """``count`` one-row transactions paced at ``rate`` a second (None: back to back); each one's
    time, in ms."""
    samples: list[float] = []
    due = time.perf_counter()
    for _ in range(count):
        started = time.perf_counter()
        insert_one()
        samples.append((time.perf_counter() - started) * 1000)
        if rate is not None:
            due += 1 / rate
            time.sleep(max(0.0, due - time.perf_counter()))
    return samples


def sqlite_insert_rate(path: Path, seconds: float) -> dict[str, Any]:
    """Rows a second into a fresh SQLite file (WAL), one row per transaction."""
    conn = _events_file(path)
    n, elapsed = _flat_out(lambda: _insert_one(conn), seconds)
    conn.close()
    return {"rows": n, "seconds": elapsed, "rows_per_s": n / elapsed, "journal": "wal"}


def sqlite_commit_latency(path: Path, rate: float, count: int) -> dict[str, Any]:
    """How long a durable commit alone takes on this disk: ``count`` transactions of one row,
    paced at ``rate`` a second, into the same kind of file as ``sqlite_insert_rate`` (the log
    synced at every commit, as the event store's is). Each commit's time, in ms."""
    conn = _events_file(path)
    synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
    samples = _commit_times(lambda: _insert_one(conn), rate, count)
    conn.close()
    path.unlink(missing_ok=True)
    return {"commit_ms": samples, "rate": rate, "journal": "wal", "synchronous": synchronous}


@contextlib.contextmanager
def _pg_events_table(dsn: str) -> Iterator[tuple[Any, Callable[[Any], None]]]:
    """An autocommit connection to the PostgreSQL server with a fresh table shaped like the event
    store's (dropped afterwards), and how to insert one event-sized row into it (one transaction)."""
    import psycopg

    table = f"bench_raw_{uuid.uuid4().hex[:8]}"
    insert = f"INSERT INTO {table} (originator_id, version, topic, state) VALUES (%s, %s, %s, %s)"

    def insert_one(cur: Any) -> None:
        cur.execute(insert, (uuid.uuid4(), 1, "eoc.domain.base:Recorded", PAYLOAD))

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, originator_id UUID, version INTEGER, "
                     "topic TEXT, state BYTEA)")
        try:
            yield conn, insert_one
        finally:
            conn.execute(f"DROP TABLE {table}")


def postgres_insert_rate(dsn: str, seconds: float) -> dict[str, Any]:
    """Rows a second into a fresh table of the same PostgreSQL server, autocommit (one row per
    transaction)."""
    with _pg_events_table(dsn) as (conn, insert_one), conn.cursor() as cur:
        n, elapsed = _flat_out(lambda: insert_one(cur), seconds)
    return {"rows": n, "seconds": elapsed, "rows_per_s": n / elapsed, "mode": "autocommit"}


def postgres_commit_latency(dsn: str, rate: float | None, count: int) -> dict[str, Any]:
    """How long a durable commit alone takes on the same PostgreSQL server: ``count`` transactions
    of one event-sized row into a fresh table (synchronous commit, as the event store's), paced
    at ``rate`` a second, or back to back when ``rate`` is None (as Kafka's EndToEndLatency sends:
    the next record as soon as the last came through). Each commit's time, in ms."""
    with _pg_events_table(dsn) as (conn, insert_one), conn.cursor() as cur:
        synchronous = cur.execute("SHOW synchronous_commit").fetchone()[0]  # type: ignore[index]
        samples = _commit_times(lambda: insert_one(cur), rate, count)
    return {"commit_ms": samples, "rate": rate, "synchronous_commit": synchronous}


NOOP_BODY = json.dumps({"province": "QZV", "county": "Qazvin", "note": "a small validated body"}).encode()


async def http_floor(floor: System, seconds: float, connections: int) -> dict[str, Any]:
    """The minimal endpoint, flat out: requests a second and the server's CPU."""
    pool = await Pool("127.0.0.1", floor.api_port, connections).open()
    try:
        async def send(_due: float) -> int:
            status, _ = await pool.request("POST", "/api/v1/noop", NOOP_BODY)
            return status

        meter = CpuMeter(floor.pids()).start()
        run = await flat_out(send, connections, seconds)
        cpu = meter.stop()
    finally:
        pool.close()
    return {**run.summary(), "requests_per_s": run.achieved_per_s, "server_cpu_cores": cpu["floor"],
            "connections": connections}


NOOP = json.loads(NOOP_BODY)


class FloorSession(BoardSession):
    """Commands to the floor's bare broadcast endpoint and a dashboard on its bare websocket."""

    async def __aenter__(self) -> FloorSession:
        await self.open("board")  # the floor asks for no token
        return self

    async def post(self) -> tuple[str, int, Any, float]:
        assert self.pool is not None
        status, answer, sent = await self.pool.post_timed("/api/v1/command", NOOP)
        return NOOP["province"], status, answer, sent
