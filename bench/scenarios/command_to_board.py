"""Command to board: from the moment the client sends a command (the request goes on the wire) to
the moment a connected national dashboard receives the websocket frame that carries its effect,
at a steady 100 commands a second. The HTTP answer (send to answer) is a figure of its own: a
frame may come before the answer, and is then matched with its real arrival time when the
answer tells the command's log position (``bench.watch``).

Embedded (``eoc demo``: SQLite, writer, follower, bridge in one process); baseline: the same
span on the floor (``bench.floor``: a bare endpoint on the same HTTP stack that broadcasts a
small frame on a bare websocket server), sent to with the same load generator, pacing,
connections and dashboard client; and, between the rounds, a durable commit alone (sqlite3, WAL,
synced at every commit as the event store is, one row a transaction at the same rate): the floor
stores nothing, so the floor plus that commit is the least a durable command can take.
Cluster (``eoc api`` → PostgreSQL → ``eoc relay`` → Kafka → ``eoc worker`` (Faust) →
``eoc.boards`` → ``eoc bridge``); baseline: Kafka's own EndToEndLatency (acks=all) — one
hop of the several that a command's effect makes on its way. The cluster run also records where
the time goes (``bench.hops``): send to ``eoc.events``, to ``eoc.boards``, to the frame.

Every baseline is measured in windows interleaved with the system's (``Sizes.rounds`` rounds:
a system window, then the floor's at the same rate, then the round's Kafka run in the cluster);
the figures are taken of all the rounds' samples together, which the JSON keeps.

The same figures at the highest rate held come from the sustained scenarios.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .. import services
from ..baselines import FloorSession, postgres_commit_latency, sqlite_commit_latency
from ..hops import Hops
from ..loadgen import quantile
from ..procs import CpuMeter
from ..report import QUANTILES, source
from ..session import Session, Window, interleaved, pooled, quantiles
from ..suite import Context

EMBEDDED = "Command to board, embedded"
CLUSTER = "Command to board, cluster"
TARGET_MS = 20.0
FLOOR_FACTOR = 2.0  # issue 17: embedded p99 also ≤ 2 × the floor's p99
CLUSTER_FACTOR = 5.0  # issue 17: ≤ 5 × Kafka EndToEndLatency p99 (acks=all)
FLOOR_FRAME = "floor: bare broadcast endpoint, send to frame, interleaved"
FLOOR_ANSWER = "floor: bare broadcast endpoint, send to answer, interleaved"
STATS = (("p50", "p50_ms"), ("p99", "p99_ms"), ("p99.9", "p99_9_ms"))


def windows_record(mine: list[Window], bare: list[Window], rate: float) -> dict[str, Any]:
    """The rounds (each window's summary) and every sample, pooled over the rounds, of the system
    and of the floor: what the figures are taken of."""
    return {"rate": rate, "rounds": [{"system": m.summary(), "floor": b.summary()} for m, b in zip(mine, bare)],
            "system": {k: pooled(mine, k) for k in ("command_to_board_ms", "send_to_answer_ms")},
            "floor": {k: pooled(bare, k) for k in ("command_to_board_ms", "send_to_answer_ms")}}


def latency_figures(ctx: Context, scenario: str, at: str, key: str, record: dict[str, Any], *,
                    baseline: dict[str, Any] | None = None, target_ms: float | None = TARGET_MS) -> None:
    """p50, p99, p99.9 of command to board and p50, p99 of send to answer, from ``record`` (stored
    at ``key`` in the details). ``baseline``: for command to board, Kafka's (cluster: the mean of
    the rounds' runs, ``record["kafka_rounds"]``); otherwise the floor's samples. ``target_ms``:
    the p99's target against the floor (none: no target)."""

    def q(samples: list[float], stat: str) -> float | None:
        return quantile(sorted(samples), QUANTILES[stat])

    for stat, field in STATS:
        value = q(record["system"]["command_to_board_ms"], stat)
        mine = source(f"{key}/system/command_to_board_ms", stat)
        extra: dict[str, Any] = {}
        if stat == "p99":
            if baseline is None and target_ms is not None:
                floor = q(record["floor"]["command_to_board_ms"], stat)
                extra = {"target": f"<= {target_ms:g} ms and <= {FLOOR_FACTOR:g} x floor p99",
                         "met": value is not None and value <= target_ms
                         and floor is not None and value <= FLOOR_FACTOR * floor}
            elif baseline is not None:
                extra = {"target": f"<= {CLUSTER_FACTOR:g} x Kafka p99",
                         "met": value is not None and value <= CLUSTER_FACTOR * max(1.0, baseline["p99_ms"])}
        if baseline is None:
            ctx.add(scenario, f"{stat} {at}", value, "ms", q(record["floor"]["command_to_board_ms"], stat),
                    f"{FLOOR_FRAME}, {stat}", value_from=mine,
                    baseline_from=source(f"{key}/floor/command_to_board_ms", stat), **extra)
        else:
            ctx.add(scenario, f"{stat} {at}", value, "ms", baseline[field],
                    f"Kafka EndToEndLatency acks=all, {stat} (mean of the rounds' runs)", value_from=mine,
                    baseline_from=source(f"{key}/kafka_rounds/{field}", "mean"), **extra)
    for stat in ("p50", "p99"):
        ctx.add(scenario, f"HTTP answer (send to answer) {stat} {at}", q(record["system"]["send_to_answer_ms"], stat),
                "ms", q(record["floor"]["send_to_answer_ms"], stat), f"{FLOOR_ANSWER}, {stat}",
                value_from=source(f"{key}/system/send_to_answer_ms", stat),
                baseline_from=source(f"{key}/floor/send_to_answer_ms", stat))


async def measure(ctx: Context, system: Any, hops: Hops | None = None, kafka: list[dict[str, Any]] | None = None,
                  commits: list[float] | None = None,
                  pg_commits: dict[str, list[float]] | None = None) -> tuple[list[Window], list[Window]]:
    """Warm both up, then the rounds: the system, the floor (and Kafka's tool, when ``kafka``; a
    durable SQLite commit alone at the same rate, when ``commits``; a PostgreSQL commit alone at
    the same rate and back to back, when ``pg_commits``)."""
    sizes = ctx.sizes
    rate = sizes.latency_rate
    async with Session(system, connections=8) as session, FloorSession(await ctx.floor(), connections=8) as bare:
        await session.window(rate, sizes.warmup_s)
        await bare.window(rate, sizes.warmup_s)
        if hops is not None:
            await hops.start()
            session.observers.append(hops.expect)

        async def between_rounds(_: int) -> None:
            if kafka is not None:
                kafka.append(await kafka_end_to_end(ctx, max(20, sizes.kafka_records // sizes.rounds)))
            count = max(20, int(rate * sizes.latency_s / sizes.rounds))
            if commits is not None:
                measured = await asyncio.to_thread(sqlite_commit_latency, ctx.workdir / "commit-alone.sqlite",
                                                   rate, count)
                commits.extend(measured["commit_ms"])
            if pg_commits is not None:
                dsn = ctx.services()["EOC_PG_TEST_DSN"]
                for label, pace in (("paced", rate), ("back_to_back", None)):
                    measured = await asyncio.to_thread(postgres_commit_latency, dsn, pace, count)
                    pg_commits.setdefault(label, []).extend(measured["commit_ms"])

        try:
            return await interleaved(session, bare, rate, sizes.latency_s / sizes.rounds, sizes.rounds,
                                     between=between_rounds)
        finally:
            if hops is not None:
                await hops.stop()


async def kafka_end_to_end(ctx: Context, records: int) -> dict[str, Any]:
    svc = ctx.services()
    return await services.kafka_end_to_end(svc["EOC_KAFKA_BOOTSTRAP"], svc["EOC_KAFKA_TOOLS_CLASSPATH"],
                                           svc["EOC_KAFKA_TOOLS_LOG4J"], records=records)


KAFKA_FIELDS = ("avg_ms", "p50_ms", "p99_ms", "p99_9_ms")


def kafka_rounds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds' Kafka runs, each percentile as the list of the runs' (the tool prints only its
    percentiles, in whole milliseconds: they cannot be pooled), and every run."""
    return {**{f: [r[f] for r in runs] for f in KAFKA_FIELDS}, "runs": runs}


def kafka_mean(rounds: dict[str, Any]) -> dict[str, float]:
    return {f: sum(rounds[f]) / len(rounds[f]) for f in KAFKA_FIELDS}


async def run_embedded(ctx: Context) -> None:
    rate = ctx.sizes.latency_rate
    commits: list[float] = []
    async with ctx.embedded("c2b-embedded") as system:
        mine, bare = await measure(ctx, system, commits=commits)
    key = "command_to_board_embedded"
    record = windows_record(mine, bare, rate)
    record["durable_commit_ms"] = commits
    ctx.detail(key, record)
    latency_figures(ctx, EMBEDDED, f"at {rate:g}/s", key, record)
    # What durability adds to the floor: a command is answered and shown only once its batch is
    # synced to disk; the floor stores nothing. The floor's p99 plus this is the least a durable
    # command could take.
    for stat in ("p50", "p99"):
        ctx.add(EMBEDDED, f"durable commit alone (sqlite3, WAL, synced, 1 row a transaction) {stat} at {rate:g}/s",
                quantile(sorted(commits), QUANTILES[stat]), "ms",
                quantile(sorted(record["floor"]["command_to_board_ms"]), QUANTILES[stat]), f"{FLOOR_FRAME}, {stat}",
                value_from=source(f"{key}/durable_commit_ms", stat),
                baseline_from=source(f"{key}/floor/command_to_board_ms", stat))


async def run_cluster(ctx: Context) -> None:
    sizes = ctx.sizes
    svc = ctx.services()
    await services.fetch_kafka_tools_async()
    kafka: list[dict[str, Any]] = []
    pg_commits: dict[str, list[float]] = {}
    async with ctx.cluster() as system:
        from eoc.main.cluster import ClusterSettings

        layout = ClusterSettings.from_env({"EOC_TOPIC_PREFIX": system.info["topic_prefix"]}).layout
        hops = Hops(svc["EOC_KAFKA_BOOTSTRAP"], layout.events, layout.boards)
        mine, bare = await measure(ctx, system, hops, kafka, pg_commits=pg_commits)
        cluster_info = dict(system.info)
        # A quiet hour: no command. What each process spends on waiting (its timers, its clients'
        # polls) is a core's share no command gets on a small machine.
        await asyncio.sleep(2 if not ctx.smoke else 0.2)  # the last batches and commits settle
        meter = CpuMeter(system.pids()).start()
        await asyncio.sleep(sizes.idle_s)
        idle = meter.stop()
    key = "command_to_board_cluster"
    record = windows_record(mine, bare, sizes.latency_rate)
    # Where the time goes: send -> eoc.events (relay) -> eoc.boards (worker) -> frame (bridge).
    frame = quantiles(record["system"]["command_to_board_ms"])
    where = {**hops.report(), "send_to_dashboard_frame": {k: frame[k] for k in ("p50_ms", "p99_ms", "n")}}
    record.update(kafka_rounds=kafka_rounds(kafka), cluster=cluster_info, hops=where,
                  durable_commit_ms=pg_commits,
                  idle={"seconds": sizes.idle_s, "cores": idle, "total": sum(idle.values()),
                        "busy": [sum(c for name, c in w.cpu.items() if name in idle)
                                 for w in mine],
                        # Each process at the figure's rate (mean of the rounds' windows): its
                        # cores / the rate is its CPU per command.
                        "busy_by_process": {name: sum(w.cpu.get(name, 0.0) for w in mine) / len(mine)
                                            for name in idle}})
    ctx.detail(key, record)
    latency_figures(ctx, CLUSTER, f"at {sizes.latency_rate:g}/s", key, record,
                    baseline=kafka_mean(record["kafka_rounds"]))
    # A command is answered once its transaction is synced in PostgreSQL. Kafka's tool sends its
    # next record as soon as the last came through: its path never goes idle. The same commit
    # paced at the figure's rate against back to back is what the pacing alone costs each step.
    for stat in ("p50", "p99"):
        ctx.add(CLUSTER, f"durable commit alone (PostgreSQL, synced, 1 row a transaction) {stat} at "
                f"{sizes.latency_rate:g}/s", quantile(sorted(pg_commits["paced"]), QUANTILES[stat]), "ms",
                quantile(sorted(pg_commits["back_to_back"]), QUANTILES[stat]),
                f"the same commit back to back (as Kafka's EndToEndLatency sends), {stat}, interleaved",
                value_from=source(f"{key}/durable_commit_ms/paced", stat),
                baseline_from=source(f"{key}/durable_commit_ms/back_to_back", stat))
    ctx.add(CLUSTER, "CPU with no command (api, relay, worker, bridge)", record["idle"]["total"], "cores",
            sum(record["idle"]["busy"]) / len(record["idle"]["busy"]),
            f"the same processes at {sizes.latency_rate:g}/s (mean of the rounds' windows)",
            value_from={"samples": f"{key}/idle/total", "stat": "value"},
            baseline_from={"samples": f"{key}/idle/busy", "stat": "mean"})
