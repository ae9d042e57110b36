"""``simulate``: run simulated provinces against a running system until told to stop."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from ..auth import TokenSigner
from .client import CommandClient
from .clock import SimClock
from .profiles import profile_for
from .province import ProvinceSim
from .stats import SimStats
from .tasks import TaskSet

log = logging.getLogger("eoc.simulator")


async def simulate(
    base_url: str,
    signer: TokenSigner,
    *,
    provinces: tuple[str, ...],
    speed: float,
    seed: int,
    stop: asyncio.Event | None = None,
    max_commands: int | None = None,
    start: datetime | None = None,
) -> SimStats:
    """Drive the system at ``base_url`` through its HTTP commands with simulated provinces.

    ``speed`` is simulated seconds per real second: durations (travel, time on the scene,
    stays, holding periods) are divided by it, while the system stamps every event with the
    real time. Runs until ``stop`` is set or ``max_commands`` commands have been sent (position
    reports included); then returns what it did. ``start`` sets the simulated clock's start
    (default: now), whose local hour decides which shifts are on and how busy the lines are.
    Refusals and server errors never end the run: they are counted in the returned stats.
    """
    if not provinces:
        raise ValueError("simulate at least one province")
    profiles = [profile_for(code) for code in provinces]
    stop = stop or asyncio.Event()
    stats = SimStats(speed=speed)
    clock = SimClock(speed, start)
    tasks = TaskSet(stats)
    client = CommandClient(base_url, signer, stats, stop, max_commands=max_commands)
    t0 = time.monotonic()
    try:
        for profile in profiles:
            sim = ProvinceSim(profile, client, clock, tasks, stats, seed)
            tasks.spawn(sim.run(), f"{profile.code}:setup")
        log.info("simulating %s at %gx", ", ".join(provinces), speed)
        await stop.wait()
    finally:
        stop.set()
        await tasks.cancel_all()
        await client.close()
        stats.real_seconds = time.monotonic() - t0
        stats.simulated_seconds = clock.elapsed()
    return stats
