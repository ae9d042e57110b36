"""The user directory and the access log on both stores (SQLite embedded, PostgreSQL in a
cluster): the same cases through the ``store`` fixture."""

from __future__ import annotations

import time

import pytest

from eoc.app.auth import Claims
from eoc.domain.errors import Conflict
from events.vocabulary import Role

PASSWORD = "correct horse battery staple"


def test_directory_people_sessions_and_revocation(system):
    d = system.directory
    user, totp = d.add("sara.qzv", PASSWORD, "centre_staff", "QZV", centre="C-1")
    with pytest.raises(Conflict):
        d.add("sara.qzv", PASSWORD, "dispatcher", "QZV")
    import pyotp

    assert d.check_credentials("sara.qzv", PASSWORD, pyotp.TOTP(totp).now()) == (user, "")
    assert d.check_credentials("sara.qzv", PASSWORD, None)[1] == "wrong or missing second-factor code"
    assert d.check_credentials("nobody", PASSWORD, None) == (None, "unknown user")
    session, refresh = d.open_session(user.id)
    claims = Claims(sub=user.id, role=Role.CENTRE_STAFF, province="QZV", exp=0, centre="C-1",
                    iat=int(time.time()), sid=session.id)
    assert d.token_live(claims) is None
    turned = d.rotate_refresh(refresh)
    assert turned is not None and d.rotate_refresh(refresh) is None  # spent
    before = time.time()
    assert d.revoke_session(session.id) is True
    assert d.token_live(claims) == "the session has ended; sign in again"
    sids, _ = d.revoked_since(before - 1)
    assert session.id in sids
    d.set_disabled(user.id, True)
    _, users = d.revoked_since(before - 1)
    assert user.id in users
    assert [u.username for u in d.list("QZV")] == ["sara.qzv"]


def test_access_log_chain_on_each_store(system):
    log = system.access_log
    for i in range(3):
        log.record(user=f"U-{i}", role="auditor", province="IR", action="read_secret_place", channel="api",
                   subject=f"place-{i}")
    assert log.verify() == []
    assert [e.subject for e in log.entries(action="read_secret_place")] == ["place-0", "place-1", "place-2"]
    with log._db.tx() as q:
        q("DELETE FROM access_log WHERE seq = ?", (2,))
    problems = log.verify()
    assert problems and "entry 2 is missing" in problems[0]


@pytest.mark.postgres
def _dispatcher_with_two_sessions(directory):
    """A dispatcher of Qazvin signed in twice, and the claims of a token of the first session."""
    user, _ = directory.add("reza.qzv", PASSWORD, "dispatcher", "QZV")
    session, _ = directory.open_session(user.id)
    other, _ = directory.open_session(user.id)
    claims = Claims(sub=user.id, role=Role.DISPATCHER, province="QZV", exp=0, iat=int(time.time()), sid=session.id)
    return user, session, other, claims


def test_a_token_found_live_is_remembered_only_until_the_directory_changes_in_any_process(fresh_pg_dsn):
    """Two API processes on one PostgreSQL directory (two ``UserDirectory`` objects, each with
    its own pool and watch). A token found live is then known without a round trip, until a
    change anywhere: this process's own write (at once), another process's (by its
    notification), a statement typed by hand (the trigger), or the watch losing its connection."""
    import psycopg

    from eoc.app.users import UserDirectory
    from tests.support.cluster import wait_until

    here, there = UserDirectory(dsn=fresh_pg_dsn), UserDirectory(dsn=fresh_pg_dsn)
    try:
        user, session, other, claims = _dispatcher_with_two_sessions(here)

        def found_live() -> bool:  # a look-up that leaves the token remembered
            assert here.token_live(claims) is None
            return here.live_known(claims)

        assert here.live_known(claims) is False  # never looked up
        wait_until(found_live, timeout=10, what="the watch to listen and the token to be remembered")
        assert here.watch is not None and here.watch.listening

        # This process's own write forgets at once (no notification awaited).
        assert here.revoke_session(other.id) is True
        assert here.live_known(claims) is False
        wait_until(found_live, timeout=10, what="the token remembered again")

        # Another process's revocation: forgotten when its notification arrives.
        heard = here.watch.heard
        assert there.revoke_session(session.id) is True
        wait_until(lambda: not here.live_known(claims), timeout=5, what="the other process's revocation heard")
        assert here.watch.heard > heard
        assert here.token_live(claims) == "the session has ended; sign in again"
        assert here.live_known(claims) is False  # a refusal is never remembered

        # A statement typed by hand is heard too (the trigger, not our code, tells).
        fresh, _ = here.open_session(user.id)
        fresh_claims = Claims(sub=user.id, role=Role.DISPATCHER, province="QZV", exp=0, iat=int(time.time()),
                              sid=fresh.id)
        # (the session's own notification comes back too, and forgets once more)
        wait_until(lambda: here.token_live(fresh_claims) is None and here.live_known(fresh_claims), timeout=10,
                   what="the new session's token remembered")
        with psycopg.connect(fresh_pg_dsn, autocommit=True) as conn:
            conn.execute("UPDATE users SET disabled = 1 WHERE id = %s", (user.id,))
        wait_until(lambda: not here.live_known(fresh_claims), timeout=5, what="the hand-typed change heard")
        assert here.token_live(fresh_claims) == "the account is disabled"

        # The watch's connection cut: nothing is known until it listens again, then it goes on.
        with psycopg.connect(fresh_pg_dsn, autocommit=True) as conn:
            conn.execute("UPDATE users SET disabled = 0 WHERE id = %s", (user.id,))
        wait_until(lambda: here.token_live(fresh_claims) is None and here.live_known(fresh_claims), timeout=10,
                   what="the enabled account's token remembered")
        cut = here.watch.backend_pid
        with psycopg.connect(fresh_pg_dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (cut,))
        wait_until(lambda: not here.live_known(fresh_claims), timeout=5, what="the cut connection noticed")
        wait_until(lambda: here.watch.listening and here.watch.backend_pid != cut, timeout=10,
                   what="the watch to listen again")
        assert here.live_known(fresh_claims) is False  # what was known before the cut is forgotten
        wait_until(lambda: here.token_live(fresh_claims) is None and here.live_known(fresh_claims), timeout=10,
                   what="tokens remembered again")
    finally:
        here.close()
        there.close()


