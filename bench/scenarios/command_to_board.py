"""Command to board: from the HTTP command's answer to the websocket frame that carries its
effect on a connected national dashboard, at a steady 100 commands a second.

Embedded (``eoc demo``: SQLite, writer, follower, bridge in one process); baseline: a bare
HTTP round trip on the same stack plus a websocket echo, on the same loopback, paced alike.
Cluster (``eoc api`` → PostgreSQL → ``eoc relay`` → Kafka → ``eoc worker`` (Faust) →
``eoc.boards`` → ``eoc bridge``); baseline: Kafka's own EndToEndLatency (acks=all) — one
hop of the several that a command's effect makes on its way. The cluster run also records where
the time goes (``bench.hops``): answer to ``eoc.events``, to ``eoc.boards``, to the frame.

The same figures at the highest rate held come from the sustained scenarios.
"""

from __future__ import annotations

from typing import Any

from .. import baselines, services
from ..hops import Hops
from ..session import Session, Window
from ..suite import Context

EMBEDDED = "Command to board, embedded"
CLUSTER = "Command to board, cluster"
TARGET_MS = 20.0
CLUSTER_FACTOR = 10.0


async def measure(ctx: Context, system: Any, hops: Hops | None = None) -> Window:
    sizes = ctx.sizes
    async with Session(system, connections=8) as session:
        await session.window(sizes.latency_rate, sizes.warmup_s)
        if hops is not None:
            await hops.start()
            session.observers.append(hops.expect)
        try:
            return await session.window(sizes.latency_rate, sizes.latency_s)
        finally:
            if hops is not None:
                await hops.stop()


async def run_embedded(ctx: Context) -> None:
    sizes = ctx.sizes
    async with ctx.embedded("c2b-embedded") as system:
        window = await measure(ctx, system)
    base = await baselines.round_trips(await ctx.floor(), sizes.latency_rate, sizes.latency_s)
    q = window.quantiles()
    ctx.detail("command_to_board_embedded", {"window": window.summary(), "baseline": base})
    rate = f"at {sizes.latency_rate:g}/s"
    ctx.add(EMBEDDED, f"p50 {rate}", q["p50_ms"], "ms", base["p50_ms"], "HTTP round trip + websocket echo, p50")
    ctx.add(EMBEDDED, f"p99 {rate}", q["p99_ms"], "ms", base["p99_ms"], "HTTP round trip + websocket echo, p99",
            target=f"<= {TARGET_MS:g} ms", met=q["p99_ms"] is not None and q["p99_ms"] <= TARGET_MS)
    ctx.add(EMBEDDED, f"p99.9 {rate}", q["p99_9_ms"], "ms", base["p99_9_ms"],
            "HTTP round trip + websocket echo, p99.9")


async def run_cluster(ctx: Context) -> None:
    sizes = ctx.sizes
    svc = ctx.services()
    async with ctx.cluster() as system:
        from eoc.main.cluster import ClusterSettings

        layout = ClusterSettings.from_env({"EOC_TOPIC_PREFIX": system.info["topic_prefix"]}).layout
        hops = Hops(svc["EOC_KAFKA_BOOTSTRAP"], layout.events, layout.boards)
        window = await measure(ctx, system, hops)
        cluster_info = dict(system.info)
    await services.fetch_kafka_tools_async()
    kafka = await services.kafka_end_to_end(svc["EOC_KAFKA_BOOTSTRAP"], svc["EOC_KAFKA_TOOLS_CLASSPATH"],
                                            svc["EOC_KAFKA_TOOLS_LOG4J"], records=sizes.kafka_records)
    q = window.quantiles()
    # Where the time goes: answer -> eoc.events (relay) -> eoc.boards (worker) -> frame (bridge).
    where = {**hops.report(), "answer_to_dashboard_frame": {k: q[k] for k in ("p50_ms", "p99_ms", "n")}}
    ctx.detail("command_to_board_cluster", {"window": window.summary(), "kafka_end_to_end": kafka,
                                            "cluster": cluster_info, "hops": where})
    rate = f"at {sizes.latency_rate:g}/s"
    ctx.add(CLUSTER, f"p50 {rate}", q["p50_ms"], "ms", kafka["p50_ms"], "Kafka EndToEndLatency acks=all, p50")
    ctx.add(CLUSTER, f"p99 {rate}", q["p99_ms"], "ms", kafka["p99_ms"], "Kafka EndToEndLatency acks=all, p99",
            target=f"<= {CLUSTER_FACTOR:g} x Kafka p99",
            met=q["p99_ms"] is not None and q["p99_ms"] <= CLUSTER_FACTOR * max(1.0, kafka["p99_ms"]))
    ctx.add(CLUSTER, f"p99.9 {rate}", q["p99_9_ms"], "ms", kafka["p99_9_ms"],
            "Kafka EndToEndLatency acks=all, p99.9")
