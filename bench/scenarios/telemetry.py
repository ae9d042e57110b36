"""Telemetry: 1,000 teams reporting their position every second, then ten times a second —
how stale the map board is on a dashboard (p99) and what it costs in CPU.

The reports come in batches, as a province's gateway (or a tablet connection) sends them: one
``POST /api/v1/teams/positions`` per gateway per ``GATEWAY_HOLD_S`` (half a second), carrying
the reports its teams took since its last request (a gateway per province: a token is one province's, and a
report for another province's team is refused). The gateways' requests are staggered evenly
over the hold. Each report is stamped with the moment it was taken (``reported_at``), so the
gateway's hold is part of the staleness, as on a real map, and so is any lateness of a load
generator that did not keep up. A report's staleness is its *time to the map*
(``bench.watch.time_to_map``): from ``reported_at`` to the moment the dashboard reads the first
frame showing the team at that position or a newer one (same clock: the load generator stamps
and reads). Every report sent in the window counts, the ones the system thins away included:
they count until a newer position of the team is shown (the product shows each gateway batch's
newest report of a team and keeps one per 30 s, eoc/app/track.py), and one never caught up with
counts to the end of the watch. It includes the bridge's 50 ms tick. The JSON says how many
reports went in a request.

Baseline, same rates, same gateways, same batches, same load generator: the floor server
(``bench.floor``) — a minimal validated POST of the batch on the same HTTP stack putting each
report into a bare map broadcast on the same 50 ms tick, with no token, no team lookup, no
follower and no visibility filter.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from events.places import PROVINCES

from ..hops import PositionHops
from ..loadgen import Pool, paced, quantile
from ..mix import stamp
from ..procs import CpuMeter
from ..profile import Sampler
from ..suite import Context
from ..systems import System
from ..watch import BoardWatcher, time_to_map

EMBEDDED = "Telemetry, embedded"
CLUSTER = "Telemetry, cluster"
STALE_TARGET_MS = 1000.0
CARRIED_SHARE = 0.99  # "all carried": at least 99% of the offered reports a second (the windows' edges)
CORES_TARGET = 1.0  # issue 17: at most one core for 10,000 reports a second
CONNECTIONS = 64
# A gateway sends what it gathered twice a second: a report waits at most half a second at the
# gateway (with a 1 s hold the hold alone would use up the 1 s staleness target).
GATEWAY_HOLD_S = 0.5
WATCH_AFTER_S = 1.5  # the watch after the window: a report sent at its end has this long to reach the map


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


class Gateways:
    """Each province's gateway: the reports its teams took in the last ``hold_s``, in one request.

    Team ``j`` of ``n`` takes its reports at ``(j / n + m) / per_team`` seconds (m = 0, 1, …), so
    all teams together report evenly at ``n × per_team`` a second. The requests go out
    round-robin over the gateways, ``len(gateways) / hold_s`` a second: each gateway once per
    ``hold_s``, staggered; a request due at ``due`` carries its teams' reports of
    ``[due − hold_s, due)``, each stamped with its own moment."""

    def __init__(self, teams: list[tuple[str, str, str]], per_team: float, hold_s: float, floor: bool) -> None:
        self.per_team, self.hold_s, self.floor = per_team, hold_s, floor
        by_province: dict[str, list[tuple[int, str, str]]] = {}
        tokens: dict[str, str] = {}
        for j, (team, code, token) in enumerate(teams):
            by_province.setdefault(code, []).append((j, team, code))
            tokens[code] = token
        self.n = len(teams)
        self.gateways = [(members, tokens[code]) for code, members in by_province.items()]
        self._next = itertools.cycle(range(len(self.gateways)))
        self.reports_sent = 0
        self.reports_carried = 0  # in answered (2xx) requests
        self.reports_refused = 0  # refused one by one inside an answered batch
        self.sent: dict[str, list[float]] | None = None  # team -> its reports' moments, while recording

    @property
    def requests_per_s(self) -> float:
        return len(self.gateways) / self.hold_s

    @property
    def reports_per_request(self) -> float:
        return self.n * self.per_team * self.hold_s / len(self.gateways)

    def batch(self, due: float) -> tuple[str, bytes, str, int]:
        """The next gateway's request due at ``due`` (wall clock): path, body, headers, reports."""
        import json

        from ..loadgen import auth

        members, token = self.gateways[next(self._next)]
        start, reports = due - self.hold_s, []
        for j, team, code in members:
            phase = j / self.n
            m = math.ceil(start * self.per_team - phase)  # the team's first report at or after start
            while (at := (phase + m) / self.per_team) < due:
                if at >= start:
                    reports.append((at, team, code))
                m += 1
        reports.sort()
        items = [self._item(at, team, code) for at, team, code in reports]
        if self.sent is not None:
            for at, team, _ in reports:
                self.sent.setdefault(team, []).append(at)
        self.reports_sent += len(items)
        if self.floor:
            return "/api/v1/positions", json.dumps({"reports": items}).encode(), "", len(items)
        return "/api/v1/teams/positions", json.dumps({"reports": items}).encode(), auth(token), len(items)

    def _item(self, at: float, team: str, code: str) -> dict[str, Any]:
        place = PROVINCES[code]
        position = {"lat": round(place.lat + (at % 10) / 100, 5), "lon": place.lon}
        if self.floor:
            return {"team_id": team, "province": code, "position": position, "reported_at": stamp(at)}
        return {"team_id": team, "position": position, "speed_kmh": 35.0, "heading": 90.0, "reported_at": stamp(at)}

    def counted(self, status: int, answer: bytes, reports: int) -> None:
        if status < 300:
            self.reports_carried += reports
            if not self.floor:
                import json

                self.reports_refused += int(json.loads(answer).get("refused", 0))


