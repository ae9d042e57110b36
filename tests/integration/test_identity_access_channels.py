"""The access log, channel by channel (issue 13, "what it must show": access-log entries for each
secret read on each channel). The API's board reads and the websocket's snapshots and deltas are
tests/integration/test_identity.py (test_access_log_records_secret_reads_..., test_the_bridge_records_...);
replay ``--as`` is tests/integration/test_policy_matrix.py (test_replay_as_never_exceeds_the_auditors_rights);
here: unsealing a person's details, the exports, ``replay --out`` and every channel at once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import scenario

PHONE = "09121112233"


@pytest.fixture
def store() -> str:
    return "sqlite"


def personal(api: Any, path: str, role: str, province: str = "QZV", **kw: Any) -> Any:
    return api.http.get(f"/api/v1{path}", headers=api.token(role, province, sub=f"U-{role}", **kw))


def entries(api: Any, **kw: Any) -> list[Any]:
    return api.system.access_log.entries(limit=5000, **kw)


def test_unsealing_a_callers_details_is_logged_and_refused_to_other_roles(api):
    call = api.ok("/calls", {**scenario.QZV, "caller": {"name": "Maryam Rahimi", "phone": PHONE}}, role="call_taker")
    api.system.follower.wait_for(call["position"])
    rows = api.http.get("/api/v1/boards", headers=api.token()).json()["rows"]
    ref = rows[f"call/{call['call_id']}"]["ref"]
    before = len(entries(api, action="read_personal"))
    for path in (f"/calls/{call['call_id']}/caller", f"/calls/{ref}/caller"):  # id or short reference
        r = personal(api, path, "call_taker")
        assert r.status_code == 200, r.text
        assert r.json() == {"subject": call["caller_id"], "details": {"name": "Maryam Rahimi", "phone": PHONE}}
    logged = entries(api, action="read_personal")[before:]
    assert [(e.user, e.role, e.province, e.channel, e.subject) for e in logged] == \
        [("U-call_taker", "call_taker", "QZV", "api", call["caller_id"])] * 2
    assert json.loads(logged[0].detail)["call"] == call["call_id"] and logged[0].at > 0
    # Refused: the standard error shape, and no personal text at all.
    for role, province, status in (("dispatcher", "QZV", 403), ("team", "QZV", 403), ("partner", "QZV", 403),
                                   ("national_eoc", "IR", 403), ("auditor", "IR", 403),
                                   ("call_taker", "ALB", 404)):  # another province: as if unknown
        r = personal(api, f"/calls/{call['call_id']}/caller", role, province)
        assert r.status_code == status, (role, r.text)
        assert set(r.json()) >= {"error", "reason"}
        assert "Maryam" not in r.text and PHONE not in r.text and call["caller_id"] not in r.text
    assert len(entries(api, action="read_personal")) == before + 2  # refusals open nothing


def test_unsealing_a_clients_details_at_its_centre_only(api):
    here, there = scenario.centre(api), scenario.centre(api)
    client = api.ok(f"/centres/{here}/admissions", {"route": "self", "client": {"name": "Zahra K", "phone": PHONE}},
                    role="centre_staff")["client_id"]
    path = f"/centres/{here}/clients/{client}"
    r = personal(api, path, "centre_staff", centre=here)
    assert r.status_code == 200 and r.json()["details"]["name"] == "Zahra K"
    assert personal(api, path, "provincial_supervisor").json()["details"]["phone"] == PHONE
    # After a transfer, the destination's staff open the details sealed at the first admission.
    api.ok(f"/centres/{here}/transfers", {"client_id": client, "to_centre_id": there}, role="centre_staff")
    moved = personal(api, f"/centres/{there}/clients/{client}", "centre_staff", centre=there)
    assert moved.status_code == 200 and moved.json()["details"]["name"] == "Zahra K"
    refused = personal(api, f"/centres/{there}/clients/{client}", "centre_staff", centre=here)  # bound elsewhere
    assert refused.status_code == 403 and "Zahra" not in refused.text and PHONE not in refused.text
    logged = [(e.role, e.subject, json.loads(e.detail)["centre"]) for e in entries(api, action="read_personal")]
    assert logged == [("centre_staff", client, here), ("provincial_supervisor", client, here),
                      ("centre_staff", client, there)]
    # Erased (eoc erase deletes the key): nothing opens, the read is still logged.
    api.system.keyring.erase(client)
    gone = personal(api, f"/centres/{there}/clients/{client}", "provincial_supervisor")
    assert gone.json() == {"subject": client, "details": None, "erased": True}
    assert json.loads(entries(api, action="read_personal")[-1].detail)["opened"] is False


def test_exports_are_logged_and_carry_no_secret_place(api):
    house = scenario.centre(api, kind="safe_house", capacity=3)
    api.ok(f"/centres/{house}/admissions", {"route": "judiciary"}, role="centre_staff")
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id())
    for path in ("/exchange/availability", "/exchange/incidents", "/exchange/alerts", "/reports?period=1405"):
        r = api.http.get(f"/api/v1{path}", headers=api.token(sub="U-exporter"))
        assert r.status_code == 200, (path, r.text)
        assert house not in r.text
    logged = [(e.user, e.channel, e.subject) for e in entries(api, action="export")]
    assert logged == [("U-exporter", "export", f"exchange/{f}") for f in ("availability", "incidents", "alerts")] \
        + [("U-exporter", "export", "reports")]


def test_replay_out_is_logged_as_an_export(api, monkeypatch, tmp_path):
    from eoc.cli import main

    scenario.centre(api, kind="safe_house", capacity=3)
    s = api.system.settings
    monkeypatch.setenv("EOC_DATA_DIR", str(s.data_dir))
    monkeypatch.setenv("EOC_TOKEN_SECRET", s.token_secret.decode())
    out = tmp_path / "boards.json"
    assert main(["replay", "--as", "auditor", "--province", "IR", "--format", "json", "--out", str(out),
                 "--quiet"]) == 0
    assert out.exists()
    exported = [e for e in entries(api) if e.channel == "export"]
    assert exported and json.loads(exported[-1].detail)["as_role"] == "auditor"


def test_the_access_log_covers_every_channel_and_verifies(api):
    """One log, hash-chained, holding entries of every channel; a tampered entry is named."""
    test_unsealing_a_callers_details_is_logged_and_refused_to_other_roles(api)
    test_exports_are_logged_and_carry_no_secret_place(api)
    house = scenario.centre(api, kind="safe_house", capacity=3)
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id())
    api.http.get("/api/v1/boards", headers=api.token("centre_staff"))
    log = api.system.access_log
    log.record(user="U-w", role="centre_staff", province="QZV", action="read_secret_place", channel="websocket",
               subject=house, frame="snapshot")  # as the bridge writes it (test_the_bridge_records_...)
    assert {"api", "export", "websocket"} <= {e.channel for e in entries(api)}
    assert log.verify() == []
    victim = entries(api, action="read_personal")[0].seq
    with log._db.tx() as q:
        q("UPDATE access_log SET role='auditor' WHERE seq=?", (victim,))
    problems = log.verify()
    assert problems == [f"entry {victim} was altered or is out of place (read_personal by U-call_taker)"]