def test_embedded_a_token_found_live_is_remembered_until_the_file_changes_in_any_process(tmp_path):
    """The embedded directory (a SQLite file): a token found live is known without a look-up
    until anything commits to the file — this process's own write, or another process's (a
    command typed beside the running system), seen by SQLite's ``data_version`` at the next check."""
    import subprocess
    import sys

    from eoc.app.users import UserDirectory

    path = tmp_path / "users.sqlite"
    here = UserDirectory(path=path)
    try:
        _, session, other, claims = _dispatcher_with_two_sessions(here)
        assert here.live_known(claims) is False  # never looked up
        assert here.token_live(claims) is None
        assert here.live_known(claims) is True

        looked_up: list[object] = []
        look_up = here._token_live
        here._token_live = lambda c: looked_up.append(c) or look_up(c)  # type: ignore[method-assign]

        # This process's own write forgets at once.
        assert here.revoke_session(other.id) is True
        assert here.live_known(claims) is False
        assert here.token_live(claims) is None and here.live_known(claims) is True
        assert len(looked_up) == 1

        # Another process revokes the session: the next check looks it up and refuses.
        script = ("import sys; from pathlib import Path; from eoc.app.users import UserDirectory; "
                  "d = UserDirectory(path=Path(sys.argv[1])); print(d.revoke_session(sys.argv[2])); d.close()")
        done = subprocess.run([sys.executable, "-c", script, str(path), session.id],
                              capture_output=True, text=True, timeout=60)
        assert done.stdout.strip() == "True", done.stderr
        assert here.live_known(claims) is False
        assert here.token_live(claims) == "the session has ended; sign in again"
        assert here.live_known(claims) is False  # a refusal is never remembered
        assert len(looked_up) == 2
    finally:
        here.close()


class _FreezingProxy:
    """A TCP proxy to PostgreSQL that can stop passing bytes while keeping both sockets open:
    a connection the network has dropped without a word (no reset, no close)."""

    def __init__(self, host: str, port: int) -> None:
        import socket
        import threading

        self.target = (host, port)
        self.frozen = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src, dst) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            while self.frozen.is_set():
                time.sleep(0.05)
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.server.close()
        for sock in self.sockets:
            sock.close()


@pytest.mark.postgres
def test_a_watch_whose_connection_goes_silent_stops_trusting_what_it_remembers(fresh_pg_dsn):
    """The listening connection neither fails nor answers (a network that dropped it, a
    pooler that does not pass LISTEN on): the watch's own ping no longer comes back, and within
    seconds it knows nothing, while a look-up in PostgreSQL still answers."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from eoc.app.users import DirectoryWatch, UserDirectory
    from tests.support.cluster import wait_until

    params = conninfo_to_dict(fresh_pg_dsn)
    proxy = _FreezingProxy(params.get("host") or "127.0.0.1", int(params.get("port") or 5432))
    directory = UserDirectory(dsn=fresh_pg_dsn)
    try:
        directory.watch = DirectoryWatch(make_conninfo(fresh_pg_dsn, host="127.0.0.1", port=proxy.port))
        directory._db.on_write = directory.watch.changed
        user, _ = directory.add("mina.qzv", PASSWORD, "dispatcher", "QZV")
        session, _ = directory.open_session(user.id)
        claims = Claims(sub=user.id, role=Role.DISPATCHER, province="QZV", exp=0, iat=int(time.time()),
                        sid=session.id)
        wait_until(lambda: directory.token_live(claims) is None and directory.live_known(claims), timeout=10,
                   what="the token remembered through the proxy")
        proxy.frozen.set()
        silent = time.monotonic()
        wait_until(lambda: not directory.live_known(claims), timeout=10, what="the silent connection noticed")
        assert time.monotonic() - silent < directory.watch.alive_s + 2
        assert directory.watch.listening  # nothing failed: only the missing ping tells
        assert directory.token_live(claims) is None  # PostgreSQL itself (the pool) still answers
        assert directory.live_known(claims) is False
    finally:
        proxy.frozen.clear()
        directory.close()
        proxy.close()