async def reports(port: int, bridge_port: int, watch_token: str, pids: dict[str, int],
                  gateways: Gateways, seconds: float, warmup_s: float,
                  profile: tuple[Path, str] | None = None, warm: Gateways | None = None,
                  hops: PositionHops | None = None) -> dict[str, Any]:
    """The gateways' batches for ``seconds``; each report's time to the map, and the CPU.

    The warm-up runs on teams of its own (``warm``), so the window's teams have reported nothing
    before it: each one's first report of the window is kept in the track (one per 30 s), the
    rest are shown or thinned away (eoc/app/track.py) — every one is timed to the map. The watch
    goes on for ``WATCH_AFTER_S`` after the window, for the last requests' reports."""
    watcher = await BoardWatcher().connect(bridge_port, watch_token)
    pool = await Pool("127.0.0.1", port, CONNECTIONS).open()
    try:
        def sender(batches: Gateways) -> Any:
            async def send(due: float) -> int:
                path, body, headers, count = batches.batch(due)
                status, answer = await pool.request("POST", path, body, headers)
                batches.counted(status, answer, count)
                return status
            return send

        warming = warm or gateways
        await paced(sender(warming), warming.requests_per_s, warmup_s, max_in_flight=4 * CONNECTIONS)
        await asyncio.sleep(0.3)  # the warm-up's last reports reach the map before the window
        shown: dict[str, list[tuple[float, float]]] = {}
        watcher.shown = shown
        sent: dict[str, list[float]] = {}
        gateways.sent = sent
        if hops is not None:
            hops.recording = True
        spy = Sampler(pids, seconds, *profile) if profile else None
        meter = CpuMeter(pids).start()
        run = await paced(sender(gateways), gateways.requests_per_s, seconds, max_in_flight=4 * CONNECTIONS)
        cpu = meter.stop()
        gateways.sent = None
        await asyncio.sleep(WATCH_AFTER_S)  # the last requests' reports, and the last tick
        watcher.shown = None
        stale, never = time_to_map(sent, shown, time.time())
        if hops is not None:
            hops.recording = False
    finally:
        pool.close()
        watcher.close()
    s = sorted(stale)
    lat = sorted(run.latencies_ms)
    extra = {"profile": await asyncio.to_thread(spy.summary)} if spy else {}
    if hops is not None:
        extra["hops"] = {**hops.report(), "reported_to_dashboard_frame": {
            "p50_ms": quantile(s, 0.5), "p99_ms": quantile(s, 0.99), "n": len(s)}}
    return {**extra, "offered_per_s": gateways.n * gateways.per_team,
            "carried_per_s": gateways.reports_carried / run.window_s if run.window_s else 0.0,
            "reports_sent": gateways.reports_sent, "reports_refused_in_batches": gateways.reports_refused,
            "gateways": len(gateways.gateways), "gateway_hold_s": gateways.hold_s,
            "reports_per_request": gateways.reports_per_request, "requests_per_s": gateways.requests_per_s,
            "requests_answered_per_s": run.achieved_per_s, "failed": run.failed,
            "refused": run.refused, "errors": run.errors, "statuses": {str(k): v for k, v in sorted(run.statuses.items())},
            "answer_p50_ms": quantile(lat, 0.5), "answer_p99_ms": quantile(lat, 0.99),
            "stale_p50_ms": quantile(s, 0.5), "stale_p99_ms": quantile(s, 0.99), "stale_max_ms": s[-1] if s else None,
            "reports_timed": len(s), "reports_never_on_map": never,
            "position_frames_seen": sum(len(v) for v in shown.values()), "cpu_cores": cpu, "load_generator_cpu_cores": run.loadgen_cpu_share}


