"""The workspaces' server side through the API: short references, repeat callers, linked
calls, danger flags (expiry, review, who sees them), call-backs, duress, held places."""

from __future__ import annotations

from uuid import uuid4

import pytest

from projections.workspace_views import flag_state
from tests.support.scenario import IN_QAZVIN, QZV, centre, classified_call, team
from tests.support.system import Api, FakeClock


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def wapi(make_system, clock) -> Api:
    return Api(make_system(clock=clock))


def _rows(api: Api, position) -> dict:
    assert api.system.follower.wait_for(position)
    return api.system.follower.snapshot()[1]


def _board(api: Api) -> dict:
    api.system.follower.wait_for(api.system.follower.position)
    # wait for the latest stored event
    last = api.system.app.recorder.max_notification_id() or 0
    assert api.system.follower.wait_for(last)
    return api.system.follower.snapshot()[1]


def test_things_get_short_references_in_log_order_and_the_api_takes_them(wapi):
    t = team(wapi)
    first = classified_call(wapi)
    i1 = wapi.ok(f"/calls/{first}/escalate", {"location": IN_QAZVIN})["incident_id"]
    second = classified_call(wapi)
    i2 = wapi.ok(f"/calls/{second}/escalate", {"location": IN_QAZVIN})["incident_id"]
    rows = _board(wapi)
    assert rows[f"incident/{i1}"]["ref"] == "QZV-0001"
    assert rows[f"incident/{i2}"]["ref"] == "QZV-0002"
    assert rows[f"team/{t}"]["ref"] == "QZV-T0001"
    # a reference in the path is the thing's id
    assert wapi.ok("/teams/QZV-T0001/dispatch", {"incident_id": i2})["team_id"] == t
    found = wapi.http.get("/api/v1/refs/QZV-0002", headers=wapi.token())
    assert found.json().get("id") == i2, found.text
    # another province's token: like an unknown reference, no id told
    r = wapi.post("/incidents/QZV-0001/close", {"outcome": "cancelled"}, province="ALB")
    assert r.status_code == 404 and i1 not in r.text and r.json()["error"] == "not_found"
    assert wapi.post("/incidents/QZV-0999/close", {"outcome": "cancelled"}).status_code == 404


def test_secret_houses_are_numbered_apart_and_hidden_from_the_nation(wapi):
    c = centre(wapi)
    h = centre(wapi, kind="safe_house", name="House")
    rows = _board(wapi)
    assert rows[f"centre/{c}"]["ref"] == "QZV-P0001"
    assert rows[f"centre/{h}"]["ref"] == "QZV-H0001"
    national = wapi.http.get("/api/v1/boards", headers=wapi.token("national_eoc", "IR")).json()["rows"]
    assert not any(k.startswith("refseq/") for k in national)
    assert "QZV-H0001" not in str(national)


def test_a_second_call_from_the_same_number_is_the_same_caller_and_shows_the_first(wapi):
    first = wapi.ok("/calls", {**QZV, "caller": {"phone": "+98 912 555 0101"}}, role="call_taker")
    wapi.ok(f"/calls/{first['call_id']}/classify", {"category": "spouse_abuse", "priority": "urgent"},
            role="call_taker")
    inc = wapi.ok(f"/calls/{first['call_id']}/escalate", {"location": IN_QAZVIN}, role="call_taker")
    _board(wapi)
    look = wapi.ok("/intake/lookup", {"phone": "0912-555-0101", "location": IN_QAZVIN}, role="call_taker")
    assert look["caller_id"] == first["caller_id"]
    assert [c["call_id"] for c in look["calls"]] == [first["call_id"]]
    assert look["calls"][0]["incident_id"] == inc["incident_id"]
    assert [i["id"] for i in look["open_incidents"]] == [inc["incident_id"]]
    assert [i["id"] for i in look["at_address"]] == [inc["incident_id"]]
    second = wapi.ok("/calls", {**QZV, "caller": {"phone": "09125550101"}}, role="call_taker")
    assert second["caller_id"] == first["caller_id"]
    other = wapi.ok("/calls", {**QZV, "caller": {"phone": "09125550102"}}, role="call_taker")
    assert other["caller_id"] != first["caller_id"]
    # link instead of a duplicate incident
    wapi.ok(f"/calls/{second['call_id']}/link", {"incident_id": inc["incident_id"]}, role="call_taker")
    rows = _board(wapi)
    assert rows[f"incident/{inc['incident_id']}"]["calls"] == [second["call_id"]]
    assert f"call/{second['call_id']}" not in rows  # handled: out of the open list
    assert wapi.stored().count("IncidentOpened") == 1
    # the national EOC never sees callers
    assert wapi.post("/intake/lookup", {"phone": "09125550101"}, role="national_eoc", province="IR").status_code == 403


