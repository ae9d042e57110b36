"""Sustained commands: the highest steady rate of a realistic mix held with the boards' lag not
growing, embedded and cluster.

The mix (``bench.mix``): calls received (half with the caller's sealed details) and
classified, some escalated; teams dispatched and moving through their statuses, incidents
closed; admissions and discharges; position reports (about one request in six).

How the rate is found, by a search: first flat out for a few seconds (what the system answers
at most with the pool's connections); the search starts at ``Sizes.search_start`` of that and
holds the mix at each rate for ``Sizes.hold_s``, multiplying the rate by ``Sizes.search_step``
after every rate held, until one is not held (answered below the offered rate, a failure, or a
board lag that grew — ``Window.held``) or the search's time (``Sizes.search_s``) is spent. The
figure is the last rate held; every attempt is in the JSON. If the first rate is not held, the
search steps down (× 0.7) until one is. The lag is what the dashboard still waits for: commands
answered (committed; the store's head is past them) whose effect no frame has brought yet.

Then, at the rate found, ``Sizes.rounds`` rounds alternate: the system at that rate, the
floor's command-to-board baseline at the same rate (``baselines.FloorSession``), the HTTP
framework's floor (the minimal endpoint flat out, with the same connections) and the raw insert
rate of the same database (one row per transaction). The command-to-board figures at the rate
held, and their baselines, come from those rounds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .. import baselines
from ..baselines import FloorSession
from ..report import source
from ..session import Session, Window, interleaved
from ..suite import Context
from .command_to_board import CLUSTER as C2B_CLUSTER
from .command_to_board import EMBEDDED as C2B_EMBEDDED
from .command_to_board import TARGET_MS, latency_figures, windows_record

EMBEDDED = "Sustained commands, embedded"
CLUSTER = "Sustained commands, cluster"
TARGET_PER_S = 2000
FLOOR_SHARE = 0.6  # issue 17: the held rate ≥ 0.6 × the HTTP floor of the same stack
STEP_DOWN = 0.7


async def search(ctx: Context, session: Session, probe_per_s: float, found: dict[str, Any]) -> tuple[float, Window]:
    """Step up from a share of the flat-out probe until a rate is not held (or the time is spent);
    the last rate held and its window (or, if none held, the last rate tried). Every attempt goes
    into ``found["attempts"]``; ``found["stopped"]`` says why the search ended."""
    sizes = ctx.sizes
    rate = max(50.0, round(sizes.search_start * probe_per_s, -1))
    deadline = time.perf_counter() + sizes.search_s
    held: tuple[float, Window] | None = None
    last: tuple[float, Window] | None = None
    settle = min(5.0, max(1.0, sizes.hold_s / 4))
    while True:
        window = await session.window(rate, sizes.hold_s, settle_s=settle,
                                      label=f"{session.system.mode}-hold-{rate:.0f}")
        ok, why = window.held(rate)
        system_cpu = sum(v for k, v in window.cpu.items() if k != "load generator")
        found["attempts"].append({"rate": rate, "held": ok, "why": why, "system_cpu_cores": system_cpu,
                                  **window.summary()})
        last = (rate, window)
        if ok:
            held = (rate, window)
            step = max(rate + 10.0, round(rate * sizes.search_step, -1))
        elif held is not None:
            found["stopped"] = f"{rate:,.0f}/s not held: {why}"
            break
        else:
            await session.drain()  # what a rate not held left waiting is not the next attempt's
            step = max(10.0, round(rate * STEP_DOWN, -1))
            if step >= rate:
                found["stopped"] = f"not held even at {rate:,.0f}/s: {why}"
                break
        if time.perf_counter() + sizes.hold_s + settle > deadline:
            found["stopped"] = "the search's time bound (a higher rate may hold)" if ok else \
                f"the search's time bound; not held at any rate tried: {why}"
            break
        rate = step
    return held if held is not None else last


async def measure(ctx: Context, system: Any, key: str, insert: Callable[[float], dict[str, Any]]) -> dict[str, Any]:
    """The search, then the interleaved rounds at the rate found; everything goes into the details
    at ``key``."""
    sizes = ctx.sizes
    floor = await ctx.floor()
    found: dict[str, Any] = {"attempts": [], "http_floor_windows": [], "insert_windows": [], "stopped": ""}
    async with (Session(system, telemetry=True, connections=sizes.connections) as session,
                FloorSession(floor, connections=sizes.connections) as bare):
        session.profile_dir = ctx.profile_dir
        await session.window(100, sizes.warmup_s)
        probe = await session.saturate(sizes.probe_s)
        found["probe"] = probe.summary()
        rate, window = await search(ctx, session, probe.achieved_per_s, found)
        found["rate"] = rate
        found["held"] = any(a["held"] and a["rate"] == rate for a in found["attempts"])
        found["attempt"] = next(i for i, a in enumerate(found["attempts"]) if a["rate"] == rate
                                and a["held"] == found["held"])
        await session.drain()
        await bare.window(rate, sizes.warmup_s)

        async def baselines_round(_: int) -> None:
            http = await baselines.http_floor(floor, sizes.floor_s / sizes.rounds, sizes.connections)
            found["http_floor_windows"].append({**http, "count": http["answered"], "seconds": http["window_s"]})
            rows = await asyncio.to_thread(insert, sizes.insert_s / sizes.rounds)
            found["insert_windows"].append({**rows, "count": rows["rows"]})

        mine, floors = await interleaved(session, bare, rate, sizes.held_s / sizes.rounds, sizes.rounds,
                                         between=baselines_round)
        found["at_rate"] = windows_record(mine, floors, rate)
        found["mix_sent"] = dict(session.mix.sent)
        found["mix_refused"] = dict(session.mix.refused)
    ctx.detail(key, found)
    return found


def report(ctx: Context, scenario: str, c2b_scenario: str, key: str, found: dict[str, Any],
           insert_name: str) -> None:
    rate, held = found["rate"], found["held"]
    attempt = f"{key}/attempts/{found['attempt']}"
    # Not held at any rate tried (a busy machine, a short smoke window): the last rate tried is
    # reported under another name, so that it is never read as held.
    name = "highest steady rate held (mix, flat lag; search)" if held else "steady rate tried, NOT held"
    rate_from = source(f"{key}/attempts", "max_held") if held else source(f"{key}/rate", "value")
    note = found["stopped"]
    insert = rate_of(found["insert_windows"])
    floor = rate_of(found["http_floor_windows"])
    ctx.add(scenario, name, rate, "/s", insert, f"{insert_name}, interleaved",
            target=f">= {TARGET_PER_S:,}/s", met=held and rate >= TARGET_PER_S, note=note, value_from=rate_from,
            baseline_from=source(f"{key}/insert_windows", "rate"))
    ctx.add(scenario, name, rate, "/s", floor, "HTTP framework floor: minimal endpoint, same stack, flat out, "
            "interleaved", value_from=rate_from, baseline_from=source(f"{key}/http_floor_windows", "rate"),
            target=f">= {FLOOR_SHARE:g} x floor", met=held and floor is not None and rate >= FLOOR_SHARE * floor)
    ctx.add(scenario, "flat out, answered (probe)", found["probe"]["achieved_per_s"], "/s", floor,
            "HTTP framework floor, interleaved", value_from=source(f"{key}/probe/achieved_per_s", "value"),
            baseline_from=source(f"{key}/http_floor_windows", "rate"))
    lag = found["attempts"][found["attempt"]]["lag"]
    ctx.add(scenario, "board lag, last third of the hold (commands waiting)", lag["last_third"], "",
            lag["first_third"], "the same, first third", note="ratio near 1 or below: flat",
            value_from=source(f"{attempt}/lag/last_third", "value"),
            baseline_from=source(f"{attempt}/lag/first_third", "value"))
    cpu = found["attempts"][found["attempt"]]
    ctx.add(scenario, "load generator CPU during the hold", cpu["cpu_cores"].get("load generator"), "cores",
            cpu["system_cpu_cores"], "system's processes, same window",
            value_from=source(f"{attempt}/cpu_cores/load generator", "value"),
            baseline_from=source(f"{attempt}/system_cpu_cores", "value"))
    # The command-to-board figures at the rate held belong with the 100/s ones; their baseline is
    # the floor's at the same rate, in the same rounds.
    at = f"at {rate:,.0f}/s ({'held' if held else 'not held'})"
    latency_figures(ctx, c2b_scenario, at, f"{key}/at_rate", found["at_rate"],
                    target_ms=TARGET_MS if scenario == EMBEDDED else None)


def rate_of(windows: list[dict[str, Any]]) -> float:
    seconds = sum(w["seconds"] for w in windows)
    return sum(w["count"] for w in windows) / seconds if seconds else 0.0


async def run_embedded(ctx: Context) -> None:
    path = ctx.workdir / "raw-insert.sqlite"
    async with ctx.embedded("sustained-embedded") as system:
        found = await measure(ctx, system, "sustained_embedded", lambda s: baselines.sqlite_insert_rate(path, s))
    report(ctx, EMBEDDED, C2B_EMBEDDED, "sustained_embedded", found, "sqlite3 raw insert, 1 row/transaction (WAL)")


async def run_cluster(ctx: Context) -> None:
    dsn = ctx.services()["EOC_PG_TEST_DSN"]
    async with ctx.cluster() as system:
        found = await measure(ctx, system, "sustained_cluster", lambda s: baselines.postgres_insert_rate(dsn, s))
    report(ctx, CLUSTER, C2B_CLUSTER, "sustained_cluster", found, "psycopg raw insert, 1 row/transaction (autocommit)")
