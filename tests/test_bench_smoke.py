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

ROOT = Path(__file__).resolve().parents[1]

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
