"""Drills never lie about reality: a real team in a drill (مانور) shows "in drill" on the real
board, is not available for real work, and a real dispatch names the drill or releases it."""

from __future__ import annotations

from typing import Any

from projections.recommend import recommend
from projections.views import summary
from tests.support.scenario import IN_QAZVIN, QZV, team
from tests.support.system import Api


def board(api: Api) -> dict[str, Any]:
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id(), timeout=30)
    return api.system.follower.snapshot()[1]


def test_drill_isolation(api: Api) -> None:
    real_team = team(api)
    drill_incident = api.ok("/incidents", {**QZV, "route": "police", "category": "spouse_abuse", "priority": "urgent",
                                           "location": IN_QAZVIN, "exercise": True})["incident_id"]
    real_incident = api.ok("/incidents", {**QZV, "route": "police", "category": "suicide", "priority": "urgent",
                                          "location": IN_QAZVIN})["incident_id"]
    api.ok(f"/teams/{real_team}/dispatch", {"incident_id": drill_incident}, role="dispatcher")
    api.ok(f"/teams/{real_team}/status", {"status": "en_route"}, role="dispatcher")

    rows = board(api)
    assert rows[f"team/{real_team}"]["status"] == "in_drill"
    assert rows[f"team/{real_team}"]["drill_incident_id"] == drill_incident
    assert rows[f"drill/team/{real_team}"]["status"] == "en_route"
    real_view = summary(rows, "2099-01-01T00:00:00.000Z")
    assert real_view["team_status"].get("available", 0) == 0 and real_view["team_status"]["in_drill"] == 1
    assert not rows[f"incident/{real_incident}"]["teams"]  # the real incident has no team
    # Not recommended for real work: the dispatcher's ranking says it is taken (by the drill).
    ranked = {r["team_id"]: r for r in recommend(rows, real_incident, "2099-01-01T00:00:00.000Z")["teams"]}
    assert not ranked[real_team]["eligible"]
    assert any(r["code"] == "busy" and r["status"] == "in_drill" for r in ranked[real_team]["reasons"])

    before = api.stored()
    r = api.post(f"/teams/{real_team}/dispatch", {"incident_id": real_incident}, role="dispatcher")
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "team_in_drill" and "drill" in body["reason"] and drill_incident in body["reason"]
    assert api.stored() == before

    api.ok(f"/teams/{real_team}/dispatch", {"incident_id": real_incident, "release_drill": True}, role="dispatcher")
    assert api.stored()[len(before):] == ["TeamReleasedFromDrill", "TeamDispatched"]
    rows = board(api)
    assert rows[f"team/{real_team}"]["status"] == "dispatched"
    assert rows[f"team/{real_team}"]["incident_id"] == real_incident and not rows[f"team/{real_team}"]["in_drill"]
    assert rows[f"drill/team/{real_team}"]["status"] == "available"  # it left the drill
    assert rows[f"incident/{real_incident}"]["teams"] == [real_team]


def test_a_team_back_from_its_drill_is_available_on_the_real_board(api: Api) -> None:
    real_team = team(api)
    drill_incident = api.ok("/incidents", {**QZV, "route": "police", "category": "spouse_abuse", "priority": "urgent",
                                           "location": IN_QAZVIN, "exercise": True})["incident_id"]
    api.ok(f"/teams/{real_team}/dispatch", {"incident_id": drill_incident}, role="dispatcher")
    assert board(api)[f"team/{real_team}"]["status"] == "in_drill"
    api.ok(f"/teams/{real_team}/status", {"status": "available"}, role="dispatcher")
    assert board(api)[f"team/{real_team}"]["status"] == "available"
