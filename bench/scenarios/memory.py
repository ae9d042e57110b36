"""Memory: resident memory of each process after a million events, and its growth per further
100,000, over a bounded world (``tests.support.history.bounded``: 248 teams and 62 centres, 20
known callers a province; calls with their outcomes, incidents, status changes, check-ins,
position reports, admissions, holding periods and discharges, drills). Boards whose size does
not grow must not grow in memory.

Embedded: one process (``bench.memory_probe``: the store and its aggregate cache, the writer,
the follower and its board, the bridge's mirror of the rows) fed the history in-process.
Cluster: the four processes (``eoc api``, ``eoc relay``, ``eoc worker``, ``eoc bridge``) while
this process writes the history into their PostgreSQL store and sends the position reports to
Kafka as the API does; memory is read once the bridge shows every province caught up.

Figures per process: resident memory after N events, against the same process a fifth of the
way in (warm: every row exists, caches and client buffers are full), and the growth per 100,000 events over the last
step, against the same warm size (so the ratio is the share of the process grown per 100,000).
"Flat" (the target of the first): at most 1 MB grown per 100,000 events from warm to N.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from .. import services
from ..procs import Proc, rss_mb_of
from ..suite import Context
from ..watch import BoardWatcher

EMBEDDED = "Memory, embedded"
CLUSTER = "Memory, cluster"
FLAT_MB_PER_100K = 1.0  # "flat": grown at most this much per 100,000 events after warm-up


def _figures(ctx: Context, scenario: str, process: str, samples: list[dict[str, Any]], events: int) -> None:
    """samples: [{"events": n, "rss_mb": m}, ...] from before the history to its end (a step past
    ``events``). Warm: the first sample a fifth of the way in (rows all exist, caches and client
    buffers are full). Growth: over the last 100,000 events (or the last step, if shorter)."""
    last = samples[-1]
    at_n = min(samples, key=lambda s: abs(s["events"] - events))
    warm = next(s for s in samples[1:] if s["events"] >= at_n["events"] / 5)
    ref = min(samples[:-1], key=lambda s: abs(s["events"] - (last["events"] - 100_000)))
    span = last["events"] - ref["events"]
    per_100k = (last["rss_mb"] - ref["rss_mb"]) / max(1, span) * 100_000
    since_warm = (at_n["rss_mb"] - warm["rss_mb"]) / max(1, at_n["events"] - warm["events"]) * 100_000
    ctx.add(scenario, f"{process}: RSS after {at_n['events']:,} events", at_n["rss_mb"], "MB",
            warm["rss_mb"], f"same process after {warm['events']:,} events (warm)",
            target=f"flat: <= {FLAT_MB_PER_100K:g} MB per 100k events after warm-up", met=since_warm <= FLAT_MB_PER_100K,
            note=f"{since_warm:+.2f} MB per 100k events since warm")
    ctx.add(scenario, f"{process}: RSS growth per 100k events (over the last {span:,})", per_100k, "MB/100k",
            warm["rss_mb"], "same process, warm size (ratio: share grown per 100k)")


async def run_embedded(ctx: Context) -> None:
    sizes = ctx.sizes
    data = ctx.workdir / "memory-embedded-data"
    proc = Proc("memory-embedded", [sys.executable, "-m", "bench.memory_probe", "--events", str(sizes.memory_events),
                                    "--step", str(sizes.memory_step), "--data", str(data)],
                {**_env(), "PYTHONUNBUFFERED": "1"}, ctx.workdir, cwd=services.ROOT)
    proc.log = ctx.workdir / "memory-embedded.jsonl"
    popen = proc.start().proc
    assert popen is not None
    try:
        await asyncio.to_thread(popen.wait)
    finally:
        proc.stop()  # when the scenario's time bound cancels the wait
    samples = [json.loads(line) for line in proc.log.read_text().splitlines() if line.startswith("{")]
    if popen.returncode != 0 or len(samples) < 3:
        raise RuntimeError(f"the memory probe failed ({popen.returncode}):\n{proc.tail()}")
    ctx.detail("memory_embedded", {"samples": samples})
    _figures(ctx, EMBEDDED, "embedded process", samples, sizes.memory_events)


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("EOC_")}


async def run_cluster(ctx: Context) -> None:
    from consumers.telemetry import TelemetryPublisher
    from eoc.app.config import Settings
    from eoc.app.service import EOCApplication
    from eoc.main.cluster import ClusterSettings
    from tests.support.history import bounded

    sizes = ctx.sizes
    events = sizes.cluster_memory_events
    step = max(1000, events // 10)
    svc = ctx.services()
    async with ctx.cluster() as system:
        dsn = system.procs["api"].env["EOC_PG_DSN"]
        prefix = system.info["topic_prefix"]
        settings = Settings.from_env({}, store="postgres", pg_dsn=dsn, data_dir=ctx.workdir / "memory-cluster",
                                     token_secret=b"bench-key-7c1e9a3f5d2b8064ee19ab37c5d2", single_writer=True)
        layout = ClusterSettings.from_env({"EOC_TOPIC_PREFIX": prefix}).layout
        app = EOCApplication(env=settings.eventsourcing_env())
        publisher = TelemetryPublisher(svc["EOC_KAFKA_BOOTSTRAP"], layout)
        watcher = await BoardWatcher().connect(system.bridge_port, system.national_token())
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in system.procs}
        t0 = time.perf_counter()
        try:
            history = await asyncio.to_thread(bounded, app, publisher)

            async def caught_up() -> None:
                publisher.flush()
                deadline = time.monotonic() + 600
                while any(watcher.applied.get(p, 0) < pos for p, pos in history.last_position.items()):
                    system.check()
                    if time.monotonic() > deadline:
                        raise TimeoutError("the cluster's boards did not catch up within 600 s")
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1.0)  # the worker's last telemetry batch, the bridge's tick
                for name, proc in system.procs.items():
                    samples[name].append({"events": history.total(), "rss_mb": rss_mb_of(proc.pid),
                                          "seconds": time.perf_counter() - t0})

            await caught_up()
            done = 0
            while done < events + step:
                await asyncio.to_thread(history.run, step)
                done += step
                await caught_up()
        finally:
            watcher.close()
            publisher.close()
            app.close()
    ctx.detail("memory_cluster", {"events": events, "step": step, "samples": samples,
                                  "seconds": time.perf_counter() - t0})
    for name, found in samples.items():
        _figures(ctx, CLUSTER, f"eoc {name}", found, events)
