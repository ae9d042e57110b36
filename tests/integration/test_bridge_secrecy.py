"""Secret places stay secret on the websocket, checked on the raw text of every frame.

A safe house and a health house are registered in Qazvin with known coordinates and names,
clients with known pseudonymous ids are admitted, held and transferred into them (also in a
drill), and one house fills up (an alert). Then, for every role, all the frames a dashboard
received while it happened (deltas) and the snapshot of a dashboard that connects afterwards
must contain the location, the names and the client ids only if the role may see them:
centre staff and the provincial supervisor of Qazvin. The sealed location and personal
details never appear at all.
"""

from __future__ import annotations

import pytest

from tests.support.bridge import ALB, IN_KARAJ, Dashboard
from tests.support.scenario import IN_QAZVIN, QZV
from tests.support.secret_history import CLIENTS, HEALTH_AT, HEALTH_NAME, PERSONAL, SAFE_AT, SAFE_NAME, secret_history

# (role, token province, may see Qazvin's secret places)
VIEWERS = [
    ("call_taker", "QZV", False),
    ("dispatcher", "QZV", False),
    ("team", "QZV", False),
    ("centre_staff", "QZV", True),
    ("provincial_supervisor", "QZV", True),
    ("provincial_supervisor", "ALB", False),
    ("centre_staff", "ALB", False),
    ("national_eoc", "IR", False),
    ("auditor", "IR", False),
]


@pytest.fixture
def store() -> str:
    return "sqlite"


def markers(api) -> dict[str, str]:
    """A visible change in each province after the secret history: frames come in order, so a
    dashboard that has seen its marker has seen every frame about the houses before it."""
    return {
        "QZV": api.ok("/teams", {**QZV, "name": "MARKER-QZV", "home": IN_QAZVIN})["team_id"],
        "ALB": api.ok("/teams", {**ALB, "name": "MARKER-ALB", "home": IN_KARAJ}, province="ALB")["team_id"],
    }


def wait_for_markers(dash: Dashboard, province: str, marks: dict[str, str]) -> None:
    wanted = [marks[p] for p in (marks if province == "IR" else [province])]
    dash.until(lambda rows: all(f"team/{m}" in rows for m in wanted))


def test_every_role_gets_only_the_secrets_it_may_see(system, api, bridge):
    handle = bridge()
    tokens = {(role, prov): system.signer.issue(role, prov, sub=f"user-{role}-{prov}",
                                                **({"team": "any-team"} if role == "team" else {}))
              for role, prov, _ in VIEWERS}
    watching = {v: Dashboard(handle, tokens[v]) for v in tokens}  # connected before: get deltas
    for dash in watching.values():
        assert dash.frame()["type"] == "snapshot"

    ids = secret_history(api)
    marks = markers(api)
    sealed = system.follower.snapshot()[1][f"centre/{ids['safe']}"]["sealed_location"]
    sealed_health = system.follower.snapshot()[1][f"centre/{ids['health']}"]["sealed_location"]
    assert sealed and sealed_health

    late = {v: Dashboard(handle, tokens[v]) for v in tokens}  # connected after: get a snapshot
    for (role, prov, allowed) in VIEWERS:
        for how, dash in (("deltas", watching[(role, prov)]), ("snapshot", late[(role, prov)])):
            wait_for_markers(dash, prov, marks)
            raw = "\n".join(dash.raw)
            who = f"{role}/{prov} ({how})"
            # Never, for anyone: the sealed tokens and personal details.
            for never in (sealed, sealed_health, PERSONAL):
                assert never not in raw, f"{who} received {never[:20]}…"
            secrets = [str(SAFE_AT["lat"]), str(SAFE_AT["lon"]), str(HEALTH_AT["lat"]), str(HEALTH_AT["lon"]),
                       SAFE_NAME, HEALTH_NAME, *CLIENTS]
            if allowed:
                missing = [s for s in secrets if s not in raw]
                assert not missing, f"{who} may see these and did not get them: {missing}"
            else:
                leaked = [s for s in secrets if s in raw]
                assert not leaked, f"{who} must not see these and got them: {leaked}"
            if prov == "IR":
                # The nation sees secret places only as counts per province; two houses are a
                # small cell (fewer than 3), so even the count is suppressed.
                assert f"centre/{ids['safe']}" not in dash.rows
                assert f"alert/centre_full/{ids['safe']}" not in dash.rows
                assert dash.rows["secret_places/QZV"] == {"province": "QZV", "places": None, "capacity": None,
                                                          "occupied": None, "suppressed": True}
            elif prov == "QZV":
                # Not hidden by province scope alone: the houses are on the board, only redacted.
                safe_row = dash.rows[f"centre/{ids['safe']}"]
                assert safe_row["occupied"] == 2 and safe_row["secret"] is True
                assert (safe_row["location"] == SAFE_AT) is allowed
                assert dash.rows[f"drill/centre/{ids['health']}"]["occupied"] == 1
                assert f"alert/centre_full/{ids['safe']}" in dash.rows
            else:
                assert f"centre/{ids['safe']}" not in dash.rows

    for dash in [*watching.values(), *late.values()]:
        dash.close()
