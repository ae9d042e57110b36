"""The worker's recovery watchdog (consumers/worker.py, ``RecoveryWatchdog``): a table recovery
that reads nothing more for ``EOC_WORKER_RECOVERY_STALL_S`` ends the process, so that its
supervisor starts it again (faust-streaming #155/#74: "Still fetching changelog ... partition 5
have offset -1" for minutes, and the worker never serves). Fed by hand, as
``faust_adapter.recovery_progress`` reads Faust's Recovery service (pinned in test_adapter_faust)."""

from __future__ import annotations

import logging
import os
import threading

from consumers import worker as worker_module
from consumers.faust_adapter import RecoveryProgress
from consumers.worker import EXIT_RECOVERY_STALLED, RecoveryWatchdog

CHANGELOG = "eoc-worker-board-changelog"


class Feed:
    """A recovery as the watchdog reads it, and a clock, both moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0
        self.progress = RecoveryProgress(False, {}, {})

    def recovering(self, **offsets: int) -> None:
        self.progress = RecoveryProgress(True, {(CHANGELOG, int(p[1:])): o for p, o in offsets.items()},
                                         {(CHANGELOG, 5): 120, (CHANGELOG, 2): 40})


def watchdog(feed: Feed, stall_s: float = 60.0) -> RecoveryWatchdog:
    return RecoveryWatchdog(stall_s, lambda: feed.progress, clock=lambda: feed.now)


def test_a_recovery_stalled_past_the_bound_is_told_with_the_partition_that_does_not_move():
    feed = Feed()
    dog = watchdog(feed)
    feed.recovering(p5=-1, p2=40)
    for feed.now in (0.0, 30.0, 59.9):
        assert dog.check() is None
    feed.now = 60.0
    told = dog.check()
    assert told is not None
    assert "no progress for 60 s" in told and "121 changelog records left" in told
    assert f"{CHANGELOG}[5] at offset -1 of 120" in told and "[2]" not in told  # partition 2 is read to its end
    assert "exits" in told


def test_a_recovery_that_moves_or_ends_is_not_a_stall():
    feed = Feed()
    dog = watchdog(feed)
    for feed.now in (0.0, 100.0, 1000.0):  # no recovery under way: never
        assert dog.check() is None
    feed.recovering(p5=-1, p2=0)
    assert dog.check() is None
    for step in range(1, 10):  # slow, but reading on: 50 s between offsets, 450 s in all
        feed.now = 1000.0 + 50.0 * step
        feed.recovering(p5=step, p2=40)
        assert dog.check() is None
    feed.now += 59.0
    assert dog.check() is None
    feed.progress = RecoveryProgress(False, {}, {})  # done
    assert dog.check() is None
    feed.now += 10.0
    feed.recovering(p5=9, p2=40)  # a new recovery (a rebalance): the bound counts from its start
    assert dog.check() is None
    feed.now += 59.0
    assert dog.check() is None
    feed.now += 1.0
    assert dog.check() is not None


def test_a_stall_ends_the_process_with_its_own_status_and_one_clear_line(monkeypatch, caplog):
    exits: list[int] = []
    ended = threading.Event()

    def exit_(status: int) -> None:
        exits.append(status)
        ended.set()

    monkeypatch.setattr(os, "_exit", exit_)
    monkeypatch.setattr(logging, "shutdown", lambda: None)
    feed = Feed()
    feed.recovering(p5=-1, p2=40)
    dog = RecoveryWatchdog(0.05, lambda: feed.progress)  # the real clock
    with caplog.at_level(logging.CRITICAL, logger=worker_module.__name__):
        dog.watch(0.01)
        assert ended.wait(5)
    assert exits[0] == EXIT_RECOVERY_STALLED != 0
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert lines and "table recovery made no progress" in lines[0]
