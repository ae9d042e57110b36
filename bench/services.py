"""The real PostgreSQL and Kafka from ``scripts/services``, and Kafka's own latency tool.

``scripts/services start all`` is idempotent and quick when they already run; its ``env``
prints the addresses (EOC_PG_DSN, EOC_PG_TEST_DSN, EOC_KAFKA_BOOTSTRAP, the tools' class path).
Every cluster run gets a database and topics of its own, dropped and deleted afterwards.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ROOT / "scripts" / "services"


def start(which: str = "all") -> dict[str, str]:
    """Start (or find running) the services; their settings."""
    done = subprocess.run([str(SERVICES), "start", which], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/services start {which} failed:\n{done.stdout}\n{done.stderr}")
    return env()


def env() -> dict[str, str]:
    out = subprocess.run([str(SERVICES), "env"], capture_output=True, text=True, check=True).stdout
    values = {}
    for line in out.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            values[key] = value.strip("'\"")
    return values


def fetch_kafka_tools() -> None:
    done = subprocess.run([str(SERVICES), "fetch-kafka-tools"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/services fetch-kafka-tools failed:\n{done.stdout}\n{done.stderr}")


async def fetch_kafka_tools_async() -> None:
    await asyncio.to_thread(fetch_kafka_tools)


class Database:
    """A fresh PostgreSQL database for one run (dropped on ``drop()``)."""

    def __init__(self, admin_dsn: str, label: str) -> None:
        import psycopg

        self.admin_dsn = admin_dsn
        self.name = f"eoc_bench_{label}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.dsn = admin_dsn.rsplit("/", 1)[0] + f"/{self.name}"

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def delete_topics(bootstrap: str, prefix: str) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="eoc-bench-cleanup")
    try:
        mine = [t for t in admin.list_topics() if t.startswith(prefix)]
        if mine:
            admin.delete_topics(mine)
    except Exception:  # best effort: the names are unique per run
        pass
    finally:
        admin.close()


async def kafka_end_to_end(bootstrap: str, classpath: str, log4j: str, *, records: int,
                           size: int = 200, topic: str | None = None, timeout: float = 300.0) -> dict[str, Any]:
    """Kafka's EndToEndLatency (acks=all): one record produced, consumed, then the next.

    It creates a one-partition topic and prints whole milliseconds:
    ``Avg latency: 1.2 ms`` and ``Percentiles: 50th = 1, 99th = 9, 99.9th = 20``."""
    topic = topic or f"eoc-bench.e2e.{uuid.uuid4().hex[:8]}"
    proc = await asyncio.create_subprocess_exec(
        "java", f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath, "org.apache.kafka.tools.EndToEndLatency",
        "--bootstrap-server", bootstrap, "--topic", topic, "--num-records", str(records),
        "--producer-acks", "all", "--record-size", str(size),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        raise
    text = out.decode(errors="replace")
    avg = re.search(r"Avg latency: ([\d.]+) ms", text)
    pct = re.search(r"50th = (\d+), 99th = (\d+), 99.9th = (\d+)", text)
    if proc.returncode != 0 or not avg or not pct:
        raise RuntimeError(f"EndToEndLatency failed ({proc.returncode}):\n{text[-2000:]}")
    delete_topics(bootstrap, topic)
    return {"records": records, "record_bytes": size, "acks": "all", "avg_ms": float(avg.group(1)),
            "p50_ms": float(pct.group(1)), "p99_ms": float(pct.group(2)), "p99_9_ms": float(pct.group(3)),
            "topic": topic}
