"""``eoc board`` against a running system: one frame (``--once``) with every section.

The system is the real embedded one served over HTTP; the simulator fills its boards.
"""

from __future__ import annotations

import asyncio

import pytest

from eoc.app.config import Settings
from eoc.cli import main
from eoc.main.bootstrap import build
from eoc.simulator import SimClock, simulate
from tests.support.served import served
from tests.support.simulator import MORNING, RATE_LIMIT_SCALE, steady

SECTIONS = ("Teams · گروه‌های سیار", "Incident queue · صف موارد", "Occupancy · ظرفیت مراکز",
            "Today's figures · آمار امروز", "Alerts · هشدارها")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory):
    """A system whose token secret lives in its data directory (as ``eoc demo`` leaves it),
    with a simulated Qazvin that has run for a while."""
    data = tmp_path_factory.mktemp("board") / "data"
    # As in ``eoc demo``, the system runs on the simulator's clock: "today" is the simulated day.
    clock = steady(SimClock(20_000, MORNING))
    system = build(Settings.from_env({"EOC_DATA_DIR": str(data)}, rate_limit_scale=RATE_LIMIT_SCALE), clock=clock,
                   checkpoint=False)
    try:
        with served(system) as url:
            stats = asyncio.run(simulate(url, system.signin, provinces=("QZV",), speed=20_000, seed=1403,
                                         max_commands=250, clock=clock))
            assert stats.server_errors == 0 and stats.task_errors == 0
            assert system.follower.wait_for(system.app.recorder.max_notification_id() or 0, timeout=30)
            yield system, url, data
    finally:
        system.close()


def board(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["board", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_once_prints_every_section_of_the_boards(running, capsys):
    system, url, _ = running
    token = system.signer.issue("national_eoc", "IR", sub="test")
    code, out, err = board(capsys, "--url", url, "--token", token, "--once", "--width", "170")
    assert code == 0, err
    for section in SECTIONS:
        assert section in out
    assert "Teams · گروه‌های سیار [14]" in out
    assert "سیار ۰۱ قزوین" in out and "مرکز مداخله در بحران قزوین" in out  # registered in Persian
    assert "available · آماده" in out or "off duty · خارج از نوبت" in out
    # The national EOC sees that the houses exist, never their names or where they are.
    # The nation sees secret places only as per-province counts: no row per house at all.
    assert "Safe house (secret) · خانه امن" not in out and "خانه امن قزوین" not in out
    assert "QZV " in out  # the province's row of today's figures


def test_long_lists_say_what_is_left_out(running, capsys):
    system, url, _ = running
    token = system.signer.issue("national_eoc", "IR", sub="test")
    code, out, _ = board(capsys, "--url", url, "--token", token, "--once", "--rows", "3")
    assert code == 0
    assert "… and 11 more" in out.split("Incident queue")[0]


def test_a_token_is_issued_from_the_data_directory_of_the_demo(running, capsys, monkeypatch):
    _, url, data = running
    monkeypatch.setenv("EOC_DATA_DIR", str(data))
    monkeypatch.delenv("EOC_TOKEN_SECRET", raising=False)
    code, out, err = board(capsys, "--url", url, "--role", "provincial_supervisor", "--province", "QZV", "--once")
    assert code == 0, err
    assert all(section in out for section in SECTIONS)
    # The province's supervisor may see its secret places by name.
    assert "خانه امن قزوین" in out and "خانه سلامت قزوین" in out


def test_another_provinces_token_sees_none_of_qazvin(running, capsys, monkeypatch):
    _, url, data = running
    monkeypatch.setenv("EOC_DATA_DIR", str(data))
    code, out, _ = board(capsys, "--url", url, "--role", "dispatcher", "--province", "ALB", "--once")
    assert code == 0
    assert "Teams · گروه‌های سیار [0]" in out and "QZV-01" not in out
    assert "no alerts" in out and "no figures yet today" in out


def test_a_refused_token_or_a_missing_api_is_said_plainly(running, capsys, tmp_path):
    _, url, _ = running
    code, out, err = board(capsys, "--url", url, "--token", "not.a-token", "--once")
    assert code == 2 and "refused" in err and not out
    code, _, err = board(capsys, "--url", "http://127.0.0.1:9", "--token", "x.y", "--once")
    assert code == 1 and "cannot reach" in err
    code, _, err = board(capsys, "--url", url, "--role", "dispatcher", "--once")
    assert code == 2 and "--province" in err


def test_drill_boards_are_shown_apart(running, capsys):
    system, url, _ = running
    token = system.signer.issue("national_eoc", "IR", sub="test")
    code, out, _ = board(capsys, "--url", url, "--token", token, "--once", "--drill")
    assert code == 0
    assert "DRILL · مانور" in out and "Teams · گروه‌های سیار [0]" in out


def test_board_shows_markup_and_control_characters_in_stored_names_literally(tmp_path, capsys):
    """The finding: a county ``[/]`` crashed ``eoc board`` for every viewer of the province, an
    ESC sequence in a name reached the operator's terminal, and ``[link=...]`` in a team name
    was rendered as a link. Names stored below the API's checks (as an older version could
    have) are shown literally: markup as text, control and bidi characters as visible escapes."""
    import io
    from datetime import UTC, datetime

    from rich.console import Console

    from eoc.cli.board import fetch, render
    from tests.support.poison import HOSTILE_TEXT, team_with_hostile_name

    system = build(Settings.from_env({"EOC_DATA_DIR": str(tmp_path / "data")}), checkpoint=False)
    try:
        for name in HOSTILE_TEXT:  # each in the county "[/]"
            team_with_hostile_name(system.app, datetime.now(UTC), name)
        assert system.follower.wait_for(system.app.recorder.max_notification_id() or 0, timeout=30)
        with served(system) as url:
            for role, province in (("national_eoc", "IR"), ("provincial_supervisor", "QZV"), ("dispatcher", "QZV")):
                token = system.signer.issue(role, province, sub="test")
                code, out, err = board(capsys, "--url", url, "--token", token, "--once", "--width", "200")
                assert code == 0, err  # no crash on "[/]"
                assert f"Teams · گروه‌های سیار [{len(HOSTILE_TEXT)}]" in out
                assert "[link=http://example.invalid]team[/link]" in out  # markup as text
                assert "[/]" in out  # the county, as stored
                assert "\\u001b[31mred\\u001b[0m" in out and "\x1b" not in out  # ESC shown, never sent
                assert "\\u202eeman" in out and "\u202e" not in out  # a bidi override never reorders a row
                assert "\\u0000nul" in out and "\x00" not in out
            # On a real terminal too (colours on, as in the live view): no hyperlink escape, and no
            # escape sequence comes from the data, only the board's own styles.
            import httpx

            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
                summary = fetch(http)
            terminal = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=200)
            terminal.print(render(summary, url, 18, 200))
            drawn = terminal.file.getvalue()
            assert "\x1b]8;" not in drawn  # OSC 8: what a rendered [link=...] would become
            assert "\x1b[31mred" not in drawn and "\u202e" not in drawn and "\x00" not in drawn
            assert "\\u001b[31mred" in drawn and "link=http://example.invalid" in drawn
    finally:
        system.close()
