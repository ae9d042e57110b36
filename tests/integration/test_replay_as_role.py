"""`eoc replay --as ROLE` shows exactly what that role's live board shows — a provincial
supervisor's secret places unsealed, as on its live board; the auditor and the national EOC
see counts; nothing of another province — and every secret a replay showed is a read in the
access log (eoc/app/access_log.py), by whoever ran it, as the role replayed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eoc.app.access_log import AccessLog
from eoc.cli import main
from events.envelope import canonical_json
from tests.support.audit import cli_env
from tests.support.secret_history import SAFE_AT, secret_history
from tests.support.served import served
from tests.support.system import Api


@pytest.fixture
def store() -> str:
    return "sqlite"


def _replayed(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "replay.json"
    assert main(["replay", "--quiet", "--format", "json", "--out", str(out), *args]) == 0
    return json.loads(out.read_text(encoding="utf-8"))["rows"]


def _reads(system: Any, since: int) -> list[Any]:
    log = AccessLog(path=system.settings.data_dir / "access.sqlite")
    try:
        return [e for e in log.entries(since_seq=since) if e.action in ("read_secret_place", "read_client_ids")]
    finally:
        log.close()


def _last_seq(system: Any) -> int:
    log = AccessLog(path=system.settings.data_dir / "access.sqlite")
    try:
        entries = log.entries(limit=1_000_000)
        return entries[-1].seq if entries else 0
    finally:
        log.close()


def test_replay_as_a_role_unseals_exactly_what_its_live_board_shows(api: Api, monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    system = api.system
    places = secret_history(api)
    system.follower.wait_for(system.app.recorder.max_notification_id() or 0, timeout=30)
    cli_env(monkeypatch, system)
    for role, province in (("provincial_supervisor", "QZV"), ("centre_staff", "QZV"), ("auditor", "IR"),
                           ("national_eoc", "IR"), ("dispatcher", "QZV"), ("provincial_supervisor", "ALB")):
        live = api.http.get("/api/v1/boards", headers=api.token(role, province)).json()["rows"]
        before = _last_seq(system)
        # Run by someone of that role (their token): the replay is exactly their live board.
        monkeypatch.setenv("EOC_TOKEN", system.signer.issue(role, province, sub=f"replay-{role}"))
        rows = _replayed(tmp_path, "--as", role, "--province", province)
        assert canonical_json(rows) == canonical_json(live), (role, province)
        safe = rows.get(f"centre/{places['safe']}")
        reads = _reads(system, before)
        if (role, province) in (("provincial_supervisor", "QZV"), ("centre_staff", "QZV")):
            assert safe["location"] == SAFE_AT and "sealed_location" not in safe  # unsealed, as live
            read = {(e.role, e.subject, e.channel) for e in reads if e.action == "read_secret_place"}
            assert (role, places["safe"], "export") in read  # each replay that showed it is a read
            assert all(e.user.startswith("os:") and e.province == province for e in reads)
        else:
            assert safe is None or safe["location"] is None  # counts (nation) or a sealed row
            assert not [e for e in reads if e.action == "read_secret_place"]
        assert "sealed_location" not in json.dumps(rows)  # never a sealed blob, whoever replays
    # Run by an auditor (no token): --as a supervisor never exceeds the auditor's own rights.
    monkeypatch.delenv("EOC_TOKEN")
    rows = _replayed(tmp_path, "--as", "provincial_supervisor", "--province", "QZV")
    safe = rows.get(f"centre/{places['safe']}")
    assert safe is None or safe["location"] is None


def test_diff_with_a_supervisors_token_equals_its_live_board(api: Api, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The live board unseals for a supervisor; so does the replay `diff` compares it with."""
    system = api.system
    secret_history(api)
    system.follower.wait_for(system.app.recorder.max_notification_id() or 0, timeout=30)
    cli_env(monkeypatch, system)
    token = system.signer.issue("provincial_supervisor", "QZV")
    with served(system) as url:
        assert main(["diff", "--quiet", "--live", url, "--token", token, "--with-telemetry"]) == 0, \
            capsys.readouterr().out
    assert "seen as provincial_supervisor" in capsys.readouterr().out
