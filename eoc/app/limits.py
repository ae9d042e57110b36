"""Abuse limits: token buckets per user and per network address.

A bucket holds ``burst`` requests and refills at ``per_s``; a request that finds it empty is
refused with 429 (``TooManyRequests``) and the seconds until one more is allowed. Kept in
memory per process: a flood is stopped where it lands (the reverse proxy spreads nothing
between processes that a single attacker could use to multiply its budget by much).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from eoc.domain.errors import TooManyRequests


@dataclass(frozen=True)
class Rate:
    burst: float
    per_s: float


# Sign-in: a person mistypes a few times; a guesser is stopped after a handful.
SIGN_IN_PER_ADDRESS = Rate(burst=10, per_s=10 / 60)
SIGN_IN_PER_USER = Rate(burst=5, per_s=5 / 60)
# Commands: a busy dispatcher or the simulator's province gives a few a second; a script more.
COMMANDS_PER_USER = Rate(burst=200, per_s=50)
COMMANDS_PER_ADDRESS = Rate(burst=2000, per_s=500)
# Unauthenticated requests (no or bad token) per address.
UNAUTHENTICATED_PER_ADDRESS = Rate(burst=20, per_s=2)


class Limiter:
    """Buckets by key for one rate; the least recently used keys are forgotten past ``max_keys``."""

    def __init__(self, rate: Rate, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, what: str) -> None:
        """Spend one request for ``key`` or raise TooManyRequests."""
        if self.rate.burst <= 0:  # limits turned off (EOC_RATE_LIMIT_SCALE=0: benchmarks only)
            return
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.rate.burst, now))
            tokens = min(self.rate.burst, tokens + (now - at) * self.rate.per_s)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                wait = (1 - tokens) / self.rate.per_s
                raise TooManyRequests(f"too many {what}; try again in {wait:.0f} s", retry_after=round(wait, 1))
            self._buckets[key] = (tokens - 1, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)


@dataclass
class Limits:
    """The limits of one API process."""

    sign_in_address: Limiter
    sign_in_user: Limiter
    commands_user: Limiter
    commands_address: Limiter
    unauthenticated: Limiter

    @classmethod
    def default(cls, scale: float = 1.0) -> Limits:
        def lim(rate: Rate) -> Limiter:
            return Limiter(Rate(rate.burst * scale, rate.per_s * scale))

        return cls(lim(SIGN_IN_PER_ADDRESS), lim(SIGN_IN_PER_USER), lim(COMMANDS_PER_USER),
                   lim(COMMANDS_PER_ADDRESS), lim(UNAUTHENTICATED_PER_ADDRESS))
