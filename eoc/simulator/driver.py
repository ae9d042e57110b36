"""``simulate``: run simulated provinces against a running system until told to stop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from eoc.simulator.client import CommandClient, Desks
from eoc.simulator.clock import SimClock
from eoc.simulator.profiles import expand, profile_for, scaled
from eoc.simulator.province import ProvinceSim
from eoc.simulator.scenarios import Scenario
from eoc.simulator.stats import SimStats
from eoc.simulator.tasks import TaskSet

log = logging.getLogger("eoc.simulator")


async def simulate(
    base_url: str,
    signin: Any,
    *,
    provinces: tuple[str, ...],
    speed: float,
    seed: int,
    stop: asyncio.Event | None = None,
    max_commands: int | None = None,
    start: datetime | None = None,
    clock: SimClock | None = None,
    scenarios: tuple[Scenario, ...] = (),
    transport: Any = None,
    volume: Mapping[str, float] | None = None,
) -> SimStats:
    """Drive the system at ``base_url`` through its HTTP commands with simulated provinces.

    ``signin`` is the system's ``SignIn`` (``system.signin``): each desk the simulator plays
    is a user registered in the system's directory at the start of the run, acting with the
    tokens of a real session (client.Desks), so every event names a user of the directory.

    ``speed`` is simulated seconds per real second: durations (travel, time on the scene,
    stays, holding periods) are divided by it, and every command says when it happened on
    the simulated clock (``occurred_at``). ``provinces`` are codes, or ``("all",)`` for the
    31. Runs until ``stop`` is set or ``max_commands`` commands have been sent (position
    reports included); then returns what it did. ``start`` sets the simulated clock's start
    (default: now), whose local hour decides which shifts are on and how busy the lines are;
    ``clock`` is a clock shared with the system (the demo), which then sets both.
    ``volume`` scales a province's calls, cases and admissions (its ratios stay the
    reports'), e.g. ``{"KSH": 0.1}`` for a short test. ``scenarios`` (drill, surge, outage)
    play on top of the ordinary day. ``transport``
    reaches an in-process system instead of ``base_url`` (httpx.ASGITransport, for tests).
    Refusals and server errors never end the run: they are counted in the returned stats.
    """
    provinces = expand(provinces)
    if not provinces:
        raise ValueError("simulate at least one province")
    profiles = [scaled(profile_for(code), (volume or {}).get(code, 1.0)) for code in provinces]
    scenarios = tuple(s if s.province else _on(s, provinces[0]) for s in scenarios)
    for s in scenarios:
        if s.province not in provinces:
            raise ValueError(f"scenario {s.kind} is for {s.province}, which is not simulated")
    stop = stop or asyncio.Event()
    stats = SimStats(speed=speed)
    if clock is None:
        clock = SimClock(speed, start)
    tasks = TaskSet(stats)
    client = CommandClient(base_url, signin if isinstance(signin, Desks) else Desks(signin), stats, stop, max_commands=max_commands, clock=clock,
                           transport=transport)
    t0 = time.monotonic()
    try:
        # The clock stands still while the provinces register (a nation takes a while): the
        # simulated day begins when every province is ready.
        clock.pause()
        sims = [ProvinceSim(profile, client, clock, tasks, stats, seed, scenarios) for profile in profiles]
        for sim in sims:
            tasks.spawn(sim.run(), f"{sim.code}:setup")
        tasks.spawn(_resume_when_ready(clock, sims), "clock")
        log.info("simulating %s at %gx", ", ".join(provinces), speed)
        await stop.wait()
    finally:
        stop.set()
        await tasks.cancel_all()
        await client.close()
        stats.real_seconds = time.monotonic() - t0
        stats.simulated_seconds = clock.elapsed()
    return stats


def _on(s: Scenario, province: str) -> Scenario:
    return replace(s, province=province)


async def _resume_when_ready(clock: SimClock, sims: list[ProvinceSim]) -> None:
    try:
        await asyncio.gather(*(sim.ready.wait() for sim in sims))
    finally:
        clock.resume()
