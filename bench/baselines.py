"""Baselines, measured in the same run as the figures they are divided into.

* the raw insert rate of the same database, one row per transaction (sqlite3 in WAL mode as
  the event store uses it; psycopg in autocommit against the same PostgreSQL server), rows
  shaped like stored events (a sequence id, a few keys, a 300-byte payload);
* the HTTP framework's floor: the minimal endpoint of ``bench.floor`` flat out, with the same
  load generator and connection count as the system;
* a bare HTTP round trip plus a websocket echo, paced like the command-to-board run.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from .loadgen import Pool, flat_out, quantile
from .procs import CpuMeter
from .systems import System
from .watch import EchoClient

PAYLOAD = os.urandom(150).hex().encode()  # 300 bytes, about a stored event's state


def sqlite_insert_rate(path: Path, seconds: float) -> dict[str, Any]:
    """Rows a second into a fresh SQLite file (WAL), one row per transaction."""
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, originator_id TEXT, version INTEGER, "
                 "topic TEXT, state BLOB)")
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO events (originator_id, version, topic, state) VALUES (?, ?, ?, ?)",
                     (str(uuid.uuid4()), 1, "eoc.domain.base:Recorded", PAYLOAD))
        conn.execute("COMMIT")
        n += 1
    elapsed = time.perf_counter() - t0
    conn.close()
    return {"rows": n, "seconds": elapsed, "rows_per_s": n / elapsed, "journal": "wal"}


def postgres_insert_rate(dsn: str, seconds: float) -> dict[str, Any]:
    """Rows a second into a fresh table of the same PostgreSQL server, autocommit (one row per
    transaction)."""
    import psycopg

    table = f"bench_raw_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, originator_id UUID, version INTEGER, "
                     "topic TEXT, state BYTEA)")
        try:
            n = 0
            t0 = time.perf_counter()
            end = t0 + seconds
            with conn.cursor() as cur:
                while time.perf_counter() < end:
                    cur.execute(f"INSERT INTO {table} (originator_id, version, topic, state) VALUES (%s, %s, %s, %s)",
                                (uuid.uuid4(), 1, "eoc.domain.base:Recorded", PAYLOAD))
                    n += 1
            elapsed = time.perf_counter() - t0
        finally:
            conn.execute(f"DROP TABLE {table}")
    return {"rows": n, "seconds": elapsed, "rows_per_s": n / elapsed, "mode": "autocommit"}


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


async def round_trips(floor: System, rate: float, seconds: float) -> dict[str, Any]:
    """At ``rate`` a second: one minimal HTTP POST round trip, then one websocket echo; the sum
    of each pair is one sample (the least that "command answered, then its frame read" costs)."""
    pool = await Pool("127.0.0.1", floor.api_port, 1).open()
    echo = await EchoClient().connect(floor.bridge_port)
    http_ms: list[float] = []
    ws_ms: list[float] = []
    sums: list[float] = []
    try:
        t0 = time.perf_counter()
        i = 0
        while time.perf_counter() - t0 < seconds:
            t = time.perf_counter()
            await pool.request("POST", "/api/v1/noop", NOOP_BODY)
            h = (time.perf_counter() - t) * 1000
            w = await echo.echo()
            http_ms.append(h)
            ws_ms.append(w)
            sums.append(h + w)
            i += 1
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
    finally:
        pool.close()
        echo.close()

    def q(values: list[float]) -> dict[str, float | None]:
        s = sorted(values)
        return {"p50_ms": quantile(s, 0.5), "p99_ms": quantile(s, 0.99), "p99_9_ms": quantile(s, 0.999)}

    return {"samples": len(sums), "rate": rate, **q(sums), "http": q(http_ms), "websocket_echo": q(ws_ms)}
