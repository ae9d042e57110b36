"""Signing in and out in a real Chromium: password and TOTP, the live board, logout; a disabled
user's open dashboard is closed within seconds and its refresh refused."""

from __future__ import annotations

import time

import pyotp
import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.support.browser import PASSWORD, QAZVIN, QZV, sign_in_on_the_page
from tests.support.offline_page import offline_page

pytestmark = pytest.mark.browser


@pytest.fixture
def store() -> str:
    return "sqlite"


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
    # Closed within seconds: the socket ends (4401), the refresh is refused, and the page says so
    # or sends the person back to sign in (the workspace does the latter).
    assert not page.url.endswith("/signin.html")
    closed = False
    while not closed and time.monotonic() - t0 < 5:
        page.wait_for_timeout(100)
        try:
            closed = (page.url.endswith("/signin.html")
                      or page.query_selector("body[data-conn='unauthorized']") is not None)
        except PlaywrightError:  # the page is on its way to the sign-in page
            continue
    assert closed, page.url
    assert embedded.http.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh"]}).status_code == 401


def test_a_supervisor_disables_a_user_of_the_province_in_the_browser(embedded, page):
    _, totp = embedded.system.directory.add("sup.qzv", PASSWORD, "provincial_supervisor", "QZV")
    target, _ = embedded.system.directory.add("ct.qzv", PASSWORD, "call_taker", "QZV")
    embedded.system.directory.add("ct.alb", PASSWORD, "call_taker", "ALB")
    sign_in_on_the_page(page, embedded.base, "sup.qzv", totp)
    page.click("#users-link")
    page.wait_for_selector("tr[data-user='ct.qzv']", timeout=5_000)
    assert page.query_selector("tr[data-user='ct.alb']") is None  # another province's account: not here
    page.click("tr[data-user='ct.qzv'] button[data-act='disable']")
    page.wait_for_selector("tr[data-user='ct.qzv'] button[data-act='enable']", timeout=5_000)
    assert embedded.system.directory.get(target.id).disabled
    entries = embedded.system.access_log.entries(action="admin", subject=target.id)
    assert entries and '"what": "disable"' in entries[-1].detail


def test_a_user_opening_the_standalone_bridges_address_signs_in(embedded, page):
    """The standalone bridge (``eoc bridge``) has no sign-in of its own: opening its address
    leads to the API's sign-in page; once signed in, the dashboard works."""
    from ui_bridge.feed import FollowerFeed
    from ui_bridge.server import start_bridge

    _, totp = embedded.system.directory.add("sup.bridge", PASSWORD, "provincial_supervisor", "QZV")
    handle = embedded.loop.run(start_bridge(FollowerFeed(embedded.system.follower), embedded.system.signer, None,
                                            host="127.0.0.1", port=0, serve_page=True, api_url=embedded.base))
    try:
        page.goto(f"http://127.0.0.1:{handle.port}/")
        page.wait_for_url(f"{embedded.base}/signin.html", timeout=10_000)
        page.fill("#si-user", "sup.bridge")
        page.fill("#si-pass", PASSWORD)
        page.fill("#si-code", pyotp.TOTP(totp).now())
        page.click("#si-submit")
        page.wait_for_selector("body[data-conn='live']", timeout=10_000)  # signed in, the board live
        assert page.url.startswith(embedded.base) and "signin" not in page.url
        embedded.post("/teams", {**QZV, "name": "BRIDGE-SIGNED-IN", "home": QAZVIN})
        page.wait_for_selector("text=BRIDGE-SIGNED-IN", timeout=5_000)
    finally:
        embedded.loop.run(handle.stop())


def test_the_sign_in_page_and_the_sign_out_button_speak_the_chosen_language(embedded, browser):
    """English chosen on the sign-in page stays chosen: the workspace and the dashboard it leads
    to are in English, their sign-out button and users link too (added once the page's own
    scripts have set its language)."""
    _, totp = embedded.system.directory.add("sup.en", PASSWORD, "provincial_supervisor", "QZV")
    with offline_page(browser, viewport={"width": 1366, "height": 768}) as pg:
        pg.goto(f"{embedded.base}/signin.html")
        assert pg.inner_text("#si-submit") == "ورود" and pg.get_attribute("html", "dir") == "rtl"
        pg.click("#si-lang")
        assert pg.inner_text("#si-submit") == "Sign in" and pg.get_attribute("html", "dir") == "ltr"
        assert pg.inner_text("#si-user-l") == "Username" and pg.inner_text("#si-lang") == "فارسی"
        sign_in_on_the_page(pg, embedded.base, "sup.en", totp)  # lands in the workspace
        for _ in ("workspace", "dashboard"):
            assert pg.get_attribute("html", "lang") == "en"
            assert pg.inner_text("#sign-out") == "Sign out" and pg.inner_text("#users-link") == "Users"
            pg.goto(f"{embedded.base}/")
            pg.wait_for_selector("body[data-conn='live']", timeout=10_000)
