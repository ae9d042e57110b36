"""Every success answer of the API has a named schema (eoc.http.answers and the routers' own
models), and real answers match it: a day at a province's EOC is played through the API and
each answer is checked against the model its route declares and against the OpenAPI document."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pyotp
import pytest
from fastapi.exceptions import ResponseValidationError
from pydantic import BaseModel

from eoc.http.answers import Answer
from tests.support.scenario import IN_QAZVIN, QZV, classified_call
from tests.support.system import Api

DAYS = {"from": "2026-11-01", "to": "2026-11-30"}


def _schema_of(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_every_success_answer_in_the_openapi_document_names_its_keys(api):
    doc = api.http.get("/openapi.json").json()
    untyped, operations = [], 0
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            operations += 1
            successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
            assert successes, f"{method.upper()} {path} documents no success"
            for status, response in successes.items():
                content = response.get("content", {})
                assert content, f"{method.upper()} {path} {status} names no media type"
                if "application/json" not in content:
                    continue  # a document or a file (XML, CSV): its media type is what it names
                schema = _schema_of(doc, content["application/json"].get("schema", {}))
                if not schema.get("properties"):
                    untyped.append(f"{method.upper()} {path} {status}")
    assert operations > 60
    assert untyped == []


def _answer_models() -> dict[str, type[BaseModel]]:
    """Every answer model by the name OpenAPI gives it."""
    out, todo = {}, [Answer]
    while todo:
        model = todo.pop()
        out[model.__name__] = model
        todo += model.__subclasses__()
    return out


class Checked:
    """The API client of the tests, checking each success answer against its route's model
    (found by the name the OpenAPI document gives its schema) and the document's schema."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.doc = api.http.get("/openapi.json").json()
        self.models = _answer_models()
        self.paths = [(re.compile(re.sub(r"{\w+}", "[^/]+", p) + "$"), p) for p in self.doc["paths"]]
        self.seen: dict[tuple[str, str], int] = {}

    def check(self, r: Any) -> dict[str, Any]:
        method, path = r.request.method, r.request.url.path
        assert r.status_code in (200, 201, 202), (method, path, r.status_code, r.text)
        route = next(p for pattern, p in self.paths if pattern.match(path) and method.lower() in self.doc["paths"][p])
        schema = self.doc["paths"][route][method.lower()]["responses"][str(r.status_code)]
        schema = schema["content"]["application/json"]["schema"]
        model = self.models[schema["$ref"].rsplit("/", 1)[1]]
        answer = r.json()
        model.model_validate(answer)  # no undeclared key, every required key, every type right
        jsonschema.validate(answer, {**schema, "components": self.doc["components"]})
        self.seen[(method, route)] = self.seen.get((method, route), 0) + 1
        return answer

    def post(self, path: str, body: object = None, **kw: Any) -> dict[str, Any]:
        return self.check(self.api.post(path, body, **kw))

    def get(self, path: str, role: str = "provincial_supervisor", province: str = "QZV",
            params: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return self.check(self.api.http.get(f"/api/v1{path}", params=params,
                                            headers=self.api.token(role, province, **kw)))


@pytest.fixture
def checked(api) -> Checked:
    return Checked(api)


def _folded(api: Api) -> None:
    last = api.system.app.recorder.max_notification_id() or 0
    assert api.system.follower.wait_for(last)


def test_the_answers_of_a_day_at_the_eoc_match_their_declared_models(api, checked):
    a = checked
    # the line: a call taken in one request answers no incident; one escalated answers it
    taken = a.post("/calls/intake", {**QZV, "category": "spouse_abuse", "priority": "urgent",
                                     "caller": {"phone": "09125550101"}}, role="call_taker")
    assert "incident_id" not in taken
    call = a.post("/calls", {**QZV, "caller": {"phone": "09125550101"}}, role="call_taker")["call_id"]
    a.post(f"/calls/{call}/classify", {"category": "spouse_abuse", "priority": "urgent"}, role="call_taker")
    incident = a.post(f"/calls/{call}/escalate", {"location": IN_QAZVIN})["incident_id"]
    counselled = classified_call(api)
    a.post(f"/calls/{counselled}/counsel", {"services": ["counselling"], "duration_s": 300}, role="call_taker")
    follow_up = a.post("/follow-ups", {"call_id": counselled, "after_hours": [24]}, role="call_taker")
    a.post(f"/follow-ups/{follow_up['follow_up_ids'][0]}/done", {"reached": True}, role="call_taker")
    a.post("/danger-flags", {"kinds": ["dog"], "location": IN_QAZVIN, "county": "Qazvin"})
    opened = a.post("/incidents", {**QZV, "route": "police", "category": "child_abuse", "priority": "normal",
                                   "location": IN_QAZVIN})["incident_id"]
    a.post(f"/incidents/{opened}/close", {"outcome": "cancelled"})
    a.post(f"/calls/{classified_call(api)}/link", {"incident_id": incident}, role="call_taker")
    a.post(f"/calls/{classified_call(api)}/refer", {"target": "line_1480"}, role="call_taker")
    flag = a.post("/danger-flags", {"kinds": ["weapon"], "location": IN_QAZVIN, "county": "Qazvin"})["flag_id"]
    a.post(f"/danger-flags/{flag}/review", {"decision": "keep", "days": 30})

    # a team sent, on its way, safe, late, in duress and clear; another kept away from a family
    t, t2 = (a.post("/teams", {**QZV, "name": name, "home": IN_QAZVIN})["team_id"] for name in ("QZV-1", "QZV-2"))
    for one in (t, t2):
        a.post(f"/teams/{one}/shift/start", {"shift": "morning", "members": ["staff-1", "staff-2"]})
    a.post(f"/incidents/{incident}/conflicts", {"team_id": t2, "reason": "a relative of the family"},
           role="dispatcher")
    a.post(f"/teams/{t2}/shift/end", {})
    a.post("/rosters", {"province": "QZV", "county": "*", "shifts": {"morning": 1, "evening": 1}})
    a.post(f"/teams/{t}/dispatch", {"incident_id": incident}, role="dispatcher")
    kept = a.post(f"/teams/{t}/position", {"position": {"lat": 36.3, "lon": 50.05}}, role="team", team=t)
    assert kept["kept"] is True
    a.post(f"/teams/{t}/status", {"status": "en_route"}, role="team", team=t)
    a.post(f"/teams/{t}/check-in", {}, role="team", team=t)
    due = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    a.post(f"/teams/{t}/check-in-missed", {"due_at": due}, role="dispatcher")
    a.post(f"/teams/{t}/duress", {"covert": True}, role="team", team=t)
    a.post(f"/teams/{t}/duress/clear", {"note": "all well"}, role="dispatcher")

    # centres: a place held and taken, a client discharged with call-backs, one transferred
    c, other = (a.post("/centres", {**QZV, "name": name, "kind": "residential_level_1", "capacity": 4,
                                    "location": IN_QAZVIN})["centre_id"] for name in ("Qazvin 1", "Qazvin 2"))
    a.post(f"/centres/{c}/capacity", {"capacity": 6})
    hold = a.post(f"/centres/{c}/holds", {"minutes": 60}, role="centre_staff")
    admitted = a.post(f"/centres/{c}/admissions", {"route": "mobile_team", "hold_id": hold["hold_id"],
                                                    "client": {"name": "—"}}, role="centre_staff")
    discharged = a.post(f"/centres/{c}/discharges", {"client_id": admitted["client_id"], "reason": "returned_home",
                                                     "call_back_hours": [24]}, role="centre_staff")
    assert len(discharged["follow_up_ids"]) == 1
    walk_in = a.post(f"/centres/{c}/admissions", {"route": "self"}, role="centre_staff")["client_id"]
    moved = a.post(f"/centres/{c}/discharges", {"client_id": walk_in, "reason": "returned_home"},
                   role="centre_staff")
    assert "follow_up_ids" not in moved  # none scheduled: the key is left out, not answered null
    stay = a.post(f"/centres/{other}/admissions", {"route": "self"}, role="centre_staff")["client_id"]
    a.post(f"/centres/{other}/transfers", {"client_id": stay, "to_centre_id": c})
    a.post(f"/centres/{other}/close", {"reason": "the building is refurbished"})
    held = a.post(f"/centres/{c}/holds", {"minutes": 30}, role="centre_staff")["hold_id"]
    a.post(f"/centres/{c}/holds/{held}/release", {}, role="centre_staff")
    a.post(f"/centres/{c}/holding", {"client_id": stay, "days": 15, "destination_kind": "safe_house"})

    # reads: boards, workspaces, personal details, reports, the exchange
    _folded(api)
    a.get("/boards")
    a.get("/boards/summary")
    a.get("/workspace/me", role="call_taker")
    assert "counties" not in a.get("/vocabulary")
    assert a.get("/vocabulary", params={"province": "QZV"})["counties"]
    a.post("/intake/lookup", {"phone": "09125550101", "location": IN_QAZVIN}, role="call_taker")
    a.get(f"/incidents/{incident}/recommendation", role="dispatcher")
    a.get("/follow-ups", role="call_taker")
    ref = api.system.follower.snapshot()[1][f"incident/{incident}"]["ref"]
    assert a.get(f"/refs/{ref}")["id"] == incident
    assert a.get(f"/calls/{call}/caller")["details"] is not None
    assert a.get(f"/centres/{c}/clients/{admitted['client_id']}")["details"] is not None
    a.get("/reports", params=DAYS)
    a.get("/publish/report", params=DAYS, role="national_eoc", province="IR")
    a.get("/publish/prevention", params=DAYS)
    a.get("/exchange/incidents", role="partner")
    a.get("/exchange/alerts", role="partner")
    a.check(api.http.get("/health"))

    # people: an account made, signed in, refreshed, managed, signed out; the access log read
    added = a.post("/users", {"username": "qzv-dispatcher", "password": "a long pass phrase",
                              "role": "dispatcher", "province": "QZV"}, province="QZV")
    code = pyotp.TOTP(added["totp_secret"]).now() if "totp_secret" in added else None
    tokens = a.check(api.http.post("/api/v1/auth/sign-in", json={"username": "qzv-dispatcher",
                                                                "password": "a long pass phrase", "code": code}))
    tokens = a.check(api.http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}))
    signed_out = api.http.post("/api/v1/auth/sign-out", headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert a.check(signed_out) == {"signed_out": True, "session_ended": True}
    assert a.check(api.http.delete(f"/api/v1/sessions/{tokens['session']}", headers=api.token())) == {"ended": False}
    a.get("/auth/me")
    a.get("/users")
    user = added["user"]["id"]
    a.get(f"/users/{user}/sessions")
    a.post(f"/users/{user}/disable")
    a.post(f"/users/{user}/enable")
    a.post(f"/users/{user}/unlock")
    a.post(f"/users/{user}/reset-totp")
    a.post(f"/users/{user}/end-sessions")
    a.get("/access-log", role="auditor", province="IR")
    a.get("/access-log/verify", role="auditor", province="IR")

    # a representative set: most of the document's operations answered and were checked
    operations = sum(len(item) for item in a.doc["paths"].values())
    assert len(a.seen) >= 0.8 * operations, (len(a.seen), operations)


def test_an_answer_with_a_key_its_model_does_not_declare_fails_loudly(system, monkeypatch):
    real = system.service.open_incident
    monkeypatch.setattr(system.service, "open_incident", lambda cmd, who: {**real(cmd, who), "surprise": 1})
    api = Api(system)  # the endpoints are made from the service's methods as they are now
    body = {**QZV, "route": "police", "category": "child_abuse", "priority": "normal", "location": IN_QAZVIN}
    with pytest.raises(ResponseValidationError, match="surprise"):
        api.post("/incidents", body)
