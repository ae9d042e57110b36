"""Simulated time: real time run faster by ``speed``, read as Iran's local hour.

The simulator stamps every command with this clock (``occurred_at``), so a sped-up day's
calls spread over its simulated hours and its durations (call to dispatch, dispatch to
scene, time in status, holding periods) are simulated ones. In the demo the embedded system
runs on the same clock (its ``recorded_at``, the ages on the boards and the dashboard's
clock), so a fact is late only when it was really entered late (``--scenario outage``).

The simulated clock never runs ahead of the real one: the API refuses a moment in the
future (beyond a few minutes of skew between devices), and auditors must never find facts
dated after they were stored. So a simulation starts in the past (``eoc demo``: the day
before yesterday at the start hour) and runs ``speed`` times faster until it has caught up
with the real clock; from then on it runs at the real pace, live (``SimClock.live``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from events.vocabulary import ShiftKind
from projections.clock import IRST

# Shift hours (local): morning 07–14, evening 14–21, night 21–07 (Qazvin's pattern).
SHIFT_STARTS = ((7, ShiftKind.MORNING), (14, ShiftKind.EVENING), (21, ShiftKind.NIGHT))

# Relative call volume by local hour (mean 1): quiet before dawn, busiest in the evening when
# family disputes flare up.
CALL_RHYTHM: tuple[float, ...] = (0.5, 0.35, 0.25, 0.2, 0.2, 0.25, 0.4, 0.6, 0.85, 1.05, 1.2, 1.25,
               1.2, 1.15, 1.2, 1.25, 1.3, 1.4, 1.5, 1.6, 1.6, 1.5, 1.2, 0.85)
# Referrals from the police, courts and other organizations follow office hours more closely.
REFERRAL_RHYTHM: tuple[float, ...] = (0.4, 0.3, 0.25, 0.2, 0.2, 0.2, 0.3, 0.6, 1.2, 1.5, 1.6, 1.6,
                   1.5, 1.4, 1.4, 1.4, 1.3, 1.2, 1.1, 1.1, 1.0, 0.9, 0.7, 0.5)


def _normalised(rhythm: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(rhythm) / len(rhythm)
    return tuple(r / mean for r in rhythm)


CALL_RHYTHM = _normalised(CALL_RHYTHM)
REFERRAL_RHYTHM = _normalised(REFERRAL_RHYTHM)


class SimClock:
    """Simulated time from the real monotonic clock, ``speed`` simulated seconds a real second.

    Never ahead of the real clock: once caught up it runs live, at the real pace. When the
    system answers slowly (a loaded machine, a nation on two cores), ``observe`` slows the
    simulation down, so that a command's own trip never takes many simulated minutes (its
    fact would look late and the day's rhythm would break); it speeds up again, up to
    ``speed``, when answers are quick.
    """

    MAX_LAG_S = 120.0  # simulated seconds one command may take before the clock slows down
    MIN_LAG_S = 10.0  # below this the clock goes back up towards ``speed``

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive (simulated seconds per real second)")
        self.speed = speed  # the wanted speed
        self.restart(start)

    def restart(self, start: datetime | None = None) -> None:
        """Start (again) from ``start`` (default: the real now), counting from this moment."""
        real_now = datetime.now(UTC)
        self.start = min((start or real_now).astimezone(UTC), real_now)
        self._current = self.speed
        self._anchor_real = time.monotonic()
        self._anchor_sim = 0.0
        self._paused_at: float | None = None
        self._resumed: asyncio.Event | None = None

    def _mono(self) -> float:
        return self._paused_at if self._paused_at is not None else time.monotonic()

    def _raw(self) -> float:
        return self._anchor_sim + (self._mono() - self._anchor_real) * self._current

    def _set_speed(self, speed: float) -> None:
        self._anchor_sim, self._anchor_real = self._raw(), self._mono()
        self._current = speed

    def pause(self) -> None:
        """Stop the simulated clock (while the provinces register their places and teams)."""
        if self._paused_at is None:
            self._paused_at = time.monotonic()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._anchor_real += time.monotonic() - self._paused_at
            self._paused_at = None
        if self._resumed is not None:
            self._resumed.set()

    def observe(self, real_latency_s: float) -> None:
        """A command took ``real_latency_s`` real seconds: keep that short in simulated time."""
        lag = real_latency_s * self._current
        if lag > self.MAX_LAG_S and self._current > 1:
            self._set_speed(max(1.0, self._current * 0.8))
        elif lag < self.MIN_LAG_S and self._current < self.speed:
            self._set_speed(min(self.speed, self._current * 1.05))

    @property
    def live(self) -> bool:
        """Caught up with the real clock: from now on simulated time is real time."""
        return self.start + timedelta(seconds=self._raw()) >= datetime.now(UTC)

    @property
    def rate(self) -> float:
        """Simulated seconds per real second, now (1 once live)."""
        return 1.0 if self.live else self._current

    def elapsed(self) -> float:
        """Simulated seconds since the start."""
        return min(self._raw(), (datetime.now(UTC) - self.start).total_seconds())

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed())

    def __call__(self) -> datetime:
        """The clock as a service or a bridge takes it: a callable giving the moment."""
        return self.now()

    def real(self, sim_seconds: float) -> float:
        """Real seconds that ``sim_seconds`` take from now (at the present rate)."""
        return max(0.0, sim_seconds) / self.rate

    async def sleep(self, sim_seconds: float) -> None:
        """Let ``sim_seconds`` of simulated time pass (none passes while the clock is paused)."""
        while self._paused_at is not None:
            if self._resumed is None or self._resumed.is_set():
                self._resumed = asyncio.Event()
            await self._resumed.wait()
        await asyncio.sleep(self.real(sim_seconds))

    def until(self, moment: datetime) -> float:
        """Simulated seconds from now to ``moment`` (0 if it has passed)."""
        return max(0.0, (moment - self.now()).total_seconds())

    async def sleep_until(self, moment: datetime) -> None:
        """Until the simulated clock reads ``moment``: a sleep is taken at the present rate and
        the rate may change meanwhile (a loaded machine), so one sleep can end early."""
        while (left := self.until(moment)) > 0:
            await self.sleep(left)


def shift_at(moment: datetime) -> ShiftKind:
    hour = moment.astimezone(IRST).hour
    current = SHIFT_STARTS[-1][1]
    for start, kind in SHIFT_STARTS:
        if hour >= start:
            current = kind
    return current


def next_shift_change(moment: datetime) -> datetime:
    """The next shift boundary (07:00, 14:00 or 21:00 local) after ``moment``."""
    local = moment.astimezone(IRST)
    for day in (0, 1):
        base = (local + timedelta(days=day)).replace(minute=0, second=0, microsecond=0)
        for start, _ in SHIFT_STARTS:
            candidate = base.replace(hour=start)
            if candidate > local:
                return candidate.astimezone(UTC)
    raise AssertionError("unreachable")


def rhythm_at(rhythm: tuple[float, ...], moment: datetime) -> float:
    return rhythm[moment.astimezone(IRST).hour]


async def arrivals(clock: SimClock, rng: random.Random, per_day: float,
                   rhythm: tuple[float, ...]) -> AsyncIterator[int]:
    """Arrival numbers 1, 2, 3... of a Poisson process of ``per_day`` a simulated day on
    average, shaped by the hour of the day (thinning: draw at the peak rate, keep in
    proportion to the hour's share)."""
    if per_day <= 0:
        return
    peak = max(rhythm)
    rate = per_day / 86400 * peak
    n = 0
    while True:
        await clock.sleep(rng.expovariate(rate))
        if rng.random() * peak <= rhythm_at(rhythm, clock.now()):
            n += 1
            yield n
