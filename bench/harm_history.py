"""Daily case histories as events, for the emerging-harm detector's tests and its scenario.

A history is a mapping ``(county, category) -> [cases per day]`` from a first local day; it
becomes the ``CallClassified`` envelopes a province's log would hold (with positions, in
order), so the detector is measured through the same fold the runners use.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta

import numpy as np

from events.envelope import Envelope, iso
from events.jalali import IRST

Series = Mapping[tuple[str, str], Sequence[int]]
_NS = uuid.UUID("6f1b8a52-3c1e-4d8e-9a57-0c7b2f1e9d44")


def _moment(day: date, second: int) -> str:
    return iso(datetime.combine(day, time(8, 0), IRST) + timedelta(seconds=second))


def case(province: str, county: str, category: str, moment: str, position: int, *,
         exercise: bool = False) -> Envelope:
    """A call received and classified in ``category`` at ``moment`` (UTC ISO)."""
    call = str(uuid.uuid5(_NS, f"{province}/{position}"))
    return Envelope(type="CallClassified", version=1, id=str(uuid.uuid5(_NS, f"e/{province}/{position}")),
                    aggregate_id=call, aggregate_version=2, occurred_at=moment, recorded_at=moment,
                    province=province, county=county, actor={"role": "call_taker", "user": "sim"},
                    exercise=exercise,
                    payload={"category": category, "priority": "normal", "risk_flags": [], "received_at": moment},
                    position=position)


def tick(province: str, county: str, moment: str, position: int) -> Envelope:
    """A call received and not (yet) classified: moves the province's clock, counts no case."""
    call = str(uuid.uuid5(_NS, f"{province}/{position}"))
    return Envelope(type="CallReceived", version=2, id=str(uuid.uuid5(_NS, f"e/{province}/{position}")),
                    aggregate_id=call, aggregate_version=1, occurred_at=moment, recorded_at=moment,
                    province=province, county=county, actor={"role": "call_taker", "user": "sim"},
                    exercise=False, payload={"line": "123", "caller": "S-sim", "received_at": moment},
                    position=position)


def envelopes(province: str, first_day: date, series: Series, *, start_position: int = 1,
              drills: Series | None = None) -> Iterator[Envelope]:
    """The events of the history, day by day, then one event of the day after (closing the last).

    ``drills`` are cases recorded during exercises (``exercise: true``), interleaved with the real ones.
    """
    days = max(len(v) for v in series.values())
    position = start_position
    any_county = next(iter(series))[0]
    for d in range(days):
        day = first_day + timedelta(days=d)
        second = 0
        for source, exercise in ((series, False), (drills or {}, True)):
            for (county, category), counts in sorted(source.items()):
                for _ in range(counts[d] if d < len(counts) else 0):
                    yield case(province, county, category, _moment(day, second), position, exercise=exercise)
                    position += 1
                    second += 7
        yield tick(province, any_county, _moment(day, 12 * 3600), position)
        position += 1
    yield tick(province, any_county, _moment(first_day + timedelta(days=days), 0), position)


def seasonal_rates(days: int, per_day: float, *, amplitude: float = 0.0, peak_day: int = 180,
                   first_day: date | None = None) -> np.ndarray:
    """Expected cases per day: ``per_day`` times an annual cycle peaking ``peak_day`` days into the year."""
    t = np.arange(days)
    return per_day * (1 + amplitude * np.cos(2 * math.pi * (t - peak_day) / 365.2425))


def draw(rates: np.ndarray, rng: np.random.Generator, *, dispersion: float = 0.0) -> list[int]:
    """Counts for the daily rates: Poisson, or negative binomial with variance mean·(1+dispersion·mean)."""
    if dispersion <= 0:
        return [int(x) for x in rng.poisson(rates)]
    gamma = rng.gamma(1 / dispersion, rates * dispersion)
    return [int(x) for x in rng.poisson(gamma)]
