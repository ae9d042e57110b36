"""A system on the simulator's clock, and a simulator run against it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from eoc.app.config import Settings
from eoc.cli.demo import newest_fact
from eoc.main.bootstrap import System, build
from eoc.simulator import SimClock, SimStats, simulate

SECRET = b"test-key-3f9a1c7e5b2d8046aa17c93e51"
# 08:30 in Qazvin: the morning shift is on, the day's calls are picking up.
MORNING = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


# A province's desks send days of work in seconds here: the abuse limits, made for people, are
# this many times wider (still on).
RATE_LIMIT_SCALE = 50


def steady(clock: SimClock) -> SimClock:
    """A steadier pace: the simulation slows down only for an answer that took a simulated hour
    (0.12 s at 30,000×: a stall, not a busy machine's usual answer) and speeds up again after
    answers under ten simulated minutes, so a run's few hundred commands cover their simulated
    days in seconds, not a minute. Never not at all: a stall of seconds would be a day late
    (late_entry_too_old, seen on a loaded machine)."""
    clock.MAX_LAG_S, clock.MIN_LAG_S = 3600.0, 600.0
    return clock


# ------------------------------------------------------------------ a system on the simulated clock


def make_system(path: Path) -> System:
    """A system on a simulated clock of its own (``run`` starts it at MORNING)."""
    return build(Settings.from_env({}, store="sqlite", data_dir=path, token_secret=SECRET,
                                   rate_limit_scale=RATE_LIMIT_SCALE),
                 clock=SimClock(30_000, MORNING), checkpoint=False)


def sim_clock(system: System, speed: float = 30_000) -> SimClock:
    """The system's clock, started again at MORNING (or after the facts already stored)."""
    clock = system.service.clock
    assert isinstance(clock, SimClock)
    clock.speed = speed
    steady(clock).restart(max(MORNING, newest_fact(system)))
    return clock


def run(system: System, url: str, provinces: tuple[str, ...], max_commands: int, *, speed: float = 30_000,
        seed: int = 1403) -> SimStats:
    stats = asyncio.run(simulate(url, system.signin, provinces=provinces, speed=speed, seed=seed,
                                 max_commands=max_commands, clock=sim_clock(system, speed)))
    assert system.follower.wait_for(system.app.recorder.max_notification_id() or 0, timeout=30)
    return stats
