"""The mismatches between roles and commands that the identity issue found, each tried through
the HTTP API (the matrix itself, from the one policy table, is tests/unit/test_policy_matrix.py)."""

from __future__ import annotations

import pytest

from tests.support import scenario


@pytest.fixture
def store() -> str:
    return "sqlite"


def test_the_mismatches_found_are_refused_over_http(api):
    team = scenario.team(api)
    # Centre staff may not open incidents.
    r = api.post("/incidents", {**scenario.QZV, "route": "self", "category": "runaway", "priority": "normal",
                                "location": {"lat": 36.27, "lon": 50.0}}, role="centre_staff")
    assert r.status_code == 403
    # A dispatcher may not report a team's position nor check in for it (that would clear its alarm).
    assert api.post(f"/teams/{team}/position", {"position": {"lat": 36.27, "lon": 50.0}}, role="dispatcher").status_code == 403
    assert api.post(f"/teams/{team}/check-in", {}, role="dispatcher").status_code == 403
    assert api.post(f"/teams/{team}/check-in", {}, role="team", team=team).status_code == 200
    # A provincial role cannot be issued for IR (and so cannot read every province).
    with pytest.raises(ValueError):
        api.system.signer.issue("provincial_supervisor", "IR")
    # No transfer into another province's place; the refusal names no secret place and, like any
    # id of another province, answers as an unknown id would (it must not confirm the place exists).
    here = scenario.centre(api)
    there = api.ok("/centres", {"province": "ALB", "county": "Karaj", "name": "Karaj hidden safe house",
                                "kind": "safe_house", "capacity": 4, "location": {"lat": 35.84, "lon": 50.94}},
                   province="ALB")["centre_id"]
    client = api.ok(f"/centres/{here}/admissions", {"route": "self"}, role="centre_staff")["client_id"]
    r = api.post(f"/centres/{here}/transfers", {"client_id": client, "to_centre_id": there}, role="centre_staff")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert "Karaj hidden safe house" not in r.text and "35.84" not in r.text
    # A client id can never name a place's key.
    r = api.post(f"/centres/{here}/admissions", {"route": "self", "client_id": f"place:{there}",
                                                 "client": {"name": "x"}}, role="centre_staff")
    assert r.status_code == 422
    assert api.system.keyring.get(f"place:{there}") is not None


def test_replay_as_never_exceeds_the_auditors_rights(api, monkeypatch, capsys):
    import json

    from eoc.cli import main

    house = scenario.centre(api, kind="safe_house", capacity=3)
    client = api.ok(f"/centres/{house}/admissions", {"route": "judiciary"}, role="centre_staff")["client_id"]
    s = api.system.settings
    monkeypatch.setenv("EOC_DATA_DIR", str(s.data_dir))
    monkeypatch.setenv("EOC_TOKEN_SECRET", s.token_secret.decode())
    assert main(["replay", "--as", "centre_staff", "--province", "QZV", "--format", "json", "--quiet"]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out)["rows"]
    assert client not in out and f"centre/{house}" not in rows  # no client ids, no house row
    replayed = api.system.access_log.entries(action="replay")
    assert replayed and json.loads(replayed[-1].detail)["as_role"] == "centre_staff"
