"""People sign in; sessions end; the access log names who read which secret; abuse limits;
headers; data at rest (issue: identity and access)."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest

from eoc.app.auth import MAX_ACCESS_S, TokenSigner
from eoc.app.config import Settings, WeakSecret
from tests.support import scenario
from tests.support.bridge import Dashboard
from tests.support.served import free_port_pair


@pytest.fixture
def store() -> str:
    return "sqlite"  # the PostgreSQL directory has its own test below


def closed_with(dash: Dashboard, timeout: float = 5.0) -> tuple[int, str]:
    from websockets.exceptions import ConnectionClosed

    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                dash.frame(timeout=max(0.05, deadline - time.monotonic()))
            except TimeoutError:
                continue
    except ConnectionClosed as closed:
        return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError(f"still open after {timeout}s")

PASSWORD = "correct horse battery staple"


def add(api: Any, username: str, role: str, province: str, **kw: Any) -> tuple[Any, str | None]:
    return api.system.directory.add(username, PASSWORD, role, province, **kw)


def sign_in(api: Any, username: str, totp: str | None, **kw: Any) -> Any:
    body = {"username": username, "password": PASSWORD, **kw}
    if totp:
        body["code"] = pyotp.TOTP(totp).now()
    return api.http.post("/api/v1/auth/sign-in", json=body)


def bearer(answer: Any) -> dict[str, str]:
    return {"Authorization": "Bearer " + answer.json()["access_token"]}


def test_sign_in_needs_the_second_factor_for_roles_that_see_secrets(api):
    user, totp = add(api, "maryam.qzv", "centre_staff", "QZV")
    assert totp  # centre staff see secret places: a TOTP secret is enrolled
    assert sign_in(api, "maryam.qzv", None).status_code == 401  # password alone is not enough
    answer = sign_in(api, "maryam.qzv", totp)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["expires_in"] <= 15 * 60 and body["refresh_token"]
    claims = api.system.signer.verify(body["access_token"])
    assert claims.sub == user.id and claims.sid == body["session"] and str(claims.role) == "centre_staff"
    # A dispatcher sees no secrets: the password alone signs in.
    _, none = add(api, "reza.qzv", "dispatcher", "QZV")
    assert none is None and sign_in(api, "reza.qzv", None).status_code == 200


def test_tokens_carry_iss_aud_iat_exp_jti_and_a_key_id_and_keys_rotate(api):
    old = TokenSigner(b"k" * 8 + b"old-key-0123456789abcdef0123")
    token = old.issue("dispatcher", "QZV", sub="U-1")
    header, body, _ = token.split(".")
    import base64

    def part(text: str) -> dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))

    claims = part(body)
    assert {"iss", "aud", "iat", "exp", "jti", "sub", "role", "province"} <= set(claims)
    assert claims["exp"] - claims["iat"] <= MAX_ACCESS_S and part(header)["kid"] == old.kid
    with pytest.raises(ValueError):
        old.issue("dispatcher", "QZV", ttl_s=100 * 365 * 86400)  # no 100-year tokens
    rotated = TokenSigner(b"new-key-0123456789abcdef0123456789", previous=[b"k" * 8 + b"old-key-0123456789abcdef0123"])
    assert rotated.verify(token).sub == "U-1"  # issued before the rotation: still good
    assert rotated.kid != old.kid and rotated.verify(rotated.issue("dispatcher", "QZV")).role == "dispatcher"
    from eoc.domain.errors import Unauthorized

    with pytest.raises(Unauthorized):
        TokenSigner(b"new-key-0123456789abcdef0123456789").verify(token)  # the old key retired


def test_refresh_logout_disable_and_end_all_sessions_take_effect_at_once(api):
    from eoc.app.limits import Limiter, Rate

    api.system.limits.sign_in_user = Limiter(Rate(burst=100, per_s=1))  # many sign-ins, on purpose
    user, _ = add(api, "ali.qzv", "dispatcher", "QZV")
    first = sign_in(api, "ali.qzv", None)
    summary = "/api/v1/boards/summary"
    assert api.http.get(summary, headers=bearer(first)).status_code == 200
    # Refresh: a new pair; the spent refresh token no longer works.
    renewed = api.http.post("/api/v1/auth/refresh", json={"refresh_token": first.json()["refresh_token"]})
    assert renewed.status_code == 200
    again = api.http.post("/api/v1/auth/refresh", json={"refresh_token": first.json()["refresh_token"]})
    assert again.status_code == 401
    # Logout ends the session: its access token is refused at once, and so is its refresh.
    assert api.http.post("/api/v1/auth/sign-out", headers=bearer(renewed)).json()["session_ended"] is True
    assert api.http.get(summary, headers=bearer(renewed)).status_code == 401
    assert api.http.post("/api/v1/auth/refresh",
                         json={"refresh_token": renewed.json()["refresh_token"]}).status_code == 401
    # Two devices; "end all sessions" ends both.
    a, b = sign_in(api, "ali.qzv", None), sign_in(api, "ali.qzv", None)
    api.system.directory.end_sessions(user.id)
    assert api.http.get(summary, headers=bearer(a)).status_code == 401
    assert api.http.get(summary, headers=bearer(b)).status_code == 401
    # Disabling: sign-in refused, old tokens dead.
    c = sign_in(api, "ali.qzv", None)
    api.system.directory.set_disabled(user.id, True)
    assert api.http.get(summary, headers=bearer(c)).status_code == 401
    assert sign_in(api, "ali.qzv", None).status_code == 401
    api.system.directory.set_disabled(user.id, False)
    assert sign_in(api, "ali.qzv", None).status_code == 200


def test_a_team_tablet_gets_a_longer_session_revocable_on_its_own(api):
    team = scenario.team(api) if hasattr(scenario, "team") else api.ok("/teams", {**scenario.QZV, "name": "T1",
                                                                                "home": {"lat": 36.27, "lon": 50.0}})["team_id"]
    add(api, "tablet.qzv.1", "team", "QZV", team=team)
    desk = sign_in(api, "tablet.qzv.1", None)
    tablet = sign_in(api, "tablet.qzv.1", None, device=True, label="QZV-01 tablet")
    assert tablet.json()["refresh_expires_at"] - time.time() > 7 * 86400 > desk.json()["refresh_expires_at"] - time.time()
    supervisor, totp = add(api, "sup.qzv", "provincial_supervisor", "QZV")
    sup = sign_in(api, "sup.qzv", totp)
    r = api.http.delete(f"/api/v1/sessions/{tablet.json()['session']}", headers=bearer(sup))
    assert r.status_code == 200 and r.json()["ended"] is True
    assert api.http.get("/api/v1/auth/me", headers=bearer(tablet)).status_code == 401
    assert api.http.get("/api/v1/auth/me", headers=bearer(desk)).status_code == 200  # the other one lives


def test_a_supervisor_manages_its_province_only_and_unlocks_after_lockout(api):
    _, totp = add(api, "sup.qzv", "provincial_supervisor", "QZV")
    sup = bearer(sign_in(api, "sup.qzv", totp))
    made = api.http.post("/api/v1/users", headers=sup, json={"username": "new.ct", "password": PASSWORD,
                                                              "role": "call_taker", "province": "QZV"})
    assert made.status_code == 201 and made.json()["totp_uri"].startswith("otpauth://")
    other = api.http.post("/api/v1/users", headers=sup, json={"username": "alb.ct", "password": PASSWORD,
                                                               "role": "call_taker", "province": "ALB"})
    assert other.status_code == 403
    national = api.http.post("/api/v1/users", headers=sup, json={"username": "n.eoc", "password": PASSWORD,
                                                                  "role": "national_eoc", "province": "IR"})
    assert national.status_code == 403
    listed = api.http.get("/api/v1/users", headers=sup).json()["users"]
    assert {u["username"] for u in listed} == {"sup.qzv", "new.ct"}
    # Five wrong passwords lock the account; the right one is then refused until unlocked.
    from eoc.app.limits import Limiter, Rate

    api.system.limits.sign_in_user = Limiter(Rate(burst=100, per_s=1))  # the lockout, not the rate limit
    add(api, "disp.qzv", "dispatcher", "QZV")
    for _ in range(5):
        api.http.post("/api/v1/auth/sign-in", json={"username": "disp.qzv", "password": "wrong password!!"})
    locked = sign_in(api, "disp.qzv", None)
    assert locked.status_code == 401 and "locked" in locked.json()["reason"]
    assert api.http.post("/api/v1/users/disp.qzv/unlock", headers=sup).status_code == 200
    assert sign_in(api, "disp.qzv", None).status_code == 200


def test_the_first_administrator_is_made_once(api):
    user, totp = api.system.directory.add("first.admin", PASSWORD, "national_eoc", "IR", first=True)
    assert totp and str(user.role) == "national_eoc"
    from eoc.domain.errors import Conflict

    with pytest.raises(Conflict):
        api.system.directory.add("second.admin", PASSWORD, "national_eoc", "IR", first=True)


def test_a_one_time_link_signs_in_once(api):
    user, _ = add(api, "demo-dispatcher", "dispatcher", "QZV")
    code = api.system.directory.make_link(user.id)
    first = api.http.post("/api/v1/auth/link", json={"code": code})
    assert first.status_code == 200 and api.system.signer.verify(first.json()["access_token"]).sub == user.id
    assert api.http.post("/api/v1/auth/link", json={"code": code}).status_code == 401  # used
    stale = api.system.directory.make_link(user.id, ttl_s=-1)
    assert api.http.post("/api/v1/auth/link", json={"code": stale}).status_code == 401  # expired


def test_sign_in_is_rate_limited_with_429_in_the_error_shape(api):
    add(api, "target.qzv", "dispatcher", "QZV")
    codes = [api.http.post("/api/v1/auth/sign-in", json={"username": "target.qzv", "password": "x" * 12}).status_code
             for _ in range(12)]
    assert 429 in codes
    r = api.http.post("/api/v1/auth/sign-in", json={"username": "target.qzv", "password": "x" * 12})
    assert r.status_code == 429 and r.json()["error"] == "too_many_requests" and r.json()["reason"]
    assert int(r.headers["Retry-After"]) >= 1


def test_commands_are_rate_limited_per_user(api):
    from eoc.app.limits import Limiter, Rate

    api.system.limits.commands_user = Limiter(Rate(burst=3, per_s=0.01))
    answers = [api.post("/calls", {**scenario.QZV, "line": "123"}, role="call_taker", sub="U-fast").status_code
               for _ in range(5)]
    assert answers[:3] == [201, 201, 201] and answers[3:] == [429, 429]
    # Another user is not held up by the first one's limit.
    assert api.post("/calls", {**scenario.QZV, "line": "123"}, role="call_taker", sub="U-slow").status_code == 201


def test_every_answer_carries_the_security_headers(api):
    for path in ("/", "/signin.html", "/api/v1/boards", "/health"):
        r = api.http.get(path, headers=api.token())
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"], path
        assert r.headers["Referrer-Policy"] == "no-referrer", path
    assert api.http.get("/api/v1/boards", headers=api.token()).headers["Cache-Control"] == "no-store"
    refused = api.http.get("/api/v1/boards")
    assert refused.status_code == 401 and refused.headers["Cache-Control"] == "no-store"


def test_access_log_records_secret_reads_sign_ins_refusals_and_admin_and_names_a_tampered_entry(api):
    staff = {"role": "centre_staff"}
    house = scenario.centre(api, kind="safe_house", capacity=3)
    api.ok(f"/centres/{house}/admissions", {"route": "judiciary", "client_id": "C-logged-1"}, **staff)
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id())
    user, totp = add(api, "staff.qzv", "centre_staff", "QZV")
    session = sign_in(api, "staff.qzv", totp)
    api.http.post("/api/v1/auth/sign-in", json={"username": "staff.qzv", "password": "not the password"})
    rows = api.http.get("/api/v1/boards", headers=bearer(session)).json()["rows"]
    assert rows[f"centre/{house}"]["location"] is not None  # the read returned the place
    api.post("/teams", {**scenario.QZV, "name": "x", "home": {"lat": 36.2, "lon": 50.0}}, role="national_eoc",
             province="IR")  # refused
    log = api.system.access_log
    entries = log.entries()
    mine = [e for e in entries if e.user == user.id]
    assert ("read_secret_place", house, "api") in {(e.action, e.subject, e.channel) for e in mine}
    assert ("read_client_ids", house) in {(e.action, e.subject) for e in mine}
    actions = {e.action for e in entries}
    assert {"sign_in", "sign_in_failed", "refused"} <= actions
    # Auditors read it over HTTP; no one else does.
    auditor = api.token("auditor", "IR")
    seen = api.http.get("/api/v1/access-log", headers=auditor, params={"action": "read_secret_place"})
    assert seen.status_code == 200 and all(e["action"] == "read_secret_place" for e in seen.json()["entries"])
    assert api.http.get("/api/v1/access-log", headers=api.token()).status_code == 403
    assert api.http.get("/api/v1/access-log/verify", headers=auditor).json() == {"ok": True, "problems": []}
    # Tamper with one entry: verification names it.
    victim = mine[0].seq
    with log._db.tx() as q:
        q("UPDATE access_log SET subject='someone-else' WHERE seq=?", (victim,))
    problems = log.verify()
    assert problems and f"entry {victim} " in problems[0]


def test_the_bridge_records_secret_reads_of_each_socket(system, api, bridge):
    house = scenario.centre(api, kind="safe_house", capacity=3)
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id())
    if True:
        handle = bridge()
        # two users' dashboards of one view: the frame is built once, each read is recorded
        users = ("U-watcher", "U-watcher-2")
        dashes = [Dashboard(handle, system.signer.issue("centre_staff", "QZV", sub=user)) for user in users]
        assert [d.frame()["type"] for d in dashes] == ["snapshot", "snapshot"]
        api.ok(f"/centres/{house}/admissions", {"route": "judiciary", "client_id": "C-delta-1"}, role="centre_staff")
        for dash in dashes:
            dash.until(lambda rows: "C-delta-1" in str(rows.get(f"centre/{house}")))

        def frames(user):
            return {(e.action, json.loads(e.detail)["frame"])
                    for e in system.access_log.entries(user=user, subject=house)}

        told = {("read_secret_place", "snapshot"), ("read_client_ids", "delta")}
        deadline = time.time() + 5
        while time.time() < deadline and any(not told <= frames(u) for u in users):
            time.sleep(0.1)
        assert [told <= frames(u) for u in users] == [True, True], [frames(u) for u in users]
        for dash in dashes:
            dash.close()


def test_websocket_origin_of_another_site_is_refused(system, bridge):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    if True:
        handle = bridge()
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{handle.port}/", origin="http://evil.example")
        assert refused.value.response.status_code == 403
        with connect(f"ws://127.0.0.1:{handle.port}/", origin=f"http://127.0.0.1:{handle.port - 1}") as ok:
            ok.send(json.dumps({"token": system.signer.issue("dispatcher", "QZV")}))
            assert json.loads(ok.recv(timeout=5))["type"] == "snapshot"


def test_a_revoked_session_closes_its_dashboard_within_seconds(system, api, bridge):
    user, _ = add(api, "wall.qzv", "dispatcher", "QZV")
    answer = sign_in(api, "wall.qzv", None).json()
    if True:
        handle = bridge(max_per_user=2)
        dash = Dashboard(handle, answer["access_token"])
        assert dash.frame()["type"] == "snapshot"
        # A user holds at most max_per_user dashboards.
        extra = [Dashboard(handle, answer["access_token"]) for _ in range(2)]
        closes = [closed_with(d, timeout=2) if i else None for i, d in enumerate(extra)]
        assert (4429, "too many dashboards open for this user") in closes
        system.directory.set_disabled(user.id, True)
        t0 = time.time()
        assert closed_with(dash, timeout=5) == (4401, "session ended")
        assert time.time() - t0 < 5


def test_data_directory_is_the_owners_alone(tmp_path: Path):
    from eoc.main.bootstrap import build

    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "old.json").write_text("{}")
    os.chmod(data / "old.json", 0o644)
    system = build(Settings.from_env({"EOC_DATA_DIR": str(data)}), checkpoint=False)
    try:
        system.directory.add("someone.qzv", PASSWORD, "dispatcher", "QZV")
        system.access_log.record(user="u", role="auditor", province="IR", action="x", channel="cli")
    finally:
        system.close()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = [f for f in data.iterdir() if f.is_file()]
    assert {"events.sqlite", "keys.sqlite", "users.sqlite", "access.sqlite", "token.secret"} <= {f.name for f in files}
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name


@pytest.mark.parametrize("value", ["change-me-to-32-random-bytes-or-more", "short", "a" * 40])
def test_a_weak_or_placeholder_secret_is_refused_at_start(tmp_path: Path, value: str):
    with pytest.raises(WeakSecret) as refused:
        Settings.from_env({"EOC_DATA_DIR": str(tmp_path), "EOC_TOKEN_SECRET": value})
    assert "EOC_TOKEN_SECRET" in str(refused.value)
    secret_file = tmp_path / "secret"
    secret_file.write_text("placeholder-placeholder-placeholder-123")
    with pytest.raises(WeakSecret):
        Settings.from_env({"EOC_DATA_DIR": str(tmp_path), "EOC_MASTER_KEY_FILE": str(secret_file)})


def test_the_keyring_can_live_apart_wrapped_by_a_master_key(tmp_path: Path):
    from eoc.main.bootstrap import build

    master = tmp_path / "master.key"
    master.write_text(os.urandom(24).hex())
    env = {"EOC_DATA_DIR": str(tmp_path / "data"), "EOC_KEYRING_PATH": str(tmp_path / "vault" / "keys.sqlite"),
           "EOC_MASTER_KEY_FILE": str(master)}
    (tmp_path / "vault").mkdir()
    system = build(Settings.from_env(env), checkpoint=False)
    try:
        key = system.keyring.create("S-someone")
        assert system.keyring.get("S-someone") == key
    finally:
        system.close()
    assert not (tmp_path / "data" / "keys.sqlite").exists()
    import sqlite3

    stored = sqlite3.connect(tmp_path / "vault" / "keys.sqlite").execute("SELECT key FROM subject_keys").fetchone()[0]
    assert key not in bytes(stored)  # the database alone opens nothing


def test_compose_passes_secrets_as_docker_secrets_and_publishes_no_database():
    import re

    text = (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    assert "\nsecrets:\n" in text and "EOC_TOKEN_SECRET_FILE: /run/secrets/" in text
    assert "POSTGRES_PASSWORD_FILE" in text and "change-me" not in text
    services = re.split(r"\n  (?=[a-z][\w-]*:\n)", text.split("\nservices:\n", 1)[1].split("\nsecrets:\n")[0])
    published = {block.split(":", 1)[0] for block in services if "\n    ports:" in block}
    assert published == {"proxy"}  # neither PostgreSQL nor Kafka, nor the plain API and bridge
    proxy = next(b for b in services if b.startswith("proxy:"))
    assert "image: ${CADDY_IMAGE:-caddy:2}" in proxy and ":443" in proxy


def test_a_deployment_can_refuse_tokens_of_no_signed_in_person(make_system):
    from fastapi.testclient import TestClient

    from eoc.http.api import create_api

    system = make_system(sessionless_tokens=False)
    http = TestClient(create_api(system))
    dev = {"Authorization": "Bearer " + system.signer.issue("dispatcher", "QZV", sub="operator")}
    refused = http.get("/api/v1/boards", headers=dev)
    assert refused.status_code == 401 and "signed-in" in refused.json()["reason"]
    system.directory.add("desk.qzv", PASSWORD, "dispatcher", "QZV")
    answer = http.post("/api/v1/auth/sign-in", json={"username": "desk.qzv", "password": PASSWORD})
    assert http.get("/api/v1/boards", headers=bearer(answer)).status_code == 200


def test_sockets_waiting_for_a_token_are_capped(system, bridge):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    handle = bridge(max_unauthenticated=2)
    waiting = [connect(f"ws://127.0.0.1:{handle.port}/") for _ in range(2)]  # silent: no token yet
    try:
        time.sleep(0.2)
        with connect(f"ws://127.0.0.1:{handle.port}/") as third:
            with pytest.raises(ConnectionClosed) as closed:
                third.recv(timeout=5)
            assert closed.value.rcvd.code == 1013
    finally:
        for ws in waiting:
            ws.close()
    time.sleep(0.2)
    ok = Dashboard(handle, system.signer.issue("dispatcher", "QZV"))  # room again once they are gone
    assert ok.frame()["type"] == "snapshot"
    ok.close()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_for_the_api_and_the_bridge(make_system, tmp_path: Path):
    import asyncio
    import socket
    import ssl
    import threading

    import httpx
    from websockets.sync.client import connect

    from eoc.main.runtime import serve_embedded
    from ui_bridge.loop_thread import LoopThread

    cert, key = _self_signed(tmp_path)
    system = make_system(tls_cert=cert, tls_key=key)
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    loop = LoopThread("tls")
    ready, addresses = threading.Event(), []

    async def make_stop() -> asyncio.Event:
        return asyncio.Event()

    stop = loop.run(make_stop())
    served = loop.spawn(lambda: serve_embedded(system, host="127.0.0.1", port=ports[0], bridge_port=ports[1],
                                               on_ready=lambda a: (addresses.append(a), ready.set()), stop=stop))
    try:
        assert ready.wait(20), served
        assert addresses[0].dashboard.startswith("https://") and addresses[0].bridge.startswith("wss://")
        with httpx.Client(verify=ssl.create_default_context(cafile=str(cert))) as http:
            r = http.get(f"https://127.0.0.1:{ports[0]}/health")
            assert r.status_code == 200 and r.headers["Strict-Transport-Security"]
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{ports[0]}/health", timeout=3)  # no plain HTTP beside it
        context = ssl.create_default_context(cafile=str(cert))
        with connect(f"wss://127.0.0.1:{ports[1]}/", ssl=context) as ws:
            ws.send(json.dumps({"token": system.signer.issue("dispatcher", "QZV")}))
            assert json.loads(ws.recv(timeout=5))["type"] == "snapshot"
    finally:
        loop.call(stop.set)
        served.result(20)
        loop.close()


def test_every_event_names_the_signed_in_person_and_role(api):
    user, totp = add(api, "caller.desk", "call_taker", "QZV")
    session = sign_in(api, "caller.desk", totp)
    r = api.http.post("/api/v1/calls", json={**scenario.QZV, "line": "123"}, headers=bearer(session))
    assert r.status_code == 201, r.text
    rec = api.system.app.recorder
    last = api.system.app.mapper.to_domain_event(rec.select_notifications(start=0, limit=1_000_000)[-1])
    assert last.actor["user"] == user.id and last.actor["role"] == "call_taker"
    assert user.id.startswith("U-")  # pseudonymous: no name, no username


def test_a_flood_of_bad_tokens_is_answered_429(api):
    codes = [api.http.get("/api/v1/boards", headers={"Authorization": f"Bearer bad.{i}.token"}).status_code
             for i in range(30)]
    assert codes[0] == 401 and codes[-1] == 429
    assert api.http.get("/api/v1/boards", headers={"Authorization": "Bearer x.y.z"}).json()["error"] == "too_many_requests"


def test_eoc_demo_prints_one_time_links_and_keeps_its_files_closed(tmp_path: Path):
    import re
    import signal
    import subprocess
    import sys

    import httpx

    port = free_port_pair()  # the demo's bridge takes port + 1
    data = tmp_path / "demo-data"
    env = {**os.environ, "EOC_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}
    env.pop("EOC_TOKEN_SECRET", None)
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from eoc.cli import main; sys.exit(main())",
                             "demo", "--provinces", "QZV", "--speed", "600", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while not any("auditor" in line for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            lines.append(proc.stdout.readline())
        out = "".join(lines)
        assert "#token=" not in out and "Bearer" not in out  # no reusable token is printed
        links = dict(re.findall(r"^\s+(\w+)\s+(http://\S+/signin\.html#link=\S+)$", out, re.M))
        assert set(links) == {"call_taker", "dispatcher", "team", "centre_staff", "provincial_supervisor",
                              "national_eoc", "auditor"}
        code = links["dispatcher"].split("#link=")[1]
        base = f"http://127.0.0.1:{port}"
        first = httpx.post(f"{base}/api/v1/auth/link", json={"code": code})
        assert first.status_code == 200 and first.json()["user"]["role"] == "dispatcher"
        assert httpx.post(f"{base}/api/v1/auth/link", json={"code": code}).status_code == 401  # once only
        # The simulator signs its desks in (directory users) and drives the system: its files
        # (events, keys, users, access log, boards, their WAL files) all appear meanwhile.
        deadline = time.monotonic() + 60
        while not any(e.action == "sign_in" and e.channel == "service" for e in _access_entries(data)):
            assert time.monotonic() < deadline and proc.poll() is None, "the simulator signed no desk in"
            time.sleep(0.5)
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        names = set()
        for f in data.iterdir():
            names.add(f.name)
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
        assert {"events.sqlite", "keys.sqlite", "users.sqlite", "access.sqlite"} <= names
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _access_entries(data: Path) -> list[Any]:
    from eoc.app.access_log import AccessLog

    if not (data / "access.sqlite").exists():
        return []
    log = AccessLog(path=data / "access.sqlite")
    try:
        return log.entries(limit=5000)
    finally:
        log.close()


def test_eoc_token_mints_no_long_lived_token(api, monkeypatch, capsys):
    """The finding: ``eoc token --hours 876000`` (100 years) worked."""
    from eoc.cli import main

    monkeypatch.setenv("EOC_DATA_DIR", str(api.system.settings.data_dir))
    monkeypatch.setenv("EOC_TOKEN_SECRET", api.system.settings.token_secret.decode())
    with pytest.raises(SystemExit):
        main(["token", "--role", "dispatcher", "--province", "QZV", "--hours", "876000"])
    assert main(["token", "--role", "dispatcher", "--province", "QZV", "--minutes", str(876000 * 60)]) == 2
    assert "at most 15 minutes" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a service account has no token at all
        main(["token", "--role", "watchdog", "--province", "IR"])


def test_eoc_erase_of_a_places_key_is_refused_and_the_house_keeps_its_location(api, monkeypatch):
    """The finding: ``eoc erase place:<house id>`` destroyed a safe house's location."""
    from eoc.cli import main

    house = scenario.centre(api, kind="safe_house", capacity=3)
    monkeypatch.setenv("EOC_DATA_DIR", str(api.system.settings.data_dir))
    monkeypatch.setenv("EOC_TOKEN_SECRET", api.system.settings.token_secret.decode())
    assert main(["erase", f"place:{house}", "--yes"]) != 0
    assert api.system.keyring.get(f"place:{house}") is not None
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id())
    rows = api.http.get("/api/v1/boards", headers=api.token()).json()["rows"]
    assert rows[f"centre/{house}"]["location"] is not None
