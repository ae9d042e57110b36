"""Exchange with partner organizations: EIDO incidents, EDXL-HAVE availability, CAP alerts.

CAP 1.2 output is validated against the OASIS XSD (shipped from a PyPI package) and EDXL-HAVE
against the published OASIS EDXL-HAVE 1.0 XSD (shipped from a public repository); see
eoc/exchange/schemas/SOURCES.md. EIDO: see that file for which schema and why.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from lxml import etree

from eoc.exchange import cap
from eoc.exchange.have import HAVE_NS
from projections.emerging import alert_key
from tests.support.exchange import cap_schema, eido_validator, have_schema
from tests.support.scenario import incident, team
from tests.support.secret_history import HEALTH_AT, HEALTH_NAME, SAFE_AT, SAFE_NAME, secret_history

CAP_NS = "{urn:oasis:names:tc:emergency:cap:1.2}"
FEED_VIEWERS = [("partner", "QZV"), ("provincial_supervisor", "QZV"), ("national_eoc", "IR")]


@pytest.fixture
def store() -> str:
    return "sqlite"


def check_have(doc: bytes) -> etree._Element:
    """The EDXL-HAVE document is valid against the published OASIS XSD."""
    root = etree.fromstring(doc)
    schema = have_schema()
    assert schema.validate(root), schema.error_log
    return root


def wait(system, result: dict) -> None:
    assert system.follower.wait_for(result["position"], timeout=10)


def history(system, api) -> dict[str, Any]:
    """Secret houses with clients and a full-house alert; a centre; an incident; a missed check-in;
    an emerging-harm alert on the board."""
    places = secret_history(api)
    open_incident = incident(api)
    team_id = team(api)
    api.ok(f"/teams/{team_id}/dispatch", {"incident_id": open_incident}, role="dispatcher")
    due = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    last = api.ok(f"/teams/{team_id}/check-in-missed", {"due_at": due}, role="dispatcher")
    wait(system, last)
    # An emerging-harm alert as the detector writes it (its own tests are in test_emerging_harm).
    key = alert_key("QZV", "suicide", "Qazvin")
    system.follower.board.put(key, {
        "kind": "emerging_harm", "province": "QZV", "county": "Qazvin", "category": "suicide",
        "day": "2026-11-30", "since": "2026-11-29", "window_days": 2, "observed": 19, "expected": 6.1,
        "threshold": 15, "p_value": 2.1e-06, "model": "intercept+season", "chart": "/reports.html#harm=QZV/suicide/Qazvin"})
    return {**places, "incident": open_incident, "team": team_id}


def feed_text(api, role: str, province: str) -> str:
    h = api.token(role, province)
    parts = [api.http.get(f"/api/v1/exchange/{what}", headers=h) for what in ("incidents", "availability", "alerts")]
    for r in parts:
        assert r.status_code == 200, r.text
    alerts = parts[2].json()["alerts"]
    one = [api.http.get(f"/api/v1/exchange/alerts/{a['id']}", headers=h) for a in alerts]
    return "\n".join([*(r.text for r in parts), *(r.text for r in one)])


def test_eido_edxl_cap_alert_no_secret_place_leaves_through_any_export(system, api) -> None:
    ids = history(system, api)
    _, rows = system.follower.snapshot()
    assert rows[f"alert/centre_full/{ids['safe']}"]["secret"] is True  # the house's alert exists inside
    secrets = [SAFE_NAME, HEALTH_NAME, ids["safe"], ids["health"], str(SAFE_AT["lat"]), str(HEALTH_AT["lon"]),
               "CL-HELD-7f3a9c", "CL-DIRECT-2b8e41", "safe_house", "health_house", "Maryam"]
    for role, province in FEED_VIEWERS:
        text = feed_text(api, role, province)
        assert ids["centre"] in text and ids["incident"] in text  # the feed is not empty
        for secret in secrets:
            assert secret not in text, (role, province, secret)
    # Roles outside the exchange get a refusal in the one error shape.
    r = api.http.get("/api/v1/exchange/incidents", headers=api.token("call_taker", "QZV"))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    # A partner of another province sees nothing of Qazvin.
    other = api.http.get("/api/v1/exchange/incidents", headers=api.token("partner", "ALB")).json()
    assert other == {"eido": []}


def test_eido_feed_validates_against_the_published_nena_schema(system, api) -> None:
    ids = history(system, api)
    docs = api.http.get("/api/v1/exchange/incidents", headers=api.token("partner", "QZV")).json()["eido"]
    assert [d["incidentComponent"]["$id"] for d in docs] == [f"urn:uuid:{ids['incident']}"]
    validator = eido_validator()
    for doc in docs:
        validator.validate(doc)
    # The schema does reject wrong documents: the test can fail.
    for path, value in ((("incidentComponent",), [docs[0]["incidentComponent"]]), (("eidoVersion",), "2.0"),
                        (("agencyComponent", 0, "agencyType"), None), (("incidentComponent", "$id"), None)):
        broken = json.loads(json.dumps(docs[0]))
        *parents, last = path
        holder = broken
        for p in parents:
            holder = holder[p]
        if value is None:
            del holder[last]
        else:
            holder[last] = value
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(broken)


def test_edxl_have_availability_validates_against_the_published_oasis_xsd(system, api) -> None:
    ids = history(system, api)
    doc = api.http.get("/api/v1/exchange/availability", headers=api.token("partner", "QZV")).content
    root = check_have(doc)
    ns = {"have": HAVE_NS}
    hospitals = root.findall("have:Hospital", ns)
    assert len(hospitals) == 1  # the crisis centre; never the houses
    ns["xpil"] = "urn:oasis:names:tc:ciq:xpil:3"
    assert hospitals[0].findtext(".//xpil:IdentifierElement", namespaces=ns) == f"urn:uuid:{ids['centre']}"
    assert hospitals[0].findtext(".//have:BaselineCount", namespaces=ns) == "10"
    assert hospitals[0].findtext(".//have:AvailableCount", namespaces=ns) == "10"  # its client left for the house
    # The XSD does reject a wrong document: the test can fail.
    for bad in (doc.replace(b"<have:LastUpdateTime>", b"<have:LastUpdateTime>x"),
                doc.replace(b"Vacant/Available", b"VacantAvailable").replace(b"NotAvailable", b"Full")):
        with pytest.raises(AssertionError):
            check_have(bad)


def test_cap_alert_messages_validate_against_the_oasis_xsd(system, api) -> None:
    history(system, api)
    alerts = api.http.get("/api/v1/exchange/alerts", headers=api.token("partner", "QZV")).json()["alerts"]
    assert sorted(a["kind"] for a in alerts) == ["check_in_missed", "emerging_harm"]  # the house's is held back
    schema = cap_schema()
    for a in alerts:
        doc = etree.fromstring(a["cap"].encode())
        assert schema.validate(doc), schema.error_log
        assert doc.findtext(f"{CAP_NS}scope") == "Restricted"
    harm = next(etree.fromstring(a["cap"].encode()) for a in alerts if a["kind"] == "emerging_harm")
    params = {p.findtext(f"{CAP_NS}valueName"): p.findtext(f"{CAP_NS}value") for p in harm.iter(f"{CAP_NS}parameter")}
    assert params["observed"] == "19" and params["expected"] == "6.1"
    assert "Qazvin" in harm.findtext(f".//{CAP_NS}areaDesc")
    # The XSD does reject a wrong message: the test can fail.
    wrong = etree.fromstring(alerts[0]["cap"].encode())
    wrong.find(f"{CAP_NS}status").text = "Rumour"
    assert not schema.validate(wrong)


def test_cap_alert_for_a_drill_is_an_exercise() -> None:
    row = {"kind": "check_in_missed", "province": "QZV", "county": "Qazvin", "since": "2026-11-30T10:00:00.000Z"}
    doc = etree.fromstring(cap.cap_alert("alert/check_in_missed/x", row, "2026-11-30T10:05:00.000Z", exercise=True))
    assert cap_schema().validate(doc)
    assert doc.findtext(f"{CAP_NS}status") == "Exercise"
    assert doc.findtext(f"{CAP_NS}sent") == "2026-11-30T13:35:00+03:30"


@pytest.mark.parametrize(("agency_type", "route"), [("Law Enforcement", "police"), ("Judiciary", "judiciary"),
                                                    ("Health", "other_organization")])
def test_eido_inbound_referral_round_trip(system, api, agency_type: str, route: str) -> None:
    """Our own EIDO, sent back by a partner as theirs, opens an incident with the partner's route."""
    first = incident(api, priority="high")
    wait(system, {"position": system.app.recorder.max_notification_id()})
    doc = api.http.get("/api/v1/exchange/incidents", headers=api.token("partner", "QZV")).json()["eido"][0]
    doc["agencyComponent"][0].update(agencyType=[agency_type])
    r = api.http.post("/api/v1/exchange/referrals", json=doc, headers=api.token("partner", "QZV"))
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["incident_id"] != first and made["route"] == route
    wait(system, made)
    _, rows = system.follower.snapshot()
    row = rows[f"incident/{made['incident_id']}"]
    original = rows[f"incident/{first}"]
    assert (row["route"], row["category"], row["priority"], row["county"]) == \
        (route, original["category"], original["priority"], original["county"])
    assert row["location"] == original["location"] and row["call_id"] is None
    eido_validator().validate(doc)


