"""Auditor access is read-only and pseudonymous; erasing a person keeps the history verifiable
and the boards replayable."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.replay import replay
from eoc.audit.erasure import readable, sealed_values
from eoc.audit.sources import StoreSource
from eoc.audit.verify import verify
from eoc.cli import main
from tests.support import scenario
from tests.support.audit import RawStore, cli_env, signed_checkpoints, with_history

PHONE = "09120001234"


def test_an_auditor_can_give_no_command(api: Any) -> None:
    centre = scenario.centre(api)
    team = scenario.team(api)
    incident = scenario.incident(api)
    call = scenario.classified_call(api)
    before = api.stored()
    attempts = [
        ("/calls", {**scenario.QZV}), (f"/calls/{call}/classify", {"category": "other", "priority": "low"}),
        (f"/calls/{call}/escalate", {"location": scenario.IN_QAZVIN}), ("/incidents", {
            **scenario.QZV, "route": "police", "category": "other", "priority": "low", "location": scenario.IN_QAZVIN}),
        (f"/incidents/{incident}/close", {"outcome": "resolved_on_scene"}),
        ("/teams", {**scenario.QZV, "name": "x", "home": scenario.IN_QAZVIN}),
        (f"/teams/{team}/dispatch", {"incident_id": incident}), (f"/teams/{team}/status", {"status": "en_route"}),
        (f"/teams/{team}/shift/end", {}), (f"/teams/{team}/position", {"position": scenario.IN_QAZVIN}),
        ("/centres", {**scenario.QZV, "name": "c", "kind": "outpatient", "capacity": 1, "location": scenario.IN_QAZVIN}),
        (f"/centres/{centre}/admissions", {"route": "self"}), (f"/centres/{centre}/capacity", {"capacity": 9}),
    ]
    for path, body in attempts:
        answer = api.post(path, body, role="auditor", province="IR")
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["error"] and "auditor" in answer.json()["reason"]
    assert api.stored() == before


def test_an_auditor_sees_pseudonymous_ids_and_no_secret_place(api: Any) -> None:
    house = scenario.centre(api, kind="safe_house", capacity=2)
    centre = scenario.centre(api)
    admitted = api.ok(f"/centres/{centre}/admissions", {"route": "self", "client": {"name": "Zahra", "phone": PHONE}})
    api.ok(f"/centres/{house}/admissions", {"route": "judiciary"})
    call = api.ok("/calls", {**scenario.QZV, "caller": {"name": "Maryam", "phone": PHONE}})
    api.system.follower.wait_for(admitted["position"] + 1)
    token = api.token("auditor", "IR", sub="inspector-7")
    rows = api.http.get("/api/v1/boards", headers=token).json()["rows"]
    assert rows[f"centre/{centre}"]["clients"] and all(k.startswith("#") for k in rows[f"centre/{centre}"]["clients"])
    assert admitted["client_id"] not in str(rows)
    # Secret places reach an auditor only as per-province counts (one house: a suppressed cell).
    assert f"centre/{house}" not in rows and house not in str(rows)
    assert rows["secret_places/QZV"]["suppressed"] is True and rows["secret_places/QZV"]["places"] is None
    text = str(rows)
    assert PHONE not in text and "Maryam" not in text and "Zahra" not in text
    # Personal data stays sealed in the history itself: not in the stored bytes, not in what the relay sends.
    raw = RawStore(api.system)
    stored = b"".join(bytes(r[0]) for r in raw._sql("SELECT state FROM TABLE").fetchall())
    raw.close()
    assert PHONE.encode() not in stored and b"Maryam" not in stored
    assert call["caller_id"].encode() in stored  # the pseudonymous id is what the events carry


def test_erasing_a_person_keeps_the_chain_and_the_boards(make_system: Any, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    system = make_system()
    history = with_history(system, 600, seed=21)
    checkpoints, public = signed_checkpoints(system)
    subject = next(s for s in history.subjects
                   if len(sealed_values(StoreSource(system.app).records(), s)) > 0)
    values = sealed_values(StoreSource(system.app).records(), subject)
    assert readable(system.keyring, subject, values) == values  # openable before
    before = replay(StoreSource(system.app)).rows

    cli_env(monkeypatch, system)
    system.keyring.close()  # the command opens the keyring itself
    assert main(["erase", subject]) == 2  # asks for --yes first
    assert main(["erase", subject, "--yes"]) == 0
    out = capsys.readouterr().out
    assert "the key was deleted; 0 values can still be opened" in out

    from eoc.app.keyring import PostgresKeyring, SQLiteKeyring

    s = system.settings
    keyring = PostgresKeyring(s.pg_dsn) if s.store == "postgres" else SQLiteKeyring(str(s.data_dir / "keys.sqlite"))
    system.keyring = keyring
    assert keyring.get(subject) is None and readable(keyring, subject, values) == []
    assert sealed_values(StoreSource(system.app).records(), subject) == values  # the tokens are still there
    verdict = verify(StoreSource(system.app), checkpoints=checkpoints, public_keys=[public])
    assert verdict.ok and verdict.checkpoints == len(checkpoints)
    assert replay(StoreSource(system.app)).rows == before


def test_the_running_system_signs_checkpoints_that_verify(make_system):
    """The embedded system keeps signed checkpoints as its log grows; a clean store verifies."""
    from eoc.app.system import checkpoint_table
    from eoc.audit.checkpoints import load_public_key
    from eoc.audit.sources import StoreSource
    from eoc.audit.verify import verify
    from tests.support.scenario import centre, classified_call
    from tests.support.system import Api

    system = make_system()
    publisher = system.start_checkpoints(every_events=5, every_s=3600)
    api = Api(system)
    centre(api)
    for _ in range(6):
        classified_call(api)
    publisher.publish()
    records = checkpoint_table(system.settings).load()
    assert records and records[-1]["position"] == system.app.recorder.max_notification_id()
    verdict = verify(StoreSource(system.app), checkpoints=records,
                     public_keys=[load_public_key(system.settings.audit_key_path)])
    assert verdict.ok, verdict
