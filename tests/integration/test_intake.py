"""The intake in one command (ثبت تماس, POST /api/v1/calls/intake): a call-taker's form is one
request — received, classified and escalated (or counselled, or referred) in one transaction,
with one Idempotency-Key — so the incident reaches the dispatcher after one round trip, and a
refusal at any step stores nothing."""

from __future__ import annotations

import uuid

from tests.support.scenario import IN_QAZVIN, QZV
from tests.support.system import Api

CALL = {**QZV, "line": "123", "category": "spouse_abuse", "priority": "urgent", "risk_flags": ["violence_ongoing"]}


def _stored_count(api: Api) -> int:
    return api.system.app.recorder.max_notification_id() or 0


def test_intake_escalated_stores_the_four_events_in_one_transaction(api: Api):
    incident = str(uuid.uuid4())
    out = api.ok("/calls/intake", {**CALL, "caller": {"phone": "+98 912 000 1111"},
                                   "escalate": {"location": IN_QAZVIN, "incident_id": incident}}, role="call_taker")
    assert out["incident_id"] == incident and out["call_id"] and out["caller_id"]
    assert api.stored() == ["CallReceived", "CallClassified", "CallEscalated", "IncidentOpened"]
    rows = api.system.follower.snapshot()[1] if api.system.follower.wait_for(_stored_count(api)) else {}
    inc = rows[f"incident/{incident}"]
    assert (inc["category"], inc["priority"], inc["risk_flags"]) == ("spouse_abuse", "urgent", ["violence_ongoing"])
    assert inc["call_id"] == out["call_id"]


def test_intake_counselled_or_referred_and_plain(api: Api):
    api.ok("/calls/intake", {**CALL, "counsel": {"services": ["counselling"], "duration_s": 300}}, role="call_taker")
    api.ok("/calls/intake", {**CALL, "refer": {"target": "line_1480"}}, role="call_taker")
    api.ok("/calls/intake", CALL, role="call_taker")  # classified, to be decided from the open calls
    assert api.stored() == ["CallReceived", "CallClassified", "CallCounselled",
                            "CallReceived", "CallClassified", "CallReferred",
                            "CallReceived", "CallClassified"]


def test_intake_refused_at_any_step_stores_nothing(api: Api):
    before = _stored_count(api)
    both = {**CALL, "counsel": {"services": ["counselling"], "duration_s": 1}, "refer": {"target": "line_1480"}}
    r = api.post("/calls/intake", both, role="call_taker")
    assert r.status_code == 422 and r.json()["error"] and "at most one" in r.text
    r = api.post("/calls/intake", {**CALL, "escalate": {"location": {"lat": 48.85, "lon": 2.35}}}, role="call_taker")
    assert r.status_code == 422  # outside Iran
    r = api.post("/calls/intake", {**CALL, "refer": {"target": "centre", "centre_id": str(uuid.uuid4())}},
                 role="call_taker")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    # A rule of the domain inside the transaction: the call id is taken, so nothing of it is stored.
    taken = api.ok("/calls/intake", CALL, role="call_taker")["call_id"]
    before = _stored_count(api)
    r = api.post("/calls/intake", {**CALL, "call_id": taken, "escalate": {"location": IN_QAZVIN}}, role="call_taker")
    assert r.status_code == 409, r.text
    assert _stored_count(api) == before


def test_intake_each_step_is_authorized_as_its_own_command(api: Api):
    for role in ("dispatcher", "team", "centre_staff", "national_eoc", "auditor", "partner"):
        province = "IR" if role in ("national_eoc", "auditor") else "QZV"
        r = api.post("/calls/intake", {**CALL, "escalate": {"location": IN_QAZVIN}}, role=role, province=province)
        assert r.status_code == 403, (role, r.text)
    r = api.post("/calls/intake", CALL, role="call_taker", province="ALB")  # another province's call
    assert r.status_code == 403
    assert api.stored() == []


def test_intake_retried_with_its_key_is_stored_once(api: Api):
    body = {**CALL, "escalate": {"location": IN_QAZVIN}}
    headers = {**api.token("call_taker"), "Idempotency-Key": "intake-" + uuid.uuid4().hex}
    first = api.http.post("/api/v1/calls/intake", json=body, headers=headers)
    again = api.http.post("/api/v1/calls/intake", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert api.stored().count("IncidentOpened") == 1
