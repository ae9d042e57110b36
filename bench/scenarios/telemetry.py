"""Telemetry: 1,000 teams reporting their position every second, then ten times a second —
how stale the map board is on a dashboard (p99) and what it costs in CPU.

Each report is a ``POST /api/v1/teams/{id}/position`` stamped with the moment it was due
(``reported_at``): a report the load generator could only send late, because the system did not
keep up, is as stale as it is on a real map. Staleness is the moment the dashboard reads the
frame carrying the team's new position minus ``reported_at`` (same clock: the load generator
stamps and reads). It includes the bridge's 50 ms tick.

Baseline, same rates, same load generator: the floor server (``bench.floor``) — a minimal
validated POST on the same HTTP stack putting the report into a bare map broadcast on the same
50 ms tick, with no token, no team lookup, no follower and no visibility filter.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

from events.places import PROVINCES

from ..loadgen import Pool, paced, quantile
from ..mix import stamp
from ..procs import CpuMeter
from ..profile import Sampler
from ..suite import Context
from ..systems import System
from ..watch import BoardWatcher

EMBEDDED = "Telemetry, embedded"
CLUSTER = "Telemetry, cluster"
STALE_TARGET_MS = 1000.0
CONNECTIONS = 64


async def register_teams(system: System, count: int, start: int = 0) -> list[tuple[str, str, str]]:
    """``count`` teams over the 31 provinces; (team id, province, token)."""
    codes = list(PROVINCES)
    tokens = {c: system.signer.issue("provincial_supervisor", c, sub=f"bench-{c}") for c in codes}
    pool = await Pool("127.0.0.1", system.api_port, 16).open()
    try:
        async def one(i: int) -> tuple[str, str, str]:
            code = codes[i % len(codes)]
            place = PROVINCES[code]
            status, answer = await pool.post("/api/v1/teams", {
                "province": code, "county": place.capital, "name": f"{code}-T{start + i}",
                "home": {"lat": place.lat, "lon": place.lon}}, tokens[code])
            if status >= 300:
                raise RuntimeError(f"registering a team was refused: {status} {answer}")
            return answer["team_id"], code, tokens[code]

        return list(await asyncio.gather(*(one(i) for i in range(count))))
    finally:
        pool.close()


async def reports(port: int, bridge_port: int, watch_token: str, pids: dict[str, int],
                  body_for: Any, rate: float, seconds: float, warmup_s: float,
                  profile: tuple[Path, str] | None = None, warm_body: Any = None) -> dict[str, Any]:
    """Position reports at ``rate`` a second; the map's staleness and the CPU.

    The system keeps at most one report per team per 30 s (the bounded position track,
    eoc/app/track.py): the others are answered ``"kept": false`` and never reach the map. So the
    warm-up runs on teams of its own (``warm_body``), and the window's teams have reported
    nothing before it: each one's first report of the window is kept and its staleness measured,
    as a dispatcher sees a team appear or move on the map."""
    watcher = await BoardWatcher().connect(bridge_port, watch_token)
    pool = await Pool("127.0.0.1", port, CONNECTIONS).open()
    try:
        async def send(due: float) -> int:
            path, body, headers = body_for(due)
            status, _ = await pool.request("POST", path, body, headers)
            return status

        async def warm(due: float) -> int:
            path, body, headers = (warm_body or body_for)(due)
            status, _ = await pool.request("POST", path, body, headers)
            return status

        await paced(warm, rate, warmup_s, max_in_flight=4 * CONNECTIONS)
        await asyncio.sleep(0.3)  # the warm-up's last reports reach the map before the window
        stale: list[float] = []
        watcher.staleness_ms = stale
        spy = Sampler(pids, seconds, *profile) if profile else None
        meter = CpuMeter(pids).start()
        run = await paced(send, rate, seconds, max_in_flight=4 * CONNECTIONS)
        cpu = meter.stop()
        await asyncio.sleep(0.3)  # the last tick
        watcher.staleness_ms = None
    finally:
        pool.close()
        watcher.close()
    s = sorted(stale)
    extra = {"profile": await asyncio.to_thread(spy.summary)} if spy else {}
    return {**extra, "offered_per_s": rate, "carried_per_s": run.achieved_per_s, "failed": run.failed,
            "refused": run.refused, "errors": run.errors,
            "stale_p50_ms": quantile(s, 0.5), "stale_p99_ms": quantile(s, 0.99), "stale_max_ms": s[-1] if s else None,
            "rows_seen": len(s), "cpu_cores": cpu, "load_generator_cpu_cores": run.loadgen_cpu_share}


def _system_body(teams: list[tuple[str, str, str]]) -> Any:
    import json

    from ..loadgen import auth

    cycle = itertools.cycle(teams)

    def body_for(due: float) -> tuple[str, bytes, str]:
        team, code, token = next(cycle)
        place = PROVINCES[code]
        body = {"position": {"lat": round(place.lat + (due % 10) / 100, 5), "lon": place.lon},
                "speed_kmh": 35.0, "heading": 90.0, "reported_at": stamp(due)}
        return f"/api/v1/teams/{team}/position", json.dumps(body).encode(), auth(token)

    return body_for


def _floor_body(teams: list[tuple[str, str, str]]) -> Any:
    import json

    cycle = itertools.cycle(teams)

    def body_for(due: float) -> tuple[str, bytes, str]:
        team, code, _ = next(cycle)
        place = PROVINCES[code]
        body = {"team_id": team, "province": code,
                "position": {"lat": round(place.lat + (due % 10) / 100, 5), "lon": place.lon},
                "reported_at": stamp(due)}
        return "/api/v1/position", json.dumps(body).encode(), ""

    return body_for


async def measure(ctx: Context, system: System, scenario: str, key: str) -> None:
    sizes = ctx.sizes
    t0 = time.perf_counter()
    windows = {per_team: await register_teams(system, sizes.telemetry_teams, start=k * sizes.telemetry_teams)
               for k, per_team in enumerate((1, 10))}
    registered_s = time.perf_counter() - t0
    warmers = await register_teams(system, min(50, sizes.telemetry_teams), start=2 * sizes.telemetry_teams)
    await asyncio.sleep(0.5)
    floor = await ctx.floor()
    out: dict[str, Any] = {"teams": sizes.telemetry_teams, "register_s": registered_s}
    for per_team, teams in windows.items():
        rate = per_team * len(teams)
        profile = (ctx.profile_dir, f"{system.mode}-telemetry-{per_team}") if ctx.profile_dir else None
        mine = await reports(system.api_port, system.bridge_port, system.national_token(), system.pids(),
                             _system_body(teams), rate, sizes.telemetry_s, sizes.warmup_s, profile,
                             warm_body=_system_body(warmers))
        system.check()
        bare = await reports(floor.api_port, floor.bridge_port, "bench", floor.pids(), _floor_body(teams), rate,
                             sizes.telemetry_s, sizes.warmup_s, warm_body=_floor_body(warmers))
        out[f"{per_team}_per_s"] = {"system": mine, "floor": bare}
        label = f"{len(teams):,} teams x {per_team}/s"
        ten = per_team == 10
        ctx.add(scenario, f"{label}: map staleness p99", mine["stale_p99_ms"], "ms", bare["stale_p99_ms"],
                "bare map on the floor stack, p99",
                target=f"<= {STALE_TARGET_MS:g} ms" if ten else "",
                met=(mine["stale_p99_ms"] is not None and mine["stale_p99_ms"] <= STALE_TARGET_MS) if ten else None)
        ctx.add(scenario, f"{label}: reports carried", mine["carried_per_s"], "/s", bare["carried_per_s"],
                f"bare map on the floor stack (offered {rate:,.0f}/s)")
        ctx.add(scenario, f"{label}: CPU of the system", sum(mine["cpu_cores"].values()), "cores",
                sum(bare["cpu_cores"].values()), "bare map on the floor stack")
    ctx.detail(key, out)


async def run_embedded(ctx: Context) -> None:
    async with ctx.embedded("telemetry-embedded") as system:
        await measure(ctx, system, EMBEDDED, "telemetry_embedded")


async def run_cluster(ctx: Context) -> None:
    async with ctx.cluster() as system:
        await measure(ctx, system, CLUSTER, "telemetry_cluster")
