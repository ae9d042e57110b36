"""The roles table is the truth: a matrix generated from the one policy table (role × command
× own/other province × team/centre binding), the README equal to it, and the mismatches the
issue found, each tried through the HTTP API."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from eoc.app.auth import Claims, authorize
from eoc.domain.errors import Forbidden
from events.policy import CENTRE_COMMANDS, COMMANDS, POLICY, TEAM_COMMANDS, readme_section
from events.vocabulary import Role
from tests.support import scenario

ROOT = Path(__file__).resolve().parents[2]
BINDINGS = ("none", "own", "other")  # the account's team/centre: unbound, the target's, another's


def _claims(role: Role, province: str, binding: str) -> Claims:
    bound = {"none": None, "own": "T", "other": "X"}[binding]
    rule = POLICY[role]
    return Claims(sub="U-m", role=role, province=province, exp=0,
                  team=bound if rule.binding == "team" else None,
                  centre=bound if rule.binding == "centre" else None)


def _expected(role: Role, command: str, own_province: bool, binding: str) -> bool:
    rule = POLICY[role]
    if command not in rule.commands or not own_province:
        return False
    if rule.binding == "team" and command in TEAM_COMMANDS:
        return binding == "own"  # a team's account acts for its own team only (unbound: none)
    if rule.binding == "centre" and command in CENTRE_COMMANDS:
        return binding != "other"  # a centre account bound to another centre may not
    return True


MATRIX = [(r, c, own, b) for r, c, own, b in itertools.product(POLICY, COMMANDS, (True, False), BINDINGS)
          if not (POLICY[r].national and not own)]


@pytest.mark.parametrize("role,command,own,binding", MATRIX,
                         ids=[f"{r}-{c}-{'own' if o else 'other'}-{b}" for r, c, o, b in MATRIX])
def test_role_command_province_binding_matrix(role, command, own, binding):
    province = "IR" if POLICY[role].national else "QZV"
    target = province if own else "ALB"
    if POLICY[role].national:
        target = "QZV"  # national roles act on a province's things; the table gives them no command
    claims = _claims(role, province, binding)
    allowed = _expected(role, command, own and not POLICY[role].national, binding)
    try:
        authorize(claims, command, target, team_id="T" if command in TEAM_COMMANDS else None,
                  centre_id="T" if command in CENTRE_COMMANDS else None)
        got = True
    except Forbidden:
        got = False
    assert got is allowed


def test_the_readme_roles_table_is_the_policy_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    between = readme.split("<!-- roles:begin (generated from events/policy.py) -->\n", 1)[1].split("\n<!-- roles:end -->")[0]
    assert between == readme_section(), "the README is stale: python -m events.policy"


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
