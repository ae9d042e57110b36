"""The systems under test, started as real processes the way an operator starts them.

* ``embedded`` — ``eoc demo --no-simulator``: SQLite, the group-commit writer, the in-process
  follower, the command API and the websocket bridge in one process.
* ``cluster`` — ``eoc api``, ``eoc relay``, ``eoc worker`` and ``eoc bridge`` against the real
  PostgreSQL and Kafka, with a database and topic prefix of their own.
* ``floor`` — ``python -m bench.floor``: the same HTTP and websocket stack with nothing of the
  product in it (the baselines).

Each yields a ``System`` with the ports, a token signer for the shared secret, and the
processes (for their CPU and memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eoc.app.auth import TokenSigner

from . import services
from .loadgen import Pool
from .procs import Proc, eoc_command, free_port, wait_port

SECRET = b"bench-key-7c1e9a3f5d2b8064ee19ab37c5d2"


@dataclass
class System:
    mode: str
    api_port: int
    bridge_port: int
    procs: dict[str, Proc]
    signer: TokenSigner = field(default_factory=lambda: TokenSigner(SECRET))
    info: dict[str, Any] = field(default_factory=dict)

    def national_token(self) -> str:
        return self.signer.issue("national_eoc", "IR", sub="bench-eoc")  # 15 minutes: access tokens live no longer

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.procs.items()}

    def check(self) -> None:
        for p in self.procs.values():
            p.check()


def _base_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EOC_")}
    # Benchmarks measure the system, not the abuse limits (one user gives thousands of commands).
    env.update(EOC_TOKEN_SECRET=SECRET.decode(), EOC_HOST="127.0.0.1", PYTHONUNBUFFERED="1", EOC_RATE_LIMIT_SCALE="0")
    env.update(values)
    return env


@contextlib.asynccontextmanager
async def embedded(workdir: Path, label: str = "embedded", **env: str) -> AsyncIterator[System]:
    port, bridge = free_port(), free_port()
    data = workdir / f"{label}-data"
    proc = Proc(label, [*eoc_command(), "demo", "--no-simulator", "--port", str(port), "--bridge-port", str(bridge)],
                _base_env(EOC_DATA_DIR=str(data), EOC_PORT=str(port), **env), workdir).start()
    try:
        await wait_port(port, timeout=60, proc=proc)
        await wait_port(bridge, timeout=30, proc=proc)
        yield System("embedded", port, bridge, {"embedded": proc}, info={"data_dir": str(data)})
    finally:
        proc.stop()


@contextlib.asynccontextmanager
async def floor(workdir: Path) -> AsyncIterator[System]:
    port, ws = free_port(), free_port()
    proc = Proc("floor", [sys.executable, "-m", "bench.floor", "--port", str(port), "--ws-port", str(ws)],
                _base_env(), workdir, cwd=services.ROOT).start()
    try:
        await wait_port(port, timeout=60, proc=proc)
        await wait_port(ws, timeout=30, proc=proc)
        yield System("floor", port, ws, {"floor": proc})
    finally:
        proc.stop()


@contextlib.asynccontextmanager
async def cluster(workdir: Path, svc: dict[str, str], **env: str) -> AsyncIterator[System]:
    """The four cluster processes, ready: a command's effect has come through to the bridge."""
    from eoc.main.cluster import ClusterSettings, ensure_topics

    db = services.Database(svc["EOC_PG_TEST_DSN"], "cluster")
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    port, bridge = free_port(), free_port()
    bootstrap = svc["EOC_KAFKA_BOOTSTRAP"]
    values = _base_env(EOC_STORE="postgres", EOC_PG_DSN=db.dsn, EOC_KAFKA_BOOTSTRAP=bootstrap,
                       EOC_TOPIC_PREFIX=prefix, EOC_DATA_DIR=str(workdir / "cluster-data"), EOC_PORT=str(port),
                       EOC_LOG_LEVEL="warn", **env)
    procs: dict[str, Proc] = {}
    try:
        await asyncio.to_thread(ensure_topics, ClusterSettings.from_env(values))
        eoc = eoc_command()
        # The API first: its application creates the event store's tables.
        procs["api"] = Proc("cluster-api", [*eoc, "api"], values, workdir).start()
        await wait_port(port, timeout=60, proc=procs["api"])
        procs["relay"] = Proc("cluster-relay", [*eoc, "relay"], values, workdir).start()
        procs["worker"] = Proc("cluster-worker", [*eoc, "worker"], values, workdir).start()
        procs["bridge"] = Proc("cluster-bridge", [*eoc, "bridge", "--port", str(bridge), "--no-page"], values,
                               workdir).start()
        await wait_port(bridge, timeout=60, proc=procs["bridge"])
        system = System("cluster", port, bridge, procs, info={"database": db.name, "topic_prefix": prefix})
        system.info["ready_s"] = await _until_through(system)
        yield system
    finally:
        for p in procs.values():
            p.stop()
        await asyncio.to_thread(services.delete_topics, bootstrap, prefix)
        await asyncio.to_thread(db.drop)


async def _until_through(system: System, timeout: float = 120.0) -> float:
    """Send a command now and then until its effect reaches a dashboard (the worker's group has
    formed, the bridge follows the board topic); how long that took."""
    from .watch import BoardWatcher

    t0 = time.monotonic()
    watcher = await BoardWatcher().connect(system.bridge_port, system.national_token())
    pool = await Pool("127.0.0.1", system.api_port, 1).open()
    token = system.signer.issue("call_taker", "QZV", sub="bench-probe")
    try:
        while time.monotonic() - t0 < timeout:
            system.check()
            status, answer = await pool.post("/api/v1/calls", {"province": "QZV", "county": "Qazvin"}, token)
            if status >= 300:
                raise RuntimeError(f"the cluster API refused the probe: {status} {answer}")
            for _ in range(20):
                if watcher.applied.get("QZV", 0) >= answer["position"]:
                    return time.monotonic() - t0
                await asyncio.sleep(0.1)
        raise TimeoutError(f"no command reached the bridge within {timeout} s")
    finally:
        pool.close()
        watcher.close()
