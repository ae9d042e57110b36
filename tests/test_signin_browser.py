"""Signing in and out in a real Chromium: password and TOTP, the live board, logout; a disabled
user's open dashboard is closed within seconds and its refresh refused."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest

from .test_dashboard_browser import QAZVIN, QZV, browser, clock, embedded, page, store  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"


def sign_in_on_the_page(page: Any, base: str, username: str, totp: str | None) -> None:
    page.goto(f"{base}/signin.html")
    page.fill("#si-user", username)
    page.fill("#si-pass", PASSWORD)
    if totp:
        page.fill("#si-code", pyotp.TOTP(totp).now())
    page.click("#si-submit")
    page.wait_for_selector("body[data-conn='live']", timeout=10_000)


def test_sign_in_with_password_and_totp_work_and_sign_out(embedded, page):
    user, totp = embedded.system.directory.add("sup.qzv", PASSWORD, "provincial_supervisor", "QZV")
    assert totp
    page.goto(f"{embedded.base}/")  # no session: the dashboard sends the operator to sign in
    page.wait_for_url("**/signin.html", timeout=5_000)
    page.fill("#si-user", "sup.qzv")
    page.fill("#si-pass", PASSWORD)
    page.click("#si-submit")  # no code: refused, and the page says why
    page.wait_for_selector("#si-error:not([hidden])", timeout=5_000)
    sign_in_on_the_page(page, embedded.base, "sup.qzv", totp)
    assert "token" not in page.url and "#" not in page.url  # never in the address bar
    stored = page.evaluate("sessionStorage.getItem('eoc.session')")
    assert stored and embedded.system.signer.verify(__import__("json").loads(stored)["access"]).sub == user.id
    # Work: a team registered by the supervisor (over the API) appears on the board.
    embedded.post("/teams", {**QZV, "name": "SIGNED-IN-TEAM", "home": QAZVIN})
    page.wait_for_selector("text=SIGNED-IN-TEAM", timeout=5_000)
    # Sign out: back to the sign-in page; the session is over on the server too.
    session = __import__("json").loads(stored)
    page.click("#sign-out")
    page.wait_for_url("**/signin.html", timeout=5_000)
    assert page.evaluate("sessionStorage.getItem('eoc.session')") is None
    r = embedded.http.get("/api/v1/auth/me", headers={"Authorization": "Bearer " + session["access"]})
    assert r.status_code == 401
    assert embedded.http.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh"]}).status_code == 401


def test_a_disabled_users_open_dashboard_is_closed_within_seconds(embedded, page):
    user, _ = embedded.system.directory.add("wall.qzv", PASSWORD, "dispatcher", "QZV")
    sign_in_on_the_page(page, embedded.base, "wall.qzv", None)
    session = __import__("json").loads(page.evaluate("sessionStorage.getItem('eoc.session')"))
    embedded.system.directory.set_disabled(user.id, True)
    t0 = time.monotonic()
    page.wait_for_selector("body[data-conn='unauthorized']", timeout=5_000)
    assert time.monotonic() - t0 < 5
    assert embedded.http.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh"]}).status_code == 401
