"""The systems under test, started as real processes the way an operator starts them.

* ``embedded`` — ``eoc demo --no-simulator``: SQLite, the group-commit writer, the in-process
  follower, the command API and the websocket bridge in one process.
* ``cluster`` — ``eoc api``, ``eoc relay``, ``eoc worker`` and ``eoc bridge`` against the real
  PostgreSQL and Kafka, with a database and topic prefix of their own; optionally several API
  processes and several Faust workers (one consumer group) on the same topics.
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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eoc.app.auth import TokenSigner
from events.places import PROVINCES

from . import services, tree_paths
from .loadgen import Pool
from .procs import Proc, eoc_command, free_port, stop_all, wait_port

SECRET = b"bench-key-7c1e9a3f5d2b8064ee19ab37c5d2"


@dataclass
class System:
    mode: str
    api_port: int
    bridge_port: int
    procs: dict[str, Proc]
    signer: TokenSigner = field(default_factory=lambda: TokenSigner(SECRET))
    info: dict[str, Any] = field(default_factory=dict)
    api_ports: tuple[int, ...] = ()  # every API process's port (the first is api_port); empty: api_port only

    def national_token(self) -> str:
        return self.signer.issue("national_eoc", "IR", sub="bench-eoc")  # 15 minutes: access tokens live no longer

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.procs.items()}

    def check(self) -> None:
        for p in self.procs.values():
            p.check()

    def all_api_ports(self) -> tuple[int, ...]:
        return self.api_ports or (self.api_port,)


def _base_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EOC_")}
    # Benchmarks measure the system, not the abuse limits (one user gives thousands of commands).
    env.update(EOC_TOKEN_SECRET=SECRET.decode(), EOC_HOST="127.0.0.1", PYTHONUNBUFFERED="1", EOC_RATE_LIMIT_SCALE="0")
    # The code measured is this tree's (a clone, a worktree of an older commit), never whatever
    # the interpreter's editable install points at: its paths go before the installed packages.
    env["PYTHONPATH"] = os.pathsep.join([*tree_paths(), *filter(None, [env.get("PYTHONPATH")])])
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
        await asyncio.to_thread(proc.stop)  # the loop goes on: our websockets answer the closing handshake


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
        await asyncio.to_thread(proc.stop)


@contextlib.asynccontextmanager
async def cluster(workdir: Path, svc: dict[str, str], *, apis: int = 1, workers: int = 1,
                  **env: str) -> AsyncIterator[System]:
    """The four cluster processes, ready: a command's effect has come through to the bridge.

    ``apis`` command API processes (each on a port of its own: ``System.api_ports``) and
    ``workers`` Faust workers (one consumer group, so they share the topics' partitions); the
    second and later are named ``api-2``, ``worker-2``, ... With more than one worker, ready
    means a command of every partition came through, through every API."""
    from eoc.main.cluster import ClusterSettings, ensure_topics

    db = services.Database(svc["EOC_PG_TEST_DSN"], "cluster")
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    ports = [free_port() for _ in range(apis)]
    port, bridge = ports[0], free_port()
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
        for i, other in enumerate(ports[1:], start=2):  # the same settings, a port of its own
            procs[f"api-{i}"] = Proc(f"cluster-api-{i}", [*eoc, "api", "--port", str(other)], values,
                                     workdir).start()
        procs["relay"] = Proc("cluster-relay", [*eoc, "relay"], values, workdir).start()
        procs["worker"] = Proc("cluster-worker", [*eoc, "worker"], values, workdir).start()
        for i in range(2, workers + 1):  # Faust's own files apart; no web port (none is set)
            procs[f"worker-{i}"] = Proc(f"cluster-worker-{i}", [*eoc, "worker"],
                                        {**values, "EOC_DATA_DIR": str(workdir / f"cluster-data-worker-{i}")},
                                        workdir).start()
        procs["bridge"] = Proc("cluster-bridge", [*eoc, "bridge", "--port", str(bridge), "--no-page"], values,
                               workdir).start()
        for i, other in enumerate(ports[1:], start=2):
            await wait_port(other, timeout=60, proc=procs[f"api-{i}"])
        await wait_port(bridge, timeout=60, proc=procs["bridge"])
        system = System("cluster", port, bridge, procs, info={"database": db.name, "topic_prefix": prefix},
                        api_ports=tuple(ports))
        layout = ClusterSettings.from_env(values).layout
        probes = _one_province_per_partition(layout.partition_for) if workers > 1 or apis > 1 else ("QZV",)
        t0 = time.monotonic()
        await _until_through(system, probes)
        if workers > 1:  # every worker in the group, its partitions assigned, and commands through again
            await _until_joined(system, bootstrap, layout.worker_app, workers)
            await _until_through(system, probes)
        system.info["ready_s"] = time.monotonic() - t0
        yield system
    finally:
        await asyncio.to_thread(stop_all, list(procs.values()))
        await asyncio.to_thread(services.delete_topics, bootstrap, prefix)
        await asyncio.to_thread(db.drop)


async def _until_joined(system: System, bootstrap: str, group: str, members: int, timeout: float = 120.0) -> None:
    """Wait until the workers' consumer group is stable with ``members`` members."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="eoc-bench-group")
    deadline = time.monotonic() + timeout
    try:
        while True:
            system.check()
            found = (await asyncio.to_thread(admin.describe_groups, [group])).get(group, {})
            if found.get("group_state") == "Stable" and len(found.get("members") or []) >= members:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the workers' group {group} did not become stable with {members} members "
                                   f"within {timeout} s: {found.get('group_state')}, "
                                   f"{len(found.get('members') or [])} members")
            await asyncio.sleep(0.5)
    finally:
        admin.close()


def _one_province_per_partition(partition_for: Callable[[str], int]) -> tuple[str, ...]:
    first: dict[int, str] = {}
    for code in PROVINCES:
        first.setdefault(partition_for(code), code)
    return tuple(first.values())


async def _until_through(system: System, provinces: tuple[str, ...] = ("QZV",), timeout: float = 120.0) -> float:
    """Send a call in each of ``provinces`` through every API now and then until their effects
    reach a dashboard (the workers' group has formed, the bridge follows the board topic); how
    long that took."""
    from .watch import BoardWatcher

    t0 = time.monotonic()
    watcher = await BoardWatcher().connect(system.bridge_port, system.national_token())
    pools = [await Pool("127.0.0.1", port, 1).open() for port in system.all_api_ports()]
    tokens = {code: system.signer.issue("call_taker", code, sub="bench-probe") for code in provinces}
    try:
        while time.monotonic() - t0 < timeout:
            system.check()
            waiting: dict[str, int] = {}
            for pool in pools:
                for code, token in tokens.items():
                    status, answer = await pool.post(
                        "/api/v1/calls", {"province": code, "county": PROVINCES[code].capital}, token)
                    if status >= 300:
                        raise RuntimeError(f"the cluster API refused the probe: {status} {answer}")
                    waiting[code] = max(waiting.get(code, 0), answer["position"])
            for _ in range(20):
                if all(watcher.applied.get(code, 0) >= position for code, position in waiting.items()):
                    return time.monotonic() - t0
                await asyncio.sleep(0.1)
        raise TimeoutError(f"no command reached the bridge within {timeout} s")
    finally:
        for pool in pools:
            pool.close()
        watcher.close()