def test_eido_referral_retried_with_its_idempotency_key_gets_the_first_answer(system, api) -> None:
    """A partner's system retries a referral whose answer it lost: the same answer (route and
    category included, rendered from what was committed), and no second incident."""
    incident(api, priority="high")
    wait(system, {"position": system.app.recorder.max_notification_id()})
    doc = api.http.get("/api/v1/exchange/incidents", headers=api.token("partner", "QZV")).json()["eido"][0]
    headers = {**api.token("partner", "QZV"), "Idempotency-Key": "referral-0001"}
    first = api.http.post("/api/v1/exchange/referrals", json=doc, headers=headers)
    assert first.status_code == 201, first.text
    stored = len(api.stored())
    again = api.http.post("/api/v1/exchange/referrals", json=doc, headers=headers)
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["idempotent-replayed"] == "true" and set(again.json()) >= {"route", "category"}
    assert len(api.stored()) == stored


def test_eido_bad_referral_refused_and_nothing_stored(system, api) -> None:
    before = len(api.stored())
    h = api.token("partner", "QZV")
    no_location = {"incidentComponent": [{"incidentTypeCommonRegistryText": "x"}],
                   "agencyComponent": [{"agencyTypeCommonRegistryText": "Law Enforcement"}],
                   "locationComponent": [{"civicAddressText": "Qazvin, QZV", "locationByValue": "<none/>"}]}
    outside = json.loads(json.dumps(no_location))
    outside["locationComponent"][0]["locationByValue"] = "<gml:pos>51.5 -0.1</gml:pos>"  # London
    for body in (no_location, outside, [1, 2], {"incidentComponent": []}):
        r = api.http.post("/api/v1/exchange/referrals", json=body, headers=h)
        assert r.status_code == 422, r.text
        assert set(r.json()) >= {"error", "reason"}
    r = api.http.post("/api/v1/exchange/referrals", json=no_location, headers=api.token("call_taker", "QZV"))
    assert r.status_code == 403
    assert len(api.stored()) == before
