"""The benchmark suite's figures follow from the samples the JSON keeps: each figure names where
its value and its baseline come from, ``report.problems`` computes them again and rejects what
cannot be true (a zero baseline, a latency of zero or less, a ratio that is not value /
baseline, a value its samples do not give). The dashboard client times a command from its send
to the frame with its effect, also when that frame came before the command's answer."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from bench.loadgen import quantile
from bench.report import Results, derive, implausible, problems, source
from bench.scenarios.command_to_board import latency_figures
from bench.suite import Context
from bench.watch import BoardWatcher

SYSTEM_FRAME = [float(x) for x in range(1, 201)]  # 1 .. 200 ms
FLOOR_FRAME = [x / 10 for x in range(1, 201)]  # 0.1 .. 20 ms
SYSTEM_ANSWER = [x / 2 for x in range(1, 201)]
FLOOR_ANSWER = [x / 20 for x in range(1, 201)]


def _run(tmp_path: Path, floor_frame: list[float] = FLOOR_FRAME) -> dict:
    """The command-to-board figures as the scenario makes them, written and read back as JSON."""
    results = Results(command="python -m bench --test", smoke=True)
    ctx = Context(smoke=True, workdir=tmp_path, results=results)
    record = {"rate": 100, "rounds": [],
              "system": {"command_to_board_ms": SYSTEM_FRAME, "send_to_answer_ms": SYSTEM_ANSWER},
              "floor": {"command_to_board_ms": floor_frame, "send_to_answer_ms": FLOOR_ANSWER}}
    ctx.detail("c2b", record)
    latency_figures(ctx, "Command to board, test", "at 100/s", "c2b", record)
    results.write(tmp_path / "latest.json")
    return json.loads((tmp_path / "latest.json").read_text())


def _figure(record: dict, name: str) -> dict:
    return next(f for f in record["figures"] if f["name"] == name)


def test_the_figures_follow_from_their_samples(tmp_path: Path) -> None:
    record = _run(tmp_path)
    assert implausible(record) == {}
    p99 = _figure(record, "p99 at 100/s")
    assert p99["value"] == quantile(SYSTEM_FRAME, 0.99) == 199.0
    assert p99["baseline"] == quantile(FLOOR_FRAME, 0.99) == 19.9
    assert p99["ratio"] == pytest.approx(199.0 / 19.9)
    assert derive(record["details"], p99["value_from"]) == 199.0
    assert p99["target"] == "<= 20 ms and <= 2 x floor p99" and p99["met"] is False
    answer = _figure(record, "HTTP answer (send to answer) p50 at 100/s")
    assert answer["value"] == quantile(SYSTEM_ANSWER, 0.5) and answer["baseline"] == quantile(FLOOR_ANSWER, 0.5)
    # Every row says where both of its numbers come from.
    assert all(f["value_from"] and f["baseline_from"] for f in record["figures"])


def test_a_value_its_samples_do_not_give_is_rejected(tmp_path: Path) -> None:
    record = _run(tmp_path)
    record["details"]["c2b"]["system"]["command_to_board_ms"][-2] = 199.5  # the p99 sample changed afterwards
    found = implausible(record)
    assert list(found) == ["Command to board, test / p99 at 100/s"]
    assert "does not follow from its samples" in found["Command to board, test / p99 at 100/s"][0]


def test_a_ratio_that_is_not_value_over_baseline_is_rejected(tmp_path: Path) -> None:
    record = _run(tmp_path)
    figure = _figure(record, "p50 at 100/s")
    figure["ratio"] *= 2
    assert any("ratio" in p for p in problems(figure, record["details"]))


def test_a_zero_baseline_is_rejected(tmp_path: Path) -> None:
    record = _run(tmp_path, floor_frame=[0.0] * 200)
    found = implausible(record)
    assert {"p50 at 100/s", "p99 at 100/s", "p99.9 at 100/s"} == {k.split(" / ")[1] for k in found}
    assert all("a zero baseline" in p for p in found.values())


def test_a_count_may_be_zero_where_a_rate_may_not() -> None:
    lag = {"scenario": "s", "name": "board lag, last third (commands waiting)", "value": 2.0, "unit": "",
           "baseline": 0.0, "baseline_name": "the same, first third", "ratio": None}
    assert problems(lag, {}) == []
    assert problems({**lag, "unit": "/s", "baseline_name": "HTTP floor"}, {}) == ["a zero baseline"]


def test_a_latency_of_zero_or_less_is_rejected() -> None:
    figure = {"scenario": "s", "name": "p50 at 100/s", "value": 0.0, "unit": "ms", "baseline": 1.0,
              "baseline_name": "floor", "ratio": 0.0}
    assert problems(figure, {}) == ["a latency of 0.0 ms"]
    assert problems({**figure, "value": -1.0, "ratio": -1.0}, {}) == ["value is not a finite number >= 0: -1.0"]
    assert problems({**figure, "value": 2.0, "ratio": 2.0}, {}) == []


def test_rates_and_the_held_rate_are_taken_of_their_windows() -> None:
    details = {"s": {"windows": [{"count": 300, "seconds": 2.0}, {"count": 100, "seconds": 2.0}],
                     "attempts": [{"rate": 100, "held": True}, {"rate": 125, "held": True},
                                  {"rate": 160, "held": False}]}}
    assert derive(details, source("s/windows", "rate")) == 100.0
    assert derive(details, source("s/attempts", "max_held")) == 125
    assert derive(details, source("s/windows/0/count", "value")) == 300.0
    figure = {"scenario": "s", "name": "held", "value": 160.0, "unit": "/s", "baseline": 100.0,
              "baseline_name": "floor", "ratio": 1.6, "value_from": source("s/attempts", "max_held"),
              "baseline_from": source("s/windows", "rate")}
    assert problems(figure, details) == ["value 160.0 does not follow from its samples: max_held of s/attempts is 125"]


def _frame(applied: int) -> bytes:
    return json.dumps({"type": "delta", "seq": applied, "prev": applied - 1, "now": "",
                       "changes": {"applied/QZV": applied}}).encode()


def test_a_frame_before_the_answer_counts_from_the_send_with_its_real_arrival() -> None:
    watcher = BoardWatcher()
    watcher.on_text(json.dumps({"type": "snapshot", "rows": {"applied/QZV": 2}}).encode())
    watcher.latencies_ms = []
    sent_first = time.perf_counter() - 0.5  # sent half a second before its frame arrives
    watcher.on_text(_frame(5))
    after_frame = time.perf_counter()
    time.sleep(0.05)  # its answer comes later still
    watcher.expect("QZV", 4, sent_first)
    assert watcher.before_answer == 1
    [first] = watcher.latencies_ms
    assert 500 <= first <= (after_frame - sent_first) * 1000  # not 0, not up to the answer
    # The usual order: answered, then the frame.
    sent_second = time.perf_counter()
    watcher.expect("QZV", 6, sent_second)
    time.sleep(0.02)
    watcher.on_text(_frame(6))
    assert len(watcher.latencies_ms) == 2 and watcher.latencies_ms[1] >= 20
    # A position the snapshot already covered has no arrival to match: not counted as 0.
    watcher.expect("QZV", 1, time.perf_counter())
    assert watcher.unmatched == 1 and len(watcher.latencies_ms) == 2


def test_the_only_option_names_every_scenario_of_the_suite() -> None:
    """``--only``'s help is written out (the ``eoc`` parser is built without importing the
    scenarios); a scenario added to the suite must be named there too."""
    import argparse

    from bench.__main__ import add_arguments
    from bench.scenarios import SCENARIOS

    p = argparse.ArgumentParser()
    add_arguments(p)
    help_text = next(a.help for a in p._actions if a.dest == "only") or ""
    named = {n.strip() for n in help_text.split(":", 1)[1].split(",")}
    assert named == {s.name for s in SCENARIOS}


def test_the_fan_out_load_reports_only_places_inside_iran() -> None:
    """The fold drops a position outside the country (telemetry is not history), so a load of
    such points would read as deltas the bridge lost (42% of them once did)."""
    from types import SimpleNamespace

    from bench.fanout import drive
    from events.reference import inside_iran

    points: list[tuple[float, float]] = []
    sent = drive(lambda i, t, lat, lon: points.append((lat, lon)), 200_000.0, 0.05, 2000,
                 SimpleNamespace(value=0.0), SimpleNamespace(value=0.0))
    assert sent == len(points) > 1000
    assert [p for p in points if not inside_iran(*p)] == []


def test_a_run_names_the_commit_it_measured_and_its_processes_run_that_tree(tmp_path: Path) -> None:
    import subprocess

    from bench import services
    from bench.systems import _base_env

    record = _run(tmp_path)
    head = subprocess.run(["git", "-C", str(services.ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert record["code"]["commit"] == head and record["code"]["tree"] == str(services.ROOT)
    env = _base_env()
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(services.ROOT)
    # the bridge too: ui-bridge/ is ui_bridge only through the install's mapping (main's, in a worktree)
    imported = subprocess.run([sys.executable, "-c", "import ui_bridge, eoc; print(ui_bridge.__file__); print(eoc.__file__)"],
                              env=env, capture_output=True, text=True, check=True).stdout.split()
    assert [Path(f).resolve().is_relative_to(services.ROOT.resolve()) for f in imported] == [True, True], imported
    # and a bench tool that runs the bridge in its own process (bench.fanout) imports the tree's
    ours = subprocess.run([sys.executable, "-c", "import bench, ui_bridge; print(ui_bridge.__file__)"],
                          env={**os.environ, "PYTHONPATH": str(services.ROOT)}, cwd="/", capture_output=True,
                          text=True, check=True).stdout.strip()
    assert Path(ours).resolve().is_relative_to(services.ROOT.resolve()), ours