def test_erasing_a_caller_unlinks_their_number(wapi):
    first = wapi.ok("/calls", {**QZV, "caller": {"phone": "09120000001"}}, role="call_taker")
    index = wapi.system.service.callers
    assert index.match("09120000001") == first["caller_id"]
    assert index.forget(first["caller_id"]) == 1
    assert index.match("09120000001") is None
    again = wapi.ok("/calls", {**QZV, "caller": {"phone": "09120000001"}}, role="call_taker")
    assert again["caller_id"] != first["caller_id"]


def test_a_danger_flag_expires_and_a_review_keeps_or_lifts_it(wapi, clock):
    flag = wapi.ok("/danger-flags", {"kinds": ["weapon", "dog"], "location": IN_QAZVIN, "county": "Qazvin",
                                     "days": 10, "review_days": 7})
    rows = _board(wapi)
    row = rows[f"danger/{flag['flag_id']}"]
    assert flag_state(row, "2026-11-23T08:00:00.000Z") == "in_force"
    assert flag_state(row, "2026-11-30T09:00:00.000Z") == "review_due"
    assert flag_state(row, "2026-12-03T08:00:00.000Z") == "expired"
    clock.advance(days=8)
    wapi.ok(f"/danger-flags/{flag['flag_id']}/review", {"decision": "keep", "days": 30})
    row = _board(wapi)[f"danger/{flag['flag_id']}"]
    assert flag_state(row, "2026-12-03T08:00:00.000Z") == "in_force"  # kept: not expired at day 10
    wapi.ok(f"/danger-flags/{flag['flag_id']}/review", {"decision": "lift"})
    assert f"danger/{flag['flag_id']}" not in _board(wapi)
    assert wapi.post(f"/danger-flags/{flag['flag_id']}/review", {"decision": "lift"}).status_code == 409


def test_danger_flags_reach_only_the_roles_of_the_policy_table(wapi):
    t = team(wapi)
    wapi.ok("/danger-flags", {"kinds": ["violent_relative"], "location": IN_QAZVIN, "county": "Qazvin"},
            role="team", team=t)
    _board(wapi)

    def sees(role, province="QZV"):
        rows = wapi.http.get("/api/v1/boards", headers=wapi.token(role, province)).json()["rows"]
        return any(k.startswith("danger/") for k in rows)

    assert sees("dispatcher") and sees("call_taker") and sees("provincial_supervisor")
    assert not sees("national_eoc", "IR") and not sees("auditor", "IR") and not sees("centre_staff")
    assert wapi.post("/danger-flags", {"kinds": ["dog"], "location": IN_QAZVIN, "county": "Qazvin"},
                     role="centre_staff").status_code == 403


def test_duress_raises_an_alarm_with_the_last_position_seen_by_the_nation(wapi, clock):
    t = team(wapi)
    clock.advance(minutes=5)
    wapi.ok(f"/teams/{t}/position", {"position": {"lat": 36.30, "lon": 50.05}}, role="team", team=t)
    wapi.ok(f"/teams/{t}/duress", {"covert": True}, role="team", team=t)
    _board(wapi)  # the alarm is folded (the follower reads the store on its own thread)
    rows = wapi.http.get("/api/v1/boards", headers=wapi.token("national_eoc", "IR")).json()["rows"]
    alarm = rows[f"alert/duress/{t}"]
    assert alarm["covert"] is True and (alarm["position"]["lat"], alarm["position"]["lon"]) == (36.30, 50.05)
    # another team's account cannot raise it for this team
    assert wapi.post(f"/teams/{t}/duress", {}, role="team", team=str(uuid4())).status_code == 403
    wapi.ok(f"/teams/{t}/duress/clear", {"note": "all well"}, role="dispatcher")
    assert f"alert/duress/{t}" not in _board(wapi)


def test_a_held_place_counts_until_it_expires_and_an_admission_takes_it(wapi, clock):
    c = centre(wapi, capacity=1)
    hold = wapi.ok(f"/centres/{c}/holds", {"minutes": 60}, role="centre_staff")
    # the only place is held: a walk-in is declined
    r = wapi.post(f"/centres/{c}/admissions", {"route": "self"}, role="centre_staff")
    assert r.status_code == 409 and r.json()["declined_recorded"] is True
    # the client it was held for takes it
    wapi.ok(f"/centres/{c}/admissions", {"route": "mobile_team", "hold_id": hold["hold_id"]}, role="centre_staff")
    rows = _board(wapi)
    assert rows[f"centre/{c}"]["holds"] == {} and rows[f"centre/{c}"]["occupied"] == 1
    # an expired hold frees its place
    c2 = centre(wapi, capacity=1)
    wapi.ok(f"/centres/{c2}/holds", {"minutes": 30}, role="centre_staff")
    assert wapi.post(f"/centres/{c2}/admissions", {"route": "self"}, role="centre_staff").status_code == 409
    clock.advance(minutes=31)
    wapi.ok(f"/centres/{c2}/admissions", {"route": "self"}, role="centre_staff")


