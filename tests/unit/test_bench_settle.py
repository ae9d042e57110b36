"""bench/settle.py: between scenarios, the disk is written out and the CPU let go quiet, for at
most a bound; what was found goes into the results."""

from __future__ import annotations

import asyncio

from bench.settle import busy_share, dirty_mb, settle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_settle_syncs_first_then_stops_at_the_first_quiet_sample():
    clock, calls = Clock(), []
    shares = iter([0.9, 0.6, 0.1, 0.05])

    def busy() -> float:
        calls.append("busy")
        clock.now += 0.5
        return next(shares)

    found = asyncio.run(settle(30, sync=lambda: calls.append("sync"), busy=busy, dirty=lambda: 12.0, clock=clock))
    assert calls == ["sync", "busy", "busy", "busy"]
    assert found == {"s": 1.5, "dirty_mb_before": 12.0, "dirty_mb_after": 12.0, "busy": [0.9, 0.6, 0.1], "quiet": True}


def test_settle_gives_up_at_its_bound_on_a_machine_that_stays_busy():
    clock = Clock()

    def busy() -> float:
        clock.now += 0.5
        return 0.8

    found = asyncio.run(settle(2, sync=lambda: None, busy=busy, dirty=lambda: 0.0, clock=clock))
    assert found["s"] == 2.0 and found["busy"] == [0.8] * 4 and found["quiet"] is False


def test_the_machines_own_readings_are_in_range():
    assert 0.0 <= busy_share(0.05) <= 1.0
    assert dirty_mb() >= 0.0
