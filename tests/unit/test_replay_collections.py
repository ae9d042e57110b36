"""A replay asks the garbage collector for fewer passes while it runs (consumers/replay.py),
and gives the thresholds back when the last replay ends, however it ends."""

from __future__ import annotations

import gc
import threading

import pytest

from consumers.replay import fewer_collections, replay


class _Broken:
    def describe(self) -> str:
        return "a source that breaks"

    def envelopes(self, **_: object):
        assert gc.get_threshold()[0] == 50_000
        raise ConnectionError("the store went away")
        yield


def test_the_thresholds_come_back_after_a_replay_that_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(ConnectionError):
        replay(_Broken())  # type: ignore[arg-type]
    assert gc.get_threshold() == before


def test_overlapping_replays_give_the_thresholds_back_when_the_last_ends() -> None:
    before = gc.get_threshold()
    first_in, second_out = threading.Event(), threading.Event()
    seen: list[int] = []

    def first() -> None:
        with fewer_collections():
            first_in.set()
            second_out.wait(10)
            seen.append(gc.get_threshold()[0])  # the other replay ended; this one goes on

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    with fewer_collections():
        assert gc.get_threshold()[0] == 50_000
    second_out.set()
    thread.join(10)
    assert seen == [50_000]
    assert gc.get_threshold() == before
