"""Reports for a Jalali month from a replay: their totals are the key-figures board's for the
month's days; drills are left out; the Iran-time day decides the month."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from consumers.follower import Follower
from eoc.app.keyring import SQLiteKeyring
from eoc.app.service import EOCApplication
from eoc.audit.reports import COUNTS, UNCLASSIFIED, ReportFold, build_report
from eoc.audit.sources import StoreSource
from eoc.cli import main
from events.envelope import Envelope
from events.jalali import parse_period
from tests.support.audit import cli_env, with_history
from tests.support.history import aggregates
from tests.support.system import FakeClock

SHAHRIVAR = parse_period("Shahrivar 1403")  # 2024-08-22 .. 2024-09-21


def board_sums(rows: dict[str, Any], days: list[str], prefix: str = "figures/") -> dict[str, dict[str, int]]:
    """Per province, the key-figures rows of these days added up (the test's own arithmetic)."""
    sums: dict[str, dict[str, int]] = {}
    for key, row in rows.items():
        if key.startswith(prefix) and row["day"] in days:
            bucket = sums.setdefault(row["province"], dict.fromkeys(COUNTS, 0))
            for c in COUNTS:
                bucket[c] += row[c]
            bucket.setdefault("classified", 0)
            bucket["classified"] += row["classified"]
    return sums


@pytest.fixture(scope="module")
def six_weeks() -> tuple[EOCApplication, dict[str, Any]]:
    """About 45 days of life across the Mordad → Shahrivar → Mehr boundaries, with drills."""
    app = EOCApplication(env={})
    follower = Follower(app).start()
    clock = FakeClock(datetime(2024, 8, 10, 0, 0, tzinfo=UTC))
    history = aggregates(app, keyring=SQLiteKeyring(":memory:"), seed=45, clock=clock,
                               mean_gap_s=490, drill_share=0.08)
    history.run(9000)
    assert (clock.now - datetime(2024, 8, 10, tzinfo=UTC)).days >= 44
    follower.wait_for(app.recorder.max_notification_id(), timeout=60)
    _, live = follower.snapshot()
    follower.stop()
    return app, live


def test_a_jalali_month_report_adds_up_to_the_key_figures_board(six_weeks: tuple[EOCApplication, dict[str, Any]]) -> None:
    app, live = six_weeks
    days = SHAHRIVAR.days()
    assert len(days) == 31 and days[0] == "2024-08-22" and days[-1] == "2024-09-21"
    assert all(any(k.endswith("/" + d) for k in live if k.startswith("figures/")) for d in days)  # all on the board

    report = build_report(StoreSource(app).envelopes(), SHAHRIVAR)
    board = board_sums(live, days)
    by_province = {r["province"]: r for r in report.by(("province",))}
    assert set(by_province) == set(board) == {"QZV", "ALB", "KSH"}
    for province, sums in board.items():
        assert {c: by_province[province][c] for c in COUNTS} == {c: sums[c] for c in COUNTS}, province
        assert by_province[province]["calls"] > 300 and by_province[province]["dispatches"] > 20
    total = report.total()
    assert total["calls"] == sum(s["calls"] for s in board.values())
    assert total["intervention_share"] == round(total["interventions"] / total["calls"], 4)
    assert report.check_figures(live) == {**report.check_figures(live), "equal": True, "days_checked": 31}

    # By county and by category the same counts, split: they add up to the same totals.
    for grouping in (("province", "county"), ("category",), ("province", "category")):
        rows = report.by(grouping)
        assert {c: sum(r[c] for r in rows) for c in COUNTS} == {c: total[c] for c in COUNTS}
    # Calls by category are the board's classified calls by category.
    categories = {r["category"]: r["calls"] for r in report.by(("category",))}
    on_board: dict[str, int] = {}
    for key, row in live.items():
        if key.startswith("figures/") and row["day"] in days:
            for cat, n in row["calls_by_category"].items():
                on_board[cat] = on_board.get(cat, 0) + n
    assert {k: v for k, v in categories.items() if k != UNCLASSIFIED and v} == on_board
    assert categories.get(UNCLASSIFIED, 0) == total["calls"] - sum(on_board.values())


def test_drills_are_left_out(six_weeks: tuple[EOCApplication, dict[str, Any]]) -> None:
    app, live = six_weeks
    drills = board_sums(live, SHAHRIVAR.days(), prefix="drill/figures/")
    assert sum(s["calls"] for s in drills.values()) > 50  # there were drills that month
    report = build_report(StoreSource(app).envelopes(), SHAHRIVAR)
    assert report.drill_events > 0
    real = board_sums(live, SHAHRIVAR.days())
    assert report.total()["calls"] == sum(s["calls"] for s in real.values())


def test_a_season_and_a_year_cover_their_months(six_weeks: tuple[EOCApplication, dict[str, Any]]) -> None:
    app, _ = six_weeks
    envelopes = list(StoreSource(app).envelopes())
    months = [build_report(envelopes, parse_period(f"1403-{m:02d}")).total() for m in (5, 6, 7)]
    summer = build_report(envelopes, parse_period("summer 1403")).total()  # Tir, Mordad, Shahrivar
    year = build_report(envelopes, parse_period("1403")).total()
    assert summer["calls"] == sum(m["calls"] for m in months[:2]) + build_report(
        envelopes, parse_period("1403-04")).total()["calls"]
    assert year["calls"] == sum(m["calls"] for m in months) > 0


def _call(at: str, province: str = "QZV", drill: bool = False) -> Envelope:
    return Envelope(type="CallReceived", version=2, id=at, aggregate_id=at, aggregate_version=1, occurred_at=at,
                    recorded_at=at, province=province, county="Qazvin", actor={"role": "call_taker", "user": "u"},
                    exercise=drill, payload={"line": "123", "caller": "S-x", "received_at": at}, position=1)


def test_the_month_is_cut_at_midnight_iran_time() -> None:
    fold = ReportFold(SHAHRIVAR)
    fold.apply(_call("2024-08-21T20:29:00.000Z"))  # 23:59 on 31 Mordad in Tehran
    fold.apply(_call("2024-08-21T20:31:00.000Z"))  # 00:01 on 1 Shahrivar
    fold.apply(_call("2024-09-21T20:29:00.000Z"))  # 23:59 on 31 Shahrivar
    fold.apply(_call("2024-09-21T20:31:00.000Z"))  # 00:01 on 1 Mehr
    fold.apply(_call("2024-09-01T10:00:00.000Z", drill=True))
    assert fold.report().total()["calls"] == 2


def test_report_command(make_system: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    system = make_system()
    with_history(system, 1500, seed=46, start=datetime(2024, 9, 18, tzinfo=UTC), mean_gap_s=300)
    cli_env(monkeypatch, system)
    assert main(["report", "--quiet", "--period", "شهریور ۱۴۰۳", "--format", "json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["period"]["code"] == "1403-06" and data["period"]["label_fa"] == "شهریور ۱۴۰۳"
    assert data["key_figures_check"]["equal"] and data["key_figures_check"]["days_checked"] == 4
    assert data["nation"]["calls"] == sum(r["calls"] for r in data["by_province"]) > 0
    assert "key-figures board check: equal" in captured.err
    assert main(["report", "--quiet", "--period", "1403-06", "--by", "county"]) == 0
    table = capsys.readouterr().out
    assert "Shahrivar 1403" in table and "Qazvin" in table and "total" in table
