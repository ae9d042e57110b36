"""Every kind of bad input gets a 4xx with a clear reason, and stores nothing.

Runs against SQLite and against a real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import uuid

import pytest

from tests.support.scenario import IN_QAZVIN, QZV, centre, classified_call, incident, team


def refused(api, path, body, status, error, *, reason_has="", **kw):
    before = api.stored()
    r = api.post(path, body, **kw)
    assert r.status_code == status, r.text
    answer = r.json()
    assert answer["error"] == error, answer
    assert answer["reason"] and reason_has in answer["reason"], answer
    assert api.stored() == before, "a refused command stored an event"
    return answer


def test_malformed_json_is_400_and_stores_nothing(api):
    before = api.stored()
    r = api.http.post("/api/v1/calls", content=b'{"province": "QZV",', headers={
        **api.token(), "content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"error": "malformed_json", "reason": "the body is not valid JSON"}
    assert api.stored() == before


def test_a_body_that_is_not_an_object_is_refused(api):
    refused(api, "/calls", ["QZV"], 422, "invalid_command")


@pytest.mark.parametrize("path, body", [
    ("/teams", {**QZV, "name": "T", "home": {"lat": 48.85, "lon": 2.35}}),  # Paris
    ("/centres", {**QZV, "name": "C", "kind": "outpatient", "capacity": 1, "location": {"lat": 24.0, "lon": 50.0}}),
    ("/incidents", {**QZV, "route": "police", "category": "child_abuse", "priority": "high",
                    "location": {"lat": 36.0, "lon": 70.0}}),
])
def test_coordinates_outside_iran_are_refused(api, path, body):
    answer = refused(api, path, body, 422, "invalid_command", reason_has="outside Iran")
    assert any("lon" in f for f in answer["fields"])


def test_a_position_report_outside_iran_is_refused(api):
    team_id = team(api)
    refused(api, f"/teams/{team_id}/position", {"position": {"lat": 41.0, "lon": 29.0}},
            422, "invalid_command", reason_has="outside Iran")


@pytest.mark.parametrize("path, body, what", [
    ("/calls/{id}/classify", {"category": "suicide", "priority": "urgent"}, "call"),
    ("/incidents/{id}/close", {"outcome": "resolved_on_scene"}, "incident"),
    ("/teams/{id}/status", {"status": "en_route"}, "team"),
    ("/centres/{id}/admissions", {"route": "self"}, "centre"),
])
def test_unknown_ids_are_404(api, path, body, what):
    unknown = str(uuid.uuid4())
    answer = refused(api, path.format(id=unknown), body, 404, "not_found", reason_has=what)
    assert answer["id"] == unknown


def test_dispatch_to_an_unknown_incident_is_404(api):
    team_id = team(api)
    refused(api, f"/teams/{team_id}/dispatch", {"incident_id": str(uuid.uuid4())}, 404, "not_found",
            reason_has="incident")


def test_an_id_of_the_wrong_kind_is_404(api):
    team_id = team(api)
    refused(api, f"/centres/{team_id}/admissions", {"route": "self"}, 404, "not_found", reason_has="not a centre")


def test_unknown_category_and_province_are_422(api):
    refused(api, "/calls", {"province": "XXX", "county": "Q"}, 422, "invalid_command", reason_has="unknown province")
    call_id = api.ok("/calls", QZV)["call_id"]
    refused(api, f"/calls/{call_id}/classify", {"category": "weather", "priority": "urgent"}, 422,
            "invalid_command", reason_has="category")


def test_a_full_centre_declines_and_records_the_unmet_demand(api):
    centre_id = centre(api, capacity=1)
    api.ok(f"/centres/{centre_id}/admissions", {"route": "police"})
    before = api.stored()
    r = api.post(f"/centres/{centre_id}/admissions", {"route": "judiciary"})
    assert r.status_code == 409
    answer = r.json()
    assert answer["error"] == "over_capacity" and answer["declined_recorded"] is True
    assert "full" in answer["reason"]
    assert api.stored() == before + ["AdmissionDeclined"], "only the decline is stored, no admission"


def test_a_transfer_into_a_full_place_moves_nobody(api):
    source = centre(api, capacity=2)
    house = centre(api, capacity=1, kind="safe_house", name="House")
    api.ok(f"/centres/{house}/admissions", {"route": "other_centre"})
    client = api.ok(f"/centres/{source}/admissions", {"route": "line_123"})["client_id"]
    refused(api, f"/centres/{source}/transfers", {"client_id": client, "to_centre_id": house,
                                                  "override_reason": "the holding rule is overridden here"},
            409, "over_capacity", reason_has="nothing was moved")
    assert "HoldingRuleOverridden" not in api.stored()  # the override went with the refused move


def test_capacity_cannot_drop_below_occupancy(api):
    centre_id = centre(api, capacity=3)
    for _ in range(2):
        api.ok(f"/centres/{centre_id}/admissions", {"route": "self"})
    refused(api, f"/centres/{centre_id}/capacity", {"capacity": 1}, 409, "over_capacity", reason_has="holds 2")


@pytest.mark.parametrize("moves, bad, hint", [
    ([], "on_scene", "available"),  # available -> on_scene without a dispatch
    (["dispatch"], "at_centre", "dispatched"),
    (["dispatch", "en_route", "on_scene", "transporting"], "available", "transporting"),
    (["dispatch"], "dispatched", "dispatch command"),
    ([], "off_duty", "ending its shift"),
])
def test_illegal_status_transitions_are_409(api, moves, bad, hint):
    team_id = team(api)
    for move in moves:
        if move == "dispatch":
            api.ok(f"/teams/{team_id}/dispatch", {"incident_id": incident(api)})
        else:
            api.ok(f"/teams/{team_id}/status", {"status": move})
    answer = refused(api, f"/teams/{team_id}/status", {"status": bad}, 409, "illegal_transition", reason_has=hint)
    assert answer["requested"] == bad


def test_a_team_is_on_one_incident_at_a_time(api):
    team_id = team(api)
    first, second = incident(api), incident(api)
    api.ok(f"/teams/{team_id}/dispatch", {"incident_id": first})
    answer = refused(api, f"/teams/{team_id}/dispatch", {"incident_id": second}, 409, "team_busy")
    assert answer["incident_id"] == first


def test_an_off_duty_team_cannot_be_dispatched(api):
    team_id = team(api, on_shift=False)
    refused(api, f"/teams/{team_id}/dispatch", {"incident_id": incident(api)}, 409, "team_off_duty")


def test_a_closed_incident_takes_no_team(api):
    team_id, incident_id = team(api), incident(api)
    api.ok(f"/incidents/{incident_id}/close", {"outcome": "false_report"}, role="dispatcher")
    refused(api, f"/teams/{team_id}/dispatch", {"incident_id": incident_id}, 409, "incident_not_open")


def test_wrong_province_is_403(api):
    refused(api, "/calls", QZV, 403, "wrong_province", role="call_taker", province="THR")


def test_another_provinces_id_is_answered_like_an_unknown_id(api):
    """A 403 for an existing id and a 404 for an unknown one would confirm that it exists."""
    centre_id, unknown = centre(api), str(uuid.uuid4())
    there = refused(api, f"/centres/{centre_id}/admissions", {"route": "self"}, 404, "not_found",
                    role="centre_staff", province="ALB")
    nowhere = refused(api, f"/centres/{unknown}/admissions", {"route": "self"}, 404, "not_found",
                      role="centre_staff", province="ALB")
    assert there["reason"].replace(centre_id, "X") == nowhere["reason"].replace(unknown, "X")
    assert set(there) == set(nowhere)


def test_wrong_role_is_403(api):
    call_id = classified_call(api)
    answer = refused(api, f"/calls/{call_id}/escalate", {"location": IN_QAZVIN}, 403, "forbidden",
                     reason_has="team may not", role="team")
    assert "call_taker" in answer["allowed"]
    refused(api, "/calls", QZV, 403, "forbidden", role="national_eoc", province="IR")
    refused(api, "/centres", {**QZV, "name": "C", "kind": "outpatient", "capacity": 0, "location": IN_QAZVIN},
            403, "forbidden", role="auditor", province="IR")


def test_a_team_token_acts_only_for_its_own_team(api):
    mine, other = team(api), team(api, name="QZV-2")
    api.ok(f"/teams/{mine}/check-in", {}, role="team", team=mine)
    refused(api, f"/teams/{other}/check-in", {}, 403, "forbidden", role="team", team=mine)


def test_missing_and_forged_tokens_are_401(api):
    before = api.stored()
    r = api.http.post("/api/v1/calls", json=QZV)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    forged = api.token()["Authorization"][:-4] + "AAAA"
    r = api.http.post("/api/v1/calls", json=QZV, headers={"Authorization": forged})
    assert r.status_code == 401 and "signature" in r.json()["reason"]
    assert api.stored() == before


def test_call_rules(api):
    call_id = api.ok("/calls", QZV)["call_id"]
    refused(api, f"/calls/{call_id}/counsel", {"services": ["counselling"], "duration_s": 300}, 409,
            "call_state", reason_has="classify")
    api.ok(f"/calls/{call_id}/classify", {"category": "suicide", "priority": "urgent"})
    api.ok(f"/calls/{call_id}/escalate", {"location": IN_QAZVIN})
    refused(api, f"/calls/{call_id}/escalate", {"location": IN_QAZVIN}, 409, "call_state", reason_has="already")
