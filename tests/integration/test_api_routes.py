"""The command endpoints are made from one table (eoc.http.routes): each is documented and
validated as a hand-written one was, and the table agrees with the policy and the service."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from eoc.app.service import CommandService
from eoc.http.api import create_api
from eoc.http.routes import ROUTES, path_of
from events.policy import COMMANDS


def test_every_route_is_a_command_of_the_policy_and_a_method_of_the_service():
    assert len({r.command for r in ROUTES}) == len(ROUTES)
    assert len({r.path for r in ROUTES}) == len(ROUTES)
    for r in ROUTES:
        assert r.command in COMMANDS, r.command
        assert callable(getattr(CommandService, r.command, None)), r.command


def test_the_openapi_document_names_each_commands_body_status_and_ids(system):
    spec = create_api(system).openapi()
    for r in ROUTES:
        op = spec["paths"]["/api/v1" + r.path]["post"]
        assert op["operationId"].startswith(r.command + "_"), op["operationId"]
        assert op["tags"] == [r.tag]
        assert str(r.status) in op["responses"]
        body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert body.endswith("/" + r.model.__name__)
        ids = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
        assert ids == r.ids
        if r.doc:
            assert op["description"] == r.doc


def test_path_of_fills_the_ids_in_order():
    team, centre, hold = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert path_of("check_in", team) == f"/teams/{team}/check-in"
    assert path_of("release_place_hold", centre, hold) == f"/centres/{centre}/holds/{hold}/release"
    assert path_of("receive_call") == "/calls"
    with pytest.raises(TypeError):
        path_of("check_in")


def test_a_made_endpoint_refuses_a_bad_id_and_a_bad_body_in_the_one_shape(system):
    client = TestClient(create_api(system))
    token = system.signer.issue("provincial_supervisor", "QZV", sub="test")
    h = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/v1/teams/not-a-uuid/check-in", json={}, headers=h)
    assert r.status_code == 422 and r.json()["error"] and "path" in r.text
    r = client.post(f"/api/v1/teams/{uuid.uuid4()}/check-in", json={"surprise": 1}, headers=h)
    assert r.status_code == 422 and set(r.json()) >= {"error", "reason"}
    r = client.post(f"/api/v1/teams/{uuid.uuid4()}/check-in", json={}, headers=h)
    assert r.status_code == 404, r.text  # valid, then the service: no such team