def test_a_discharge_with_call_backs_makes_them_due_then_overdue(wapi, clock):
    c = centre(wapi)
    client = wapi.ok(f"/centres/{c}/admissions", {"route": "police"}, role="centre_staff")["client_id"]
    out = wapi.ok(f"/centres/{c}/discharges", {"client_id": client, "reason": "returned_home",
                                              "call_back_hours": [24, 72]}, role="centre_staff")
    assert len(out["follow_up_ids"]) == 2

    def states():
        body = wapi.http.get("/api/v1/follow-ups", headers=wapi.token("call_taker")).json()
        return [(f["after_hours"], f["state"]) for f in body["follow_ups"]]

    _board(wapi)
    assert states() == [(24, "scheduled"), (72, "scheduled")]
    clock.advance(hours=25)
    assert states() == [(24, "due"), (72, "scheduled")]
    clock.advance(hours=6)
    assert states() == [(24, "overdue"), (72, "scheduled")]
    wapi.ok(f"/follow-ups/{out['follow_up_ids'][0]}/done", {"reached": True}, role="call_taker")
    _board(wapi)
    assert states() == [(72, "scheduled")]


def test_a_counselled_call_can_schedule_a_call_back(wapi):
    call = classified_call(wapi)
    wapi.ok(f"/calls/{call}/counsel", {"services": ["counselling"], "duration_s": 300}, role="call_taker")
    ids = wapi.ok("/follow-ups", {"call_id": call, "after_hours": [24]}, role="call_taker")["follow_up_ids"]
    assert len(ids) == 1
    assert wapi.post("/follow-ups", {"after_hours": [24]}, role="call_taker").status_code == 422


def test_the_recommendation_endpoint_excludes_a_team_in_conflict(wapi):
    a, b = team(wapi), team(wapi, name="QZV-2", home={"lat": 36.35, "lon": 50.1})
    call = classified_call(wapi, category="family_dispute")
    inc = wapi.ok(f"/calls/{call}/escalate", {"location": IN_QAZVIN})["incident_id"]
    wapi.ok(f"/incidents/{inc}/conflicts", {"team_id": a, "reason": "relative"}, role="dispatcher")
    _board(wapi)
    rec = wapi.http.get(f"/api/v1/incidents/{inc}/recommendation", headers=wapi.token("dispatcher")).json()
    assert [t["team_id"] for t in rec["teams"]] == [b, a]
    assert not rec["teams"][1]["eligible"]
    assert wapi.http.get(f"/api/v1/incidents/{inc}/recommendation",
                         headers=wapi.token("call_taker")).status_code == 403


def test_the_intake_lookup_and_the_call_backs_are_bounded_and_paged(wapi, clock):
    """Every list a workspace reads is bounded: the caller's history and the flags at an address
    (the newest first, with totals), the call-backs by pages."""
    phone = "09125550077"
    calls = []
    for _ in range(4):
        call = str(uuid4())
        wapi.ok("/calls", {**QZV, "call_id": call, "line": "123", "caller": {"phone": phone}}, role="call_taker")
        calls.append(call)
        clock.advance(minutes=3)
    for _ in range(3):
        wapi.ok("/danger-flags", {"kinds": ["dog"], "location": IN_QAZVIN, "county": "Qazvin"})
    _board(wapi)
    body = {"phone": phone, "location": IN_QAZVIN, "limit": 2}
    out = wapi.ok("/intake/lookup", body, role="call_taker")
    assert out["totals"]["calls"] == 4 and len(out["calls"]) == 2
    assert [c["call_id"] for c in out["calls"]] == calls[::-1][:2], "the newest calls first"
    assert out["totals"]["danger"] == 3 and len(out["danger"]) == 2
    assert wapi.post("/intake/lookup", {**body, "limit": 1000}, role="call_taker").status_code == 422
    for call in calls:
        wapi.ok("/follow-ups", {"call_id": call, "after_hours": [24, 72]}, role="call_taker")
    _board(wapi)

    def page(**params):
        r = wapi.http.get("/api/v1/follow-ups", params=params, headers=wapi.token("call_taker"))
        assert r.status_code == 200, r.text
        return r.json()

    first, second = page(limit=5), page(limit=5, offset=5)
    assert first["total"] == 8 and len(first["follow_ups"]) == 5 and len(second["follow_ups"]) == 3
    ids = [f["id"] for f in first["follow_ups"] + second["follow_ups"]]
    assert len(set(ids)) == 8
    assert page(state="due")["total"] == 0 and page(state="scheduled")["total"] == 8
    bad = wapi.http.get("/api/v1/follow-ups", params={"limit": 10_000}, headers=wapi.token("call_taker"))
    assert bad.status_code == 422
