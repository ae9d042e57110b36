"""Rosters (برنامه نوبت‌کاری): the supervisor's shift pattern per county; a shift outside it is
refused; the board shows planned versus actual teams per shift and county."""

from __future__ import annotations

from typing import Any

from projections.views import summary
from tests.support.scenario import IN_QAZVIN
from tests.support.system import Api


def team_in(api: Api, county: str, name: str) -> str:
    return api.ok("/teams", {"province": "QZV", "county": county, "name": name, "home": IN_QAZVIN})["team_id"]


def rows(api: Api) -> dict[str, Any]:
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id(), timeout=30)
    return api.system.follower.snapshot()[1]


def test_roster_refusal(api: Api) -> None:
    """Qazvin: morning and evening in every county, night only in the capital."""
    capital, abyek = team_in(api, "Qazvin", "QZV-1"), team_in(api, "Abyek", "ABY-1")
    api.ok(f"/teams/{abyek}/shift/start", {"shift": "night", "members": ["a"]})  # no roster yet: anything goes
    api.ok(f"/teams/{abyek}/shift/end", {})
    r = api.post("/rosters", {"province": "QZV", "county": "*", "shifts": {"morning": 1, "evening": 1}},
                 role="dispatcher")
    assert r.status_code == 403  # only the supervisor sets the roster
    api.ok("/rosters", {"province": "QZV", "county": "*", "shifts": {"morning": 1, "evening": 1}})
    api.ok("/rosters", {"province": "QZV", "county": "Qazvin", "shifts": {"morning": 2, "evening": 1, "night": 1}})
    assert api.stored().count("RosterSet") == 2

    before = api.stored()
    r = api.post(f"/teams/{abyek}/shift/start", {"shift": "night", "members": ["a", "b"]}, role="dispatcher")
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "outside_roster" and "no night shift in Abyek" in body["reason"]
    assert body["roster"] == {"morning": 1, "evening": 1}
    assert api.stored() == before
    api.ok(f"/teams/{capital}/shift/start", {"shift": "night", "members": ["a", "b"]}, role="dispatcher")
    api.ok(f"/teams/{abyek}/shift/start", {"shift": "evening", "members": ["c", "d"]}, role="dispatcher")

    board = rows(api)
    assert board["roster/QZV/Qazvin"]["shifts"] == {"morning": 2, "evening": 1, "night": 1}
    table = {(r["county"], r["shift"]): (r["planned"], r["actual"]) for r in summary(board, "2099-01-01T00:00:00.000Z")["rosters"]}
    assert table == {("Qazvin", "morning"): (2, 0), ("Qazvin", "evening"): (1, 0), ("Qazvin", "night"): (1, 1),
                     ("Abyek", "morning"): (1, 0), ("Abyek", "evening"): (1, 1)}


def test_a_bad_roster_stores_nothing(api: Api) -> None:
    for body in ({"province": "QZV", "county": "Qazvin", "shifts": {"siesta": 1}},
                 {"province": "QZV", "county": "Qazvin", "shifts": {"night": -1}},
                 {"province": "QZV", "county": "Qazvin", "shifts": {"night": 1}, "exercise": True}):
        r = api.post("/rosters", body)
        assert r.status_code == 422, body
    assert api.stored() == []
