"""The real embedded server (``eoc demo --no-simulator``), killed with SIGKILL:

- right after a poison event is stored (before the board checkpoint is written), it starts
  again and serves: the poison is a dead letter, commands are taken and folded;
- a command's answer that the client never saw is asked again with the same
  Idempotency-Key after the restart: the first answer comes back and nothing is stored twice;
- killed at the worst moment (the fault hook ``EOC_FAULT_KILL_BEFORE_ANSWER``, eoc/app/idempotency.py:
  the server SIGKILLs itself after the command's events were committed and before its answer
  was written), a retried create and a retried transition get the first answer from the outcome
  committed with the events, on SQLite and on PostgreSQL: nothing is stored twice, and the
  rules do not refuse the transition as a repeat.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from eoc.app.idempotency import FAULT_KILL_BEFORE_ANSWER as FAULT
from tests.support.poison import incident_in_year_999
from tests.support.served import free_port

pytestmark = pytest.mark.slow
SECRET = "kill-restart-secret-0123456789abcdef"
EOC = [sys.executable, "-c", "import sys; from eoc.cli import main; sys.exit(main())"]


class Server:
    def __init__(self, data: Path, pg_dsn: str | None = None) -> None:
        self.data = data
        self.env = {**os.environ, "EOC_DATA_DIR": str(data), "EOC_TOKEN_SECRET": SECRET, "EOC_STORE": "sqlite"}
        self.env.pop(FAULT, None)
        if pg_dsn:
            self.env.update(EOC_STORE="postgres", EOC_PG_DSN=pg_dsn)
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, kill_before_answer: str | None = None) -> Server:
        """``kill_before_answer``: a path pattern for the fault hook (the server dies on it)."""
        port, bridge = free_port(), free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {**self.env, FAULT: kill_before_answer} if kill_before_answer else self.env
        self.proc = subprocess.Popen(
            [*EOC, "demo", "--no-simulator", "--port", str(port), "--bridge-port",
             str(bridge)], env=env, stdout=subprocess.DEVNULL, stderr=open(self.data / "server.log", "ab"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited: {(self.data / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("the server did not start in 60 s")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def token(self, role: str = "provincial_supervisor", province: str = "QZV") -> str:
        out = subprocess.run([*EOC, "token", "--role", role, "--province", province,
                              "--user", "kill-test"], env=self.env, capture_output=True, text=True, check=True)
        return out.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def server(tmp_path: Path):
    s = Server(tmp_path / "data")
    s.data.mkdir()
    yield s
    s.stop()


def _stored(data: Path) -> int:
    import sqlite3

    with sqlite3.connect(data / "events.sqlite") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        table = next(t for t in tables if t.endswith("events") or t == "stored_events")
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_restart_after_kill_9_right_after_a_poison_event_serves(server):
    server.start()
    headers = {"Authorization": f"Bearer {server.token()}"}
    assert httpx.post(f"{server.url}/api/v1/calls", json={"province": "QZV", "county": "Qazvin"},
                      headers=headers).status_code == 201
    # A poison event written to the store (as an older version could have), then kill -9
    # at once: the board checkpoint never saw it.
    from eoc.app.config import Settings
    from eoc.app.service import EOCApplication

    app = EOCApplication(env=Settings.from_env(server.env).eventsourcing_env())
    incident_in_year_999(app, datetime.now(UTC), "")
    app.close()
    server.kill9()

    server.start()
    headers = {"Authorization": f"Bearer {server.token()}"}
    r = httpx.post(f"{server.url}/api/v1/calls", json={"province": "QZV", "county": "Takestan"}, headers=headers)
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = httpx.get(f"{server.url}/api/v1/boards", headers=headers).json()["rows"]
        if rows.get("applied/QZV") == r.json()["position"]:
            break
        time.sleep(0.2)
    assert rows.get("applied/QZV") == r.json()["position"], "the board did not fold past the poison"
    letters = [row for key, row in rows.items() if key.startswith("deadletter/")]
    assert [row["type"] for row in letters] == ["IncidentOpened"] and "999" in letters[0]["reason"]
    assert any(key.startswith("alert/dead_letter/") for key in rows)
    summary = httpx.get(f"{server.url}/api/v1/boards/summary", headers=headers)
    assert summary.status_code == 200


def test_a_retry_with_the_same_idempotency_key_across_a_kill_9_stores_nothing_new(server):
    server.start()
    key = f"retry-{uuid.uuid4().hex}"
    body = {"province": "QZV", "county": "Qazvin", "call_id": str(uuid.uuid4()), "caller": {"name": "زهرا"}}
    headers = {"Authorization": f"Bearer {server.token()}", "Idempotency-Key": key}
    first = httpx.post(f"{server.url}/api/v1/calls", json=body, headers=headers)
    assert first.status_code == 201, first.text
    server.kill9()  # the client never read the answer, say: it asks again
    stored = _stored(server.data)

    server.start()
    headers["Authorization"] = f"Bearer {server.token()}"
    again = httpx.post(f"{server.url}/api/v1/calls", json=body, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert _stored(server.data) == stored
    # Without the key, the client-chosen id still keeps a retried create from making two.
    plain = httpx.post(f"{server.url}/api/v1/calls", json=body,
                       headers={"Authorization": headers["Authorization"]})
    assert plain.status_code == 409 and plain.json()["error"] == "already_exists"
    assert _stored(server.data) == stored


# ------------------------------------------------------------------ killed between commit and answer


@pytest.fixture
def store_server(store: str, tmp_path: Path, request: pytest.FixtureRequest):
    dsn = request.getfixturevalue("fresh_pg_dsn") if store == "postgres" else None
    s = Server(tmp_path / "data", dsn)
    s.data.mkdir()
    yield s
    s.stop()


def _log(server: Server) -> list[int]:
    """The notification ids of the stored events (either store), read beside the server."""
    from eoc.app.config import Settings
    from eoc.app.service import EOCApplication

    app = EOCApplication(env=Settings.from_env(server.env).eventsourcing_env())
    try:
        return [n.id for n in app.recorder.select_notifications(start=0, limit=1_000_000)]
    finally:
        app.close()


def _killed_by_the_fault_hook(server: Server, path: str, body: dict, headers: dict) -> None:
    with pytest.raises(httpx.TransportError):  # the answer never comes
        httpx.post(f"{server.url}{path}", json=body, headers=headers, timeout=30)
    assert server.proc is not None
    assert server.proc.wait(timeout=20) == -signal.SIGKILL


def test_a_retry_across_a_kill_9_between_commit_and_answer_gets_the_first_answer(store_server):
    server = store_server
    server.start()
    auth = {"Authorization": f"Bearer {server.token()}"}
    team_id = str(uuid.uuid4())
    home = {"lat": 36.27, "lon": 50.0}
    ok = [httpx.post(f"{server.url}/api/v1/teams", json={"province": "QZV", "county": "Qazvin", "team_id": team_id,
                                                          "name": "QZV-1", "home": home}, headers=auth),
          httpx.post(f"{server.url}/api/v1/teams/{team_id}/shift/start",
                     json={"shift": "morning", "members": ["staff-1"]}, headers=auth)]
    call = httpx.post(f"{server.url}/api/v1/calls", json={"province": "QZV", "county": "Qazvin"}, headers=auth)
    call_id = call.json()["call_id"]
    ok.append(httpx.post(f"{server.url}/api/v1/calls/{call_id}/classify",
                         json={"category": "spouse_abuse", "priority": "urgent"}, headers=auth))
    incident = httpx.post(f"{server.url}/api/v1/calls/{call_id}/escalate", json={"location": home}, headers=auth)
    ok += [call, incident, httpx.post(f"{server.url}/api/v1/teams/{team_id}/dispatch",
                                      json={"incident_id": incident.json()["incident_id"]}, headers=auth)]
    assert all(r.status_code in (200, 201) for r in ok), [r.text for r in ok]
    server.stop()

    new_call = {"province": "QZV", "county": "Takestan", "call_id": str(uuid.uuid4()), "caller": {"name": "زهرا"}}
    commands = [  # a create, and a transition that the rules refuse when it is run twice
        ("/api/v1/calls", new_call, 201, {"call_id": new_call["call_id"]}),
        (f"/api/v1/teams/{team_id}/status", {"status": "en_route"}, 200, {"team_id": team_id, "status": "en_route"}),
    ]
    for path, body, status, expected in commands:
        server.start(kill_before_answer=f"^{path}$")
        headers = {"Authorization": f"Bearer {server.token()}", "Idempotency-Key": f"kill-{uuid.uuid4().hex}"}
        before = _log(server)
        _killed_by_the_fault_hook(server, path, body, headers)
        stored = _log(server)
        assert len(stored) > len(before), f"{path}: the command was not committed before the kill"

        server.start()
        headers["Authorization"] = f"Bearer {server.token()}"
        again = httpx.post(f"{server.url}{path}", json=body, headers=headers)
        assert again.status_code == status, (path, again.text)
        assert again.json().items() >= {**expected, "position": stored[-1]}.items(), (path, again.json())
        assert again.headers.get("idempotent-replayed") == "true"
        assert _log(server) == stored, f"{path}: the retry stored something"
        # And again (the answer is kept now); without the key, the store refuses it as a repeat.
        assert httpx.post(f"{server.url}{path}", json=body, headers=headers).json() == again.json()
        plain = httpx.post(f"{server.url}{path}", json=body, headers={"Authorization": headers["Authorization"]})
        assert plain.status_code == 409, (path, plain.text)
        assert _log(server) == stored
        server.stop()
