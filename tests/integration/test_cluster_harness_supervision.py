"""The cluster tests' harness supervises a worker as docker-compose does (tests/support/cluster.py,
``Process``): a process that ends by itself is started again, with a log of its own per run; one
the test killed or stopped is not. Here with ``eoc --help``, which ends at once with status 0."""

from __future__ import annotations

import os
import time

from tests.support.cluster import Process


def _ended(process: Process) -> None:
    deadline = time.monotonic() + 60
    while process.alive:
        assert time.monotonic() < deadline, "eoc --help did not end"
        time.sleep(0.05)


def test_a_supervised_process_that_ends_by_itself_is_started_again_and_a_killed_one_is_not(tmp_path):
    process = Process("worker", ["--help"], dict(os.environ), tmp_path, supervised=True)
    process.start()
    _ended(process)
    assert process.revive()  # the supervisor's round
    _ended(process)
    assert process.revive()
    _ended(process)
    assert (process.starts, process.restarts, process.runs) == (1, [0, 0], 3)
    assert [p.name for p in sorted(tmp_path.glob("worker.*.log"))] == ["worker.1.log", "worker.2.log", "worker.3.log"]
    assert "--- worker run 3 ---" in process.log_tail()
    process.stop()  # the test's own stop: not undone
    assert not process.revive()
    process.start()
    process.kill9()  # at once: running, or ended and not yet reaped
    assert not process.revive() and process.starts == 2 and len(process.restarts) == 2


def test_an_unsupervised_process_stays_down(tmp_path):
    process = Process("worker", ["--help"], dict(os.environ), tmp_path)
    process.start()
    _ended(process)
    assert not process.revive()
    assert process.restarts == [] and process.proc is not None and process.proc.returncode == 0
