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

from typing import Any

import pytest

from .scenario import IN_QAZVIN, QZV
from .test_bridge import ALB, IN_KARAJ, Dashboard, bridge, loop_thread  # noqa: F401 (fixtures)

SAFE_AT = {"lat": 36.123456, "lon": 50.654321}
HEALTH_AT = {"lat": 36.234567, "lon": 49.876543}
SAFE_NAME = "Khaneh-Omid-QZV-7731"
HEALTH_NAME = "Khaneh-Salamat-QZV-4412"
CLIENTS = ("CL-HELD-7f3a9c", "CL-DIRECT-2b8e41", "CL-THIRD-91d0aa", "CL-DRILL-55c3e7")
PERSONAL = "Maryam-Testi-0912"

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


def secret_history(api) -> dict[str, Any]:
    """Houses registered, clients admitted, held, transferred, a house full, a drill admission."""
    centre = api.ok("/centres", {**QZV, "name": "Qazvin crisis centre", "kind": "residential_level_1",
                                 "capacity": 10, "location": IN_QAZVIN})["centre_id"]
    safe = api.ok("/centres", {**QZV, "name": SAFE_NAME, "kind": "safe_house", "capacity": 2,
                               "location": SAFE_AT})["centre_id"]
    health = api.ok("/centres", {**QZV, "name": HEALTH_NAME, "kind": "health_house", "capacity": 3,
                                 "location": HEALTH_AT})["centre_id"]
    staff = {"role": "centre_staff"}
    held, direct, third, drill = CLIENTS
    api.ok(f"/centres/{centre}/admissions", {"route": "line_123", "client_id": held,
                                             "client": {"name": PERSONAL, "age": 24}}, **staff)
    api.ok(f"/centres/{centre}/holding", {"client_id": held, "days": 15, "destination_kind": "safe_house"}, **staff)
    api.ok(f"/centres/{centre}/transfers", {"client_id": held, "to_centre_id": safe,  # before the holding ends:
                                            "override_reason": "the supervisor moves her at once"})  # an override
    api.ok(f"/centres/{health}/admissions", {"route": "police", "client_id": direct}, **staff)
    api.ok(f"/centres/{safe}/admissions", {"route": "judiciary", "client_id": third}, **staff)  # 2 of 2: alert
    api.ok(f"/centres/{health}/admissions", {"route": "self", "client_id": drill, "exercise": True}, **staff)
    return {"centre": centre, "safe": safe, "health": health}


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
