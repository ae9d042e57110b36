"""Cluster mode: the exchange with partner organizations as a Kafka topic.

``eoc relay`` + ``eoc worker`` fold a history with secret houses into ``eoc.boards``; ``eoc
exchange`` keeps ``eoc.exchange.partner`` in step. The test reads that topic as a partner's
gateway would and checks that it holds the same documents as the HTTP feed (valid against the
published EIDO, EDXL-HAVE and CAP schemas), in the province's partition, and that no safe or
health house — name, id, position, client, kind — nor any drill appears in any record.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from lxml import etree

from consumers.exchange_feed import CAP, EIDO, HAVE
from tests.support.cluster import wait_until
from tests.support.exchange import cap_schema, eido_validator, have_schema
from tests.support.scenario import IN_QAZVIN, incident, team
from tests.support.secret_history import HEALTH_AT, HEALTH_NAME, SAFE_AT, SAFE_NAME, secret_history
from tests.support.system import Api

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]


def _documents(reader) -> dict[str, dict[str, Any]]:
    reader.catch_up()
    return {k: v for k, v in reader.rows.items()}


def test_eido_edxl_cap_alert_partner_topic_in_cluster_mode_never_carries_a_secret_place(cluster, embedded, clock):
    api = Api(embedded)
    places = secret_history(api)
    open_incident = incident(api)
    team_id = team(api)
    api.ok(f"/teams/{team_id}/dispatch", {"incident_id": open_incident}, role="dispatcher")
    due = (clock() - timedelta(minutes=5)).isoformat()
    api.ok(f"/teams/{team_id}/check-in-missed", {"due_at": due}, role="dispatcher")
    drill = api.ok("/incidents", {"province": "QZV", "county": "Qazvin", "route": "police", "category": "suicide",
                                  "priority": "high", "location": IN_QAZVIN, "exercise": True})
    assert embedded.follower.wait_for(embedded.app.recorder.max_notification_id(), timeout=30)
    _, rows = embedded.follower.snapshot()
    assert rows[f"alert/centre_full/{places['safe']}"]["secret"] is True  # the house's alert exists inside

    partner = cluster.reader(cluster.layout.exchange_partner)
    cluster.start("relay")
    cluster.start("worker")
    cluster.start("exchange")
    wanted = {f"QZV/{EIDO}/{open_incident}", f"QZV/{HAVE}/{places['centre']}"}
    try:
        wait_until(lambda: wanted <= set(_documents(partner))
                   and any(k.startswith(f"QZV/{CAP}/") for k in partner.rows),
                   timeout=180, what="the partner topic to hold the incident, the centre and the alert", every=1)
    except AssertionError:
        raise AssertionError(f"{sorted(partner.rows)}\n{cluster.logs()}") from None

    # What is on the topic is what the HTTP feed gives a partner of the province: same incidents,
    # centres and alerts.
    h = api.token("partner", "QZV")
    http_incidents = {d["incidentComponent"]["$id"] for d in api.http.get("/api/v1/exchange/incidents",
                                                                          headers=h).json()["eido"]}
    http_alerts = {a["key"] for a in api.http.get("/api/v1/exchange/alerts", headers=h).json()["alerts"]}
    docs = _documents(partner)
    by_standard: dict[str, dict[str, Any]] = {EIDO: {}, HAVE: {}, CAP: {}}
    for key, value in docs.items():
        province, standard, ident = key.split("/", 2)
        assert province == value["province"] == "QZV"
        by_standard[standard][ident] = value
    assert {f"urn:uuid:{i}" for i in by_standard[EIDO]} == http_incidents
    assert {f"alert/{i}" for i in by_standard[CAP]} == http_alerts
    assert set(by_standard[HAVE]) == {places["centre"]}  # the crisis centre; never a house

    # Each document is valid against the published schema of its standard.
    validator, have_xsd, cap_xsd = eido_validator(), have_schema(), cap_schema()
    for value in by_standard[EIDO].values():
        assert value["standard"] == "NENA-STA-021 EIDO JSON"
        validator.validate(value["content"])
    for value in by_standard[HAVE].values():
        assert have_xsd.validate(etree.fromstring(value["content"].encode())), have_xsd.error_log
    for value in by_standard[CAP].values():
        assert cap_xsd.validate(etree.fromstring(value["content"].encode())), cap_xsd.error_log

    # Every record ever written (not only the latest per key) is free of the secret places and drills.
    secrets = [SAFE_NAME, HEALTH_NAME, places["safe"], places["health"], str(SAFE_AT["lat"]),
               str(HEALTH_AT["lon"]), "CL-HELD-7f3a9c", "CL-DIRECT-2b8e41", "safe_house", "health_house",
               "Maryam", drill["incident_id"]]
    assert partner.records
    for record in partner.records:
        raw = record.key + (record.value or b"")
        text = raw.decode()
        for secret in secrets:
            assert secret not in text, (record.key, secret)
        assert record.partition == cluster.layout.partition_for(record.key.decode().split("/")[0])

    # A closed incident is withdrawn: a tombstone under its key.
    api.ok(f"/incidents/{open_incident}/close", {"outcome": "resolved_on_scene"}, role="dispatcher")
    key = f"QZV/{EIDO}/{open_incident}"
    try:
        wait_until(lambda: key not in _documents(partner), timeout=120, what="the closed incident's tombstone",
                   every=1)
    except AssertionError:
        raise AssertionError(f"{json.dumps(partner.rows.get(key))[:400]}\n{cluster.logs()}") from None
    assert any(r.key.decode() == key and r.value is None for r in partner.records)
