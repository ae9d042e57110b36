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
