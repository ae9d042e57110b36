"""The benchmark suite keeps working: ``python -m bench --smoke`` runs every scenario at a tiny
size, prints the table and writes the JSON, with a value, a same-run baseline and their ratio
for every figure. Speed itself is never asserted here (that is what bench/ is for)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.kafka]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory, pg_admin_dsn: str, kafka_bootstrap: str) -> tuple[str, dict]:
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"python -m bench --smoke failed:\n{done.stdout}\n{done.stderr[-6000:]}"
    return done.stdout, json.loads(out.read_text())


def test_every_scenario_ran_without_error(smoke: tuple[str, dict]) -> None:
    _, record = smoke
    assert record["smoke"] is True
    assert record["errors"] == {}
    titles = {f["scenario"] for f in record["figures"]}
    assert {s.title for s in SCENARIOS} <= titles


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_figures_have_values_baselines_and_ratios(smoke: tuple[str, dict], scenario) -> None:
    _, record = smoke
    figures = [f for f in record["figures"] if f["scenario"] == scenario.title]
    assert figures, f"no figures for {scenario.title}"
    for f in figures:
        where = f"{scenario.title} / {f['name']}"
        assert isinstance(f["value"], (int, float)), f"{where}: no value ({f['note']})"
        assert isinstance(f["baseline"], (int, float)), f"{where}: no baseline"
        assert f["baseline_name"], f"{where}: the baseline is not named"
        if f["baseline"] != 0:  # Kafka's tool prints whole milliseconds: a 0 has no ratio
            assert f["ratio"] == pytest.approx(f["value"] / f["baseline"]), where


TRACEABLE = ("command-to-board-embedded", "command-to-board-cluster", "sustained-embedded", "sustained-cluster")


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.name in TRACEABLE], ids=lambda s: s.name)
def test_figures_name_the_samples_they_come_from(smoke: tuple[str, dict], scenario) -> None:
    """Command to board and sustained: every row's value and baseline are taken of samples or
    windows kept in the JSON (checked against them in test_figures_are_plausible), and command to
    board has its send-to-answer rows beside the send-to-frame ones."""
    _, record = smoke
    figures = [f for f in record["figures"] if f["scenario"] == scenario.title]
    for f in figures:
        assert f["value_from"] and f["baseline_from"], f"{scenario.title} / {f['name']}: not traceable"
    if scenario.name.startswith("command-to-board"):
        names = {f["name"] for f in figures}
        assert {"HTTP answer (send to answer) p50 at 100/s", "HTTP answer (send to answer) p99 at 100/s"} <= names


def test_the_embedded_rows_name_what_durability_costs(smoke: tuple[str, dict]) -> None:
    """The floor stores nothing: beside it, a durable SQLite commit alone at the same rate, one
    sample per commit, taken between the rounds, its p50 and p99 in the table."""
    _, record = smoke
    detail = record["details"]["command_to_board_embedded"]
    commits = detail["durable_commit_ms"]
    assert len(commits) >= 20 * len(detail["rounds"]) and all(ms > 0 for ms in commits)
    names = {f["name"]: f for f in record["figures"] if f["scenario"] == "Command to board, embedded"}
    for stat in ("p50", "p99"):
        row = names[f"durable commit alone (sqlite3, WAL, synced, 1 row a transaction) {stat} at 100/s"]
        assert row["value_from"] == {"samples": "command_to_board_embedded/durable_commit_ms", "stat": stat}


def test_the_table_shows_every_scenario_and_figure(smoke: tuple[str, dict]) -> None:
    table, record = smoke
    header = table.splitlines()[0].split()
    assert header[:4] == ["figure", "value", "baseline", "ratio"]
    for s in SCENARIOS:
        assert f"[{s.title}]" in table
    for f in record["figures"]:
        assert f["name"] in table


def test_the_json_says_where_and_how_it_ran(smoke: tuple[str, dict]) -> None:
    _, record = smoke
    assert record["command"].startswith("python -m bench --smoke")
    assert record["machine"]["cores"] >= 1
    assert record["started"] and record["finished"]


def test_figures_are_plausible(smoke: tuple[str, dict]) -> None:
    """A figure that cannot be true fails here (``bench.report.problems``): a negative or infinite
    value, a zero baseline (but Kafka's tool, which prints whole milliseconds), a latency of zero
    or less, a ratio that is not value / baseline, a value or baseline that its stored samples do
    not give; and percentiles out of order, more reports carried than were offered, more CPU than
    the machine has, a process of no size."""
    import re

    from bench.report import implausible

    _, record = smoke
    cores = record["machine"]["cores"]
    figures = record["figures"]
    assert implausible(record) == {}
    for f in figures:
        where = f"{f['scenario']} / {f['name']}: {f['value']} vs {f['baseline']}"
        if f["unit"] in ("ms", "/s", "MB"):
            assert f["value"] > 0, where
        if f["unit"] == "cores":
            assert f["value"] <= cores * 4 + 0.5, where  # four processes at most, each at most the machine
        if f["unit"] == "MB":
            assert f["value"] > 20 and f["baseline"] > 20, where  # a Python process of the system
        offered = re.search(r"offered ([\d.]+)/s", f["baseline_name"])
        if offered:
            assert f["value"] <= float(offered.group(1)) * 1.1 and f["baseline"] <= float(offered.group(1)) * 1.1, where
    # p50 <= p99 <= p99.9 at the same rate, for the system and for its baseline.
    by_rate: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    for f in figures:
        m = re.fullmatch(r"(p50|p99|p99\.9) (at .+)", f["name"])
        if m:
            by_rate.setdefault((f["scenario"], m.group(2)), {})[m.group(1)] = (f["value"], f["baseline"])
    assert by_rate, "no latency figures"
    for (scenario, rate), ps in by_rate.items():
        assert set(ps) == {"p50", "p99", "p99.9"}, (scenario, rate, ps)
        for i in (0, 1):
            assert ps["p50"][i] <= ps["p99"][i] <= ps["p99.9"][i], (scenario, rate, ps)


def test_the_cluster_rows_say_where_the_time_goes(smoke: tuple[str, dict]) -> None:
    """A command's hops (send → eoc.events → eoc.boards → frame) and a position report's
    (reported → eoc.telemetry.positions → eoc.boards → frame) are in the JSON, each later hop
    no earlier than the one before it at the median."""
    _, record = smoke
    command = record["details"]["command_to_board_cluster"]["hops"]
    names = ("send_to_events_topic", "send_to_boards_topic", "send_to_dashboard_frame")
    assert all(command[n]["n"] > 0 for n in names), command
    positions = record["details"]["telemetry_cluster"]["10_per_s"]["system"]["hops"]
    names = ("reported_to_telemetry_topic", "reported_to_boards_topic", "reported_to_dashboard_frame")
    assert all(positions[n]["n"] > 0 for n in names), positions
    medians = [positions[n]["p50_ms"] for n in names]
    # The bench reads the topics by polling and gets the frames pushed: a topic's median may
    # come a poll later than the frame's (12 ms once, over 50 reports).
    assert medians[0] <= medians[1] + 20 and medians[0] <= medians[2] + 20, positions
