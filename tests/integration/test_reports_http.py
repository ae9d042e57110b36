"""Reports for any period, in the CLI and over HTTP: a four-month report (like the ones the
provincial directors publish) answers the same over HTTP as `eoc report --format json`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from eoc.cli import main
from tests.support.audit import cli_env, with_history
from tests.support.system import Api

FOUR_MONTHS = {"from": "1 Mehr 1403", "to": "30 Dey 1403"}  # 2024-09-22 .. 2025-01-19


@pytest.fixture
def history_system(make_system: Any) -> Any:
    system = make_system()
    # Five months of life (about one event every 1.4 hours), through Mehr, Aban, Azar and Dey.
    with_history(system, 2800, seed=47, start=datetime(2024, 9, 12, tzinfo=UTC), mean_gap_s=5500)
    return system


def test_four_month_report_over_http_equals_the_cli(history_system: Any, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    api = Api(history_system)
    r = api.http.get("/api/v1/reports", params=FOUR_MONTHS, headers=api.token("national_eoc", "IR"))
    assert r.status_code == 200, r.text
    over_http = r.json()
    cli_env(monkeypatch, history_system)
    assert main(["report", "--quiet", "--start", FOUR_MONTHS["from"], "--end", FOUR_MONTHS["to"],
                 "--format", "json"]) == 0
    from_cli = json.loads(capsys.readouterr().out)
    assert over_http == from_cli
    period = over_http["period"]
    assert (period["kind"], period["first_day"], period["last_day"]) == ("range", "2024-09-22", "2025-01-19")
    assert period["label"] == "1 Mehr 1403 to 30 Dey 1403"
    nation = over_http["nation"]
    assert nation["calls"] > 300 and nation["dispatches"] > 10 and nation["admissions"] > 0
    assert nation["intervention_share"] == round(nation["interventions"] / nation["calls"], 4)
    assert nation["call_to_dispatch"]["n"] > 0 and nation["call_to_dispatch"]["mean_s"] > 0
    assert nation["dispatch_to_scene"]["n"] > 0
    assert over_http["key_figures_check"]["equal"] and over_http["key_figures_check"]["days_checked"] > 100
    assert sum(r["calls"] for r in over_http["by_province"]) == nation["calls"]
    # The same period written as ISO days, and as one period text: the same counts.
    iso_days = api.http.get("/api/v1/reports", params={"from": "2024-09-22", "to": "2025-01-19"},
                            headers=api.token("auditor", "IR")).json()
    assert iso_days["nation"] == nation
    text = api.http.get("/api/v1/reports", params={"period": "1403-07-01..1403-10-30"},
                        headers=api.token("auditor", "IR")).json()
    assert text["nation"] == nation
    # A provincial supervisor reads their own province, the CLI's --province the same.
    qzv = api.http.get("/api/v1/reports", params=FOUR_MONTHS, headers=api.token("provincial_supervisor", "QZV"))
    assert qzv.status_code == 200 and {r["province"] for r in qzv.json()["by_province"]} == {"QZV"}
    assert main(["report", "--quiet", "--period", "1 Mehr 1403 to 30 Dey 1403", "--province", "QZV",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == qzv.json()


def test_who_may_read_reports(history_system: Any) -> None:
    api = Api(history_system)
    for role, province, status in (("dispatcher", "QZV", 403), ("call_taker", "QZV", 403),
                                   ("centre_staff", "QZV", 403)):
        r = api.http.get("/api/v1/reports", params={"period": "1403-07"}, headers=api.token(role, province))
        assert r.status_code == status and r.json()["error"] == "forbidden"
    r = api.http.get("/api/v1/reports", params={"period": "1403-07", "province": "ALB"},
                     headers=api.token("provincial_supervisor", "QZV"))
    assert r.status_code == 403 and r.json()["error"] == "wrong_province"
    r = api.http.get("/api/v1/reports", params={"from": "1 Mehr 1403"}, headers=api.token("auditor", "IR"))
    assert r.status_code == 422 and r.json()["error"] == "invalid_command"
    r = api.http.get("/api/v1/reports", params={"from": "10 Azar 1403", "to": "1 Mehr 1403"},
                     headers=api.token("auditor", "IR"))
    assert r.status_code == 422 and "before it starts" in r.json()["reason"]
