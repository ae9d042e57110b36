"""The national EOC and the auditors see secret houses only as per-province counts, with small
cells (fewer than 3 places) suppressed — on every channel they have: the API's boards and
summary, the websocket (snapshot and deltas), replay --as, the exchange feeds, the reports,
personal-detail unsealing and refusals. (The dashboard's display of those counts is
tests/support/browser.py::test_secret_places_are_on_the_map_only_for_those_who_may_see_them
and test_the_wall_screen: ``[data-secret-province]`` rows, never a house.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import scenario
from tests.support.bridge import Dashboard
from tests.support.browser import live

HOUSES_QZV = [("Omid-House-QZV-1", 36.111111, 50.111111), ("Omid-House-QZV-2", 36.222222, 50.222222),
              ("Omid-House-QZV-3", 36.333333, 50.333333)]
HOUSE_ALB = ("Mehr-House-ALB-1", 35.844444, 50.944444)
NATIONAL = [("national_eoc", "IR"), ("auditor", "IR")]


@pytest.fixture
def store() -> str:
    return "sqlite"


def houses(api: Any) -> dict[str, Any]:
    ids = []
    for name, lat, lon in HOUSES_QZV:
        ids.append(api.ok("/centres", {**scenario.QZV, "name": name, "kind": "safe_house", "capacity": 3,
                                       "location": {"lat": lat, "lon": lon}})["centre_id"])
    name, lat, lon = HOUSE_ALB
    alb = api.ok("/centres", {"province": "ALB", "county": "Karaj", "name": name, "kind": "health_house",
                              "capacity": 2, "location": {"lat": lat, "lon": lon}}, province="ALB")["centre_id"]
    client = api.ok(f"/centres/{ids[0]}/admissions", {"route": "judiciary", "client": {"name": "Leila"}},
                    role="centre_staff")["client_id"]
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id())
    return {"qzv": ids, "alb": alb, "client": client}


def secret_text(ids: dict[str, Any]) -> list[str]:
    out = [*ids["qzv"], ids["alb"], ids["client"], "Leila", HOUSE_ALB[0], str(HOUSE_ALB[1])]
    for name, lat, lon in HOUSES_QZV:
        out += [name, str(lat), str(lon)]
    return out


def assert_counts_only(rows: dict[str, Any], ids: dict[str, Any], who: str) -> None:
    text = json.dumps(rows, ensure_ascii=False)
    leaked = [s for s in secret_text(ids) if s in text]
    assert not leaked, f"{who} got {leaked}"
    assert rows["secret_places/QZV"] == {"province": "QZV", "places": 3, "capacity": 9, "occupied": 1,
                                         "suppressed": False}, who
    assert rows["secret_places/ALB"] == {"province": "ALB", "places": None, "capacity": None, "occupied": None,
                                         "suppressed": True}, who
    assert not [k for k, r in rows.items() if isinstance(r, dict) and r.get("secret") and not k.startswith("secret_places/")]


def test_the_nation_and_auditors_see_secret_houses_only_as_counts_on_every_channel(api, bridge, monkeypatch, capsys):
    from eoc.cli import main

    ids = houses(api)
    handle = bridge()
    for role, province in NATIONAL:
        headers = api.token(role, province, sub=f"U-{role}")
        who = f"{role} (api)"
        assert_counts_only(api.http.get("/api/v1/boards", headers=headers).json()["rows"], ids, who)
        summary = api.http.get("/api/v1/boards/summary", headers=headers)
        assert summary.status_code == 200 and not [s for s in secret_text(ids) if s in summary.text], who
        # The websocket: a snapshot, then deltas as a client is discharged from a counted house.
        dash = Dashboard(handle, api.system.signer.issue(role, province, sub=f"U-{role}"))
        assert dash.frame()["type"] == "snapshot"
        assert_counts_only(dash.rows, ids, f"{role} (snapshot)")
        dash.close()
        # Exchange feeds (the national EOC reads them; never a secret place for anyone) and reports.
        for path in ("/exchange/availability", "/exchange/incidents", "/exchange/alerts", "/reports?period=1405"):
            r = api.http.get(f"/api/v1{path}", headers=headers)
            assert r.status_code in (200, 403), (path, r.text)
            assert not [s for s in secret_text(ids) if s in r.text], (who, path)
        # Unsealing and its refusal: the standard shape, nothing of the house or the client.
        for path in (f"/centres/{ids['qzv'][0]}/clients/{ids['client']}", f"/centres/{ids['qzv'][0]}/capacity"):
            r = api.http.get(f"/api/v1{path}", headers=headers)
            assert r.status_code in (403, 405) and "error" in r.json()
            assert not [s for s in secret_text(ids) if s in r.text and s not in path], (who, path, r.text)
    watching = Dashboard(handle, api.system.signer.issue("national_eoc", "IR", sub="U-n"))
    assert watching.frame()["type"] == "snapshot"
    api.ok(f"/centres/{ids['qzv'][0]}/discharges", {"client_id": ids["client"], "reason": "returned_home"},
           role="centre_staff")
    watching.until(lambda rows: rows.get("secret_places/QZV", {}).get("occupied") == 0)
    raw = "\n".join(watching.raw)
    assert not [s for s in secret_text(ids) if s in raw], "a delta told the nation about a house"
    watching.close()
    # replay --as: the same counts, nothing more.
    s = api.system.settings
    monkeypatch.setenv("EOC_DATA_DIR", str(s.data_dir))
    monkeypatch.setenv("EOC_TOKEN_SECRET", s.token_secret.decode())
    for role, _ in NATIONAL:
        capsys.readouterr()
        assert main(["replay", "--as", role, "--province", "IR", "--format", "json", "--quiet"]) == 0
        rows = json.loads(capsys.readouterr().out)["rows"]
        assert rows["secret_places/QZV"]["places"] == 3 and rows["secret_places/ALB"]["suppressed"] is True
        assert not [x for x in secret_text(ids) if x in json.dumps(rows, ensure_ascii=False)], role


@pytest.mark.browser
def test_the_national_dashboard_shows_secret_houses_as_counts_per_province(embedded, page):
    """In Chromium: the national EOC's occupancy panel has one row per province of secret
    houses — a count for Qazvin's three, "fewer than 3" for Alborz's one — and no house."""
    ids = {"qzv": [], "alb": None}
    for name, lat, lon in HOUSES_QZV:
        ids["qzv"].append(embedded.post("/centres", {**scenario.QZV, "name": name, "kind": "safe_house", "capacity": 3,
                                                     "location": {"lat": lat, "lon": lon}})["centre_id"])
    name, lat, lon = HOUSE_ALB
    ids["alb"] = embedded.post("/centres", {"province": "ALB", "county": "Karaj", "name": name, "kind": "health_house",
                                            "capacity": 2, "location": {"lat": lat, "lon": lon}},
                               province="ALB")["centre_id"]
    live(page, embedded.url("national_eoc", "IR"))
    page.wait_for_selector("#occupancy [data-secret-province='QZV']", state="attached", timeout=10_000)
    page.wait_for_selector("#occupancy [data-secret-province='ALB']", state="attached", timeout=10_000)
    qzv = page.inner_text("#occupancy [data-secret-province='QZV']")
    alb = page.inner_text("#occupancy [data-secret-province='ALB']")
    assert "۳ مکان" in qzv and "۰/۹" in qzv, qzv  # three places, none of their nine beds taken
    assert "کمتر از ۳" in alb and "مکان:" in alb, alb
    html = page.content()
    for house in [*ids["qzv"], ids["alb"]]:
        assert house not in html
    for name, lat, _ in [*HOUSES_QZV, HOUSE_ALB]:
        assert name not in html and str(lat) not in html
