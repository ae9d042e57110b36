"""The bridge's throttle follows what its frames cost (ui-bridge/hub.py): the gap after a flush
is FLUSH_SHARE times the flush's time, no less than the least gap and no more than the tick."""

import time

import pytest

from ui_bridge import protocol as p
from ui_bridge.hub import Hub


def flushed(hub: Hub, cost_s: float) -> float:
    def slow(*_: object) -> None:
        end = time.perf_counter() + cost_s
        while time.perf_counter() < end:
            pass

    hub._flush = slow  # type: ignore[method-assign]
    hub._pending = {"team/t1": {"id": "t1"}}
    hub.flush()
    return hub.gap_s


def test_cheap_frames_leave_at_the_least_gap_and_dear_ones_at_most_a_tick_apart() -> None:
    hub = Hub(None, tick_s=0.05)  # type: ignore[arg-type]  (no feed: only the throttle is used)
    assert hub.gap_s == p.MIN_GAP_S
    assert flushed(hub, 0.0) == p.MIN_GAP_S
    gap = flushed(hub, 0.005)  # 5 ms of frames: the loop waits four times that before the next
    assert p.FLUSH_SHARE * 0.005 <= gap <= 0.05
    assert flushed(hub, 0.03) == 0.05  # a flush dearer than a quarter tick: a tick apart
    assert flushed(hub, 0.0) == p.MIN_GAP_S  # and back once frames are cheap again


def test_a_fixed_gap_when_the_least_gap_is_the_tick() -> None:
    hub = Hub(None, tick_s=0.5, min_gap_s=0.5)  # type: ignore[arg-type]
    assert flushed(hub, 0.0) == pytest.approx(0.5)
