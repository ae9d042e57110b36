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
