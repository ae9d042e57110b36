"""Scale-out, cluster: the sustained mix against one API process and one Faust worker, then
against two of each on the same topics and partitions (one consumer group; the load generator
spreads its connections over both APIs), in the same run.

For each: flat out for a few seconds (what it answers at most), then the mix at a few fixed
steady rates stepping up (``Sizes.scaleout_rates``, each for ``scaleout_hold_s``) until one is
not held (``Window.held``: answered below the offered rate, a failure, or a board lag that
grew); the highest held is reported, with the boards' lag there. Rates above what the probe
answered are not tried. The figures are two of each against one of each, so the ratio is what
the second API and worker bring; the machine's cores are named in every row: on two cores the
second pair of processes competes with the first, the relay, the bridge, Kafka, PostgreSQL and
the load generator.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from .. import systems
from ..loadgen import Connection, Pool
from ..session import Session, Window
from ..suite import Context

TITLE = "Scale-out, cluster"
ONE, TWO = "1 API + 1 worker", "2 APIs + 2 workers"


class Spread(Pool):
    """A pool whose connections go to several servers in turn (the APIs of one cluster)."""

    def __init__(self, host: str, ports: tuple[int, ...], size: int) -> None:
        super().__init__(host, ports[0], size)
        self.ports = ports

    async def open(self) -> Spread:
        for i in range(self.size):
            conn = await Connection(self.host, self.ports[i % len(self.ports)]).open()
            self._all.append(conn)
            self._free.put_nowait(conn)
        return self


class SpreadSession(Session):
    """The sustained mix's session with its connections spread over every API of the system."""

    async def __aenter__(self) -> SpreadSession:
        await super().__aenter__()  # the mix's teams and centres set up through the first API
        assert self.pool is not None
        self.pool.close()
        self.pool = await Spread("127.0.0.1", self.system.all_api_ports(), self.connections).open()
        return self


async def measure(ctx: Context, system: systems.System) -> dict[str, Any]:
    """Flat out, then the fixed rates stepping up until one is not held."""
    sizes = ctx.sizes
    found: dict[str, Any] = {"processes": sorted(system.procs), "api_ports": list(system.all_api_ports()),
                             "ready_s": system.info.get("ready_s"), "attempts": [],
                             "started": datetime.now(UTC).isoformat(timespec="seconds")}  # to read the logs by
    async with SpreadSession(system, telemetry=True, connections=sizes.connections) as session:
        await session.window(100, sizes.warmup_s)
        probe = await session.saturate(sizes.probe_s)
        found["probe"] = probe.summary()
        for rate in sizes.scaleout_rates:
            if found["attempts"] and rate > 1.1 * probe.achieved_per_s:
                break  # the first rate is always tried: a figure even when the probe was poor
            window = await session.window(rate, sizes.scaleout_hold_s, settle_s=min(5.0, sizes.scaleout_hold_s))
            held, why = window.held(rate)
            found["attempts"].append({"rate": rate, "held": held, "why": why, **window.summary()})
            if not held:
                found["not_held"] = (rate, why, window)
                break
            found["held"] = (rate, window)
        found["mix_sent"] = dict(session.mix.sent)
        found["mix_refused"] = dict(session.mix.refused)
    found["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return found


def _at(found: dict[str, Any]) -> tuple[float, Window, bool]:
    """The highest rate held and its window; none held: the first rate tried (not held)."""
    if "held" in found:
        rate, window = found["held"]
        return rate, window, True
    rate, _, window = found["not_held"]
    return rate, window, False


def _why(found: dict[str, Any]) -> str:
    if "not_held" not in found:
        return "every rate tried held" if found["attempts"] else "no rate tried"
    rate, why, _ = found["not_held"]
    return f"{rate:,.0f}/s not held: {why}"


def _plain(found: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in found.items() if k not in ("held", "not_held")}
    out["held_rate"] = found["held"][0] if "held" in found else None
    return out


async def run(ctx: Context) -> None:
    found: dict[str, dict[str, Any]] = {}
    for label, n in ((ONE, 1), (TWO, 2)):
        async with systems.cluster(ctx.workdir, ctx.services(), apis=n, workers=n) as system:
            found[label] = await measure(ctx, system)
    cores = f"{os.cpu_count()} cores on this machine"
    ctx.detail("scaleout_cluster", {"cores": os.cpu_count(), **{k: _plain(v) for k, v in found.items()}})
    one, two = found[ONE], found[TWO]
    ctx.add(TITLE, f"flat out, answered: {TWO}", two["probe"]["achieved_per_s"], "/s",
            one["probe"]["achieved_per_s"], f"{ONE}, same run", note=cores)
    (rate2, window2, held2), (rate1, window1, held1) = _at(two), _at(one)
    name = f"highest steady rate held (mix, flat lag): {TWO}"
    if not (held1 and held2):  # a rate not held is never reported as held
        name = f"steady rate: {TWO}{'' if held2 else ', NOT held'}"
    ctx.add(TITLE, name, rate2, "/s", rate1, f"{ONE}, same run{'' if held1 else ', NOT held'}",
            note=f"{cores}; {TWO}: {_why(two)}; {ONE}: {_why(one)}")
    q2, q1 = window2.quantiles(), window1.quantiles()
    lag2, lag1 = window2.lag_growth(), window1.lag_growth()
    ctx.add(TITLE, f"board lag at that rate, command to board p99: {TWO}", q2["p99_ms"], "ms", q1["p99_ms"],
            f"{ONE}, at its own rate", note=f"{cores}; commands waiting, last third of the window: "
            f"{lag2['last_third']:.1f} ({rate2:,.0f}/s) vs {lag1['last_third']:.1f} ({rate1:,.0f}/s)")
    ctx.add(TITLE, f"system's CPU at that rate: {TWO}", _system_cpu(window2), "cores", _system_cpu(window1),
            f"{ONE}, at its own rate", note=cores)


def _system_cpu(window: Window) -> float:
    return sum(v for name, v in window.cpu.items() if name != "load generator")