async def measure(ctx: Context, system: System, scenario: str, key: str,
                  hops: Callable[[], PositionHops] | None = None) -> None:
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
        warm_per_team = rate / len(warmers)  # the warm-up offers the window's rate on its own teams
        profile = (ctx.profile_dir, f"{system.mode}-telemetry-{per_team}") if ctx.profile_dir else None
        hop = await hops().start() if hops is not None else None
        try:
            mine = await reports(system.api_port, system.bridge_port, system.national_token(), system.pids(),
                                 Gateways(teams, per_team, GATEWAY_HOLD_S, floor=False), sizes.telemetry_s,
                                 sizes.warmup_s, profile, warm=Gateways(warmers, warm_per_team, GATEWAY_HOLD_S, floor=False),
                                 hops=hop)
        finally:
            if hop is not None:
                await hop.stop()
        system.check()
        bare = await reports(floor.api_port, floor.bridge_port, "bench", floor.pids(),
                             Gateways(teams, per_team, GATEWAY_HOLD_S, floor=True), sizes.telemetry_s, sizes.warmup_s,
                             warm=Gateways(warmers, warm_per_team, GATEWAY_HOLD_S, floor=True))
        out[f"{per_team}_per_s"] = {"system": mine, "floor": bare}
        label = f"{len(teams):,} teams x {per_team}/s"
        batches = (f"{mine['reports_per_request']:,.0f} reports a request: {mine['gateways']} province gateways, "
                   f"each once per {GATEWAY_HOLD_S:g} s")
        ten = per_team == 10
        ctx.add(scenario, f"{label}: map staleness p99", mine["stale_p99_ms"], "ms", bare["stale_p99_ms"],
                "bare map on the floor stack, p99",
                target=f"<= {STALE_TARGET_MS:g} ms" if ten else "",
                met=(mine["stale_p99_ms"] is not None and mine["stale_p99_ms"] <= STALE_TARGET_MS) if ten else None,
                note=batches)
        carried, cores = mine["carried_per_s"], sum(mine["cpu_cores"].values())
        ctx.add(scenario, f"{label}: reports carried", carried, "/s", bare["carried_per_s"],
                f"bare map on the floor stack, same batches (offered {rate:,.0f}/s)", note=batches,
                target=f"all {rate:,.0f}/s" if ten else "",
                met=(carried is not None and carried >= CARRIED_SHARE * rate) if ten else None)
        ctx.add(scenario, f"{label}: CPU of the system", cores, "cores",
                sum(bare["cpu_cores"].values()), "bare map on the floor stack",
                target=f"<= {CORES_TARGET:g} core" if ten else "", met=(cores <= CORES_TARGET) if ten else None)
    ctx.detail(key, out)


async def run_embedded(ctx: Context) -> None:
    async with ctx.embedded("telemetry-embedded") as system:
        await measure(ctx, system, EMBEDDED, "telemetry_embedded")


async def run_cluster(ctx: Context) -> None:
    async with ctx.cluster() as system:
        from eoc.main.cluster import ClusterSettings

        layout = ClusterSettings.from_env({"EOC_TOPIC_PREFIX": system.info["topic_prefix"]}).layout
        bootstrap = ctx.services()["EOC_KAFKA_BOOTSTRAP"]
        # Where a report's time goes: reported -> eoc.telemetry.positions (API) -> eoc.boards (worker) -> frame.
        await measure(ctx, system, CLUSTER, "telemetry_cluster",
                      hops=lambda: PositionHops(bootstrap, layout.telemetry, layout.boards))
