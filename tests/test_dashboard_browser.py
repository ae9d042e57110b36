"""The dashboard in a real Chromium (Debian's), against the embedded system served for real.

The system runs as ``eoc demo`` runs it (``eoc.main.runtime.serve_embedded``: uvicorn API, the
page, the websocket bridge) on a loop thread, without the simulator; the tests drive it
through the command API over HTTP and look at what the page shows. "Within a second" is
Playwright waiting for the expected element with a 1,000 ms timeout.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ui_bridge.loop_thread import LoopThread

from .offline_page import offline_page

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WALL = {"width": 1920, "height": 1080}


@pytest.fixture
def store() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        message = "Debian's chromium is missing: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Clock:
    """The system's clock: real time, moved back while seeding the past (shifts, old stays)."""

    def __init__(self) -> None:
        self.back = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) - self.back


class Embedded:
    """The embedded system served by ``serve_embedded`` on a loop thread, driven over HTTP."""

    def __init__(self, system: Any, monkeypatch: pytest.MonkeyPatch, bridge_options: dict[str, Any] | None = None) -> None:
        import eoc.main.runtime as runtime
        import ui_bridge.server as bridge_server
        from eoc.main.runtime import serve_embedded

        self.system = system
        self.port, self.bridge_port = free_port(), free_port()
        self.loop = LoopThread("embedded")
        self.bridges: list[Any] = []
        original = bridge_server.start_embedded_bridge

        async def recording(system: Any, **kw: Any) -> Any:
            handle = await original(system, **kw)
            self.bridges.append(handle)
            return handle

        # The test keeps the bridge's handle to restart it: serve_embedded calls the bridge by the
        # name its module imported.
        monkeypatch.setattr(runtime, "start_embedded_bridge", recording)
        ready = threading.Event()
        self.stop_event = self.loop.run(_make_event())
        self.served = self.loop.spawn(lambda: serve_embedded(
            system, host="127.0.0.1", port=self.port, bridge_port=self.bridge_port,
            on_ready=lambda addr: ready.set(), stop=self.stop_event, bridge_options=bridge_options))
        if not ready.wait(20):
            raise RuntimeError(f"the embedded system did not start: {self.served}")
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.base, timeout=10)

    def token(self, role: str = "national_eoc", province: str = "IR") -> str:
        return self.system.signer.issue(role, province, sub=f"wall-{role}")

    def url(self, role: str = "national_eoc", province: str = "IR") -> str:
        return f"{self.base}/#token={self.token(role, province)}"

    def post(self, path: str, body: dict[str, Any] | None = None, role: str = "provincial_supervisor",
             province: str = "QZV", team: str | None = None) -> dict[str, Any]:
        r = self.http.post(f"/api/v1{path}", json=body or {},
                           headers={"Authorization": "Bearer " + self.system.signer.issue(role, province, team=team)})
        assert r.status_code in (200, 201, 202), (path, r.status_code, r.text)
        return r.json()

    def refused(self, path: str, body: dict[str, Any] | None = None, role: str = "provincial_supervisor",
                province: str = "QZV") -> str:
        """A command that must be refused by a rule (409): its error code."""
        r = self.http.post(f"/api/v1{path}", json=body or {},
                           headers={"Authorization": "Bearer " + self.system.signer.issue(role, province)})
        assert r.status_code == 409, (path, r.status_code, r.text)
        return str(r.json()["error"])

    def stop_bridge(self) -> None:
        self.loop.run(self.bridges[-1].stop())

    def start_bridge(self) -> None:
        import ui_bridge.server as bridge_server

        self.loop.run(bridge_server.start_embedded_bridge(self.system, host="127.0.0.1", port=self.bridge_port))

    def close(self) -> None:
        self.http.close()
        self.loop.call(self.stop_event.set)
        try:
            self.served.result(20)
        finally:
            for handle in self.bridges:
                self.loop.run(handle.stop())
            self.loop.close()


async def _make_event() -> Any:
    import asyncio

    return asyncio.Event()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def embedded(make_system: Callable[..., Any], clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Embedded]:
    # The abuse limits are off: a test seeds hundreds of commands as one supervisor, and the
    # limits have tests of their own (tests/test_identity.py).
    e = Embedded(make_system(clock=clock, rate_limit_scale=0.0), monkeypatch)
    yield e
    e.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with offline_page(browser, viewport=WALL, device_scale_factor=1) as pg:
        yield pg


QZV = {"province": "QZV", "county": "Qazvin"}
QAZVIN = {"lat": 36.27, "lon": 50.0}


def live(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-conn='live']", timeout=10_000)


# ---------------------------------------------------------------------- behaviour


def test_the_page_shows_the_snapshot_in_persian(embedded, page):
    t = embedded.post("/teams", {**QZV, "name": "سیار قزوین ۱", "home": QAZVIN})["team_id"]
    live(page, embedded.url())
    page.wait_for_selector(f"#teams tr[data-team-id='{t}']", timeout=1000)
    assert "سیار قزوین ۱" in page.inner_text(f"#teams tr[data-team-id='{t}']")
    assert page.get_attribute("html", "dir") == "rtl" and page.get_attribute("html", "lang") == "fa"
    assert page.inner_text("#scope-place") == "کل کشور"
    # Persian digits throughout the clock; no Latin digit on the tiles.
    assert all(not ch.isascii() or not ch.isdigit() for ch in page.inner_text("#clock-time"))
    assert not any(ch in "0123456789" for ch in page.inner_text("#tiles"))
    # The team is on the map, coloured by its status.
    page.wait_for_selector(f"#map .tm[data-team-id='{t}'][data-status='off_duty']", timeout=1000)


def test_a_command_appears_on_the_page_within_a_second(embedded, page):
    t = embedded.post("/teams", {**QZV, "name": "QZV-Alpha", "home": QAZVIN})["team_id"]
    embedded.post(f"/teams/{t}/shift/start", {"shift": "morning", "members": ["s1", "s2"]})
    centre = embedded.post("/centres", {**QZV, "name": "Qazvin crisis centre", "kind": "residential_level_1",
                                        "capacity": 4, "location": QAZVIN})["centre_id"]
    call = embedded.post("/calls", QZV)["call_id"]
    embedded.post(f"/calls/{call}/classify", {"category": "spouse_abuse", "priority": "urgent"})
    incident = embedded.post(f"/calls/{call}/escalate", {"location": {"lat": 36.3, "lon": 50.05}})["incident_id"]
    live(page, embedded.url("dispatcher", "QZV"))
    page.wait_for_selector(f"#incidents tr.hot[data-incident-id='{incident}']", timeout=5000)  # urgent, no team (first drawing)

    embedded.post(f"/teams/{t}/dispatch", {"incident_id": incident}, role="dispatcher")
    page.wait_for_selector(f"#teams tr[data-team-id='{t}'][data-status='dispatched']", timeout=1000)
    page.wait_for_selector(f"#incidents tr[data-incident-id='{incident}']:not(.hot)", timeout=1000)
    page.wait_for_selector(f"#map .tm[data-team-id='{t}'][data-status='dispatched']", timeout=1000)

    embedded.post(f"/centres/{centre}/admissions", {"route": "line_123"}, role="centre_staff")
    page.wait_for_function(
        "id => document.querySelector(`#occupancy [data-centre-id='${id}'] .occ`)?.textContent === '۱/۴'",
        arg=centre, timeout=1000)

    embedded.post(f"/teams/{t}/position", {"position": {"lat": 36.2, "lon": 50.1}})
    # The marker moves to the reported position.
    page.wait_for_function(
        "id => { const p = EOC.map.teamLatLng(id); return p && Math.abs(p.lat - 36.2) < 1e-6 && Math.abs(p.lng - 50.1) < 1e-6; }",
        arg=t, timeout=1000)


def test_after_a_bridge_restart_the_page_reconnects_and_shows_the_current_board(embedded, page):
    t = embedded.post("/teams", {**QZV, "name": "QZV-Bravo", "home": QAZVIN})["team_id"]
    live(page, embedded.url())
    page.wait_for_selector(f"#teams tr[data-team-id='{t}']", timeout=1000)

    embedded.stop_bridge()
    page.wait_for_selector("body[data-conn='reconnecting']", timeout=5000)
    assert "اتصال" in page.inner_text("#conn")  # the wall screen says it is reconnecting
    # Changes while the bridge is down are not lost: the new snapshot carries them.
    embedded.post(f"/teams/{t}/shift/start", {"shift": "night", "members": ["s1"]})
    down = embedded.post("/teams", {**QZV, "name": "QZV-While-Down", "home": QAZVIN})["team_id"]

    embedded.start_bridge()
    page.wait_for_selector("body[data-conn='live']", timeout=15_000)  # the backoff, not a speed claim
    page.wait_for_selector(f"#teams tr[data-team-id='{down}']", timeout=1000)
    page.wait_for_selector(f"#teams tr[data-team-id='{t}'][data-status='available']", timeout=1000)
    # And it is live again: the next command shows up.
    embedded.post(f"/teams/{down}/shift/start", {"shift": "night", "members": ["s1"]})
    page.wait_for_selector(f"#teams tr[data-team-id='{down}'][data-status='available']", timeout=1000)


def test_a_gap_in_the_deltas_makes_the_page_ask_for_a_fresh_snapshot(embedded, page):
    t = embedded.post("/teams", {**QZV, "name": "QZV-Echo", "home": QAZVIN})["team_id"]
    live(page, embedded.url())
    page.wait_for_selector(f"#teams tr[data-team-id='{t}']", timeout=1000)
    # A delta whose prev is not the page's last seq: a frame went missing in between.
    page.evaluate("""() => {
        const s = EOC.app.state;
        EOC.app.onFrame({type: "delta", seq: s.seq + 7, prev: s.seq + 3, now: new Date().toISOString(),
                         changes: {"team/bogus": {id: "bogus", name: "must not show", province: "QZV", status: "available"}}});
    }""")
    assert page.evaluate("EOC.app.state.resyncs") == 1
    page.wait_for_function("EOC.app.state.snapshots === 2", timeout=1000)  # the bridge answered
    assert page.query_selector("#teams tr[data-team-id='bogus']") is None
    embedded.post(f"/teams/{t}/shift/start", {"shift": "morning", "members": ["s1"]})
    page.wait_for_selector(f"#teams tr[data-team-id='{t}'][data-status='available']", timeout=1000)


def test_jalali_dates_are_right(embedded, page):
    import jdatetime

    live(page, embedded.url())
    assert page.evaluate("EOC.i18n.toJalali(2024, 8, 28)") == [1403, 6, 7]  # 7 Shahrivar 1403
    assert page.evaluate("EOC.i18n.toJalali(2021, 1, 5)") == [1399, 10, 16]  # 16 Dey 1399
    # Tehran's clock, not the browser's: 21:00 UTC on 27 August is already the 28th in Tehran.
    assert page.evaluate("EOC.i18n.date(Date.UTC(2024, 7, 27, 21, 0))") == "۷ شهریور ۱۴۰۳"
    assert page.evaluate("EOC.i18n.time(Date.UTC(2024, 7, 27, 21, 0))") == "۰۰:۳۰"
    # Against jdatetime, every 13 days over sixty years (leap years and year ends included).
    days = [datetime(1990, 1, 1) + timedelta(days=13 * i) for i in range(1700)]
    js = page.evaluate("ds => ds.map(([y, m, d]) => EOC.i18n.toJalali(y, m, d))",
                       [[d.year, d.month, d.day] for d in days])
    expected = [[j.year, j.month, j.day] for j in (jdatetime.date.fromgregorian(date=d.date()) for d in days)]
    assert js == expected
    # The header's date is today's Jalali date.
    today = jdatetime.date.fromgregorian(date=(datetime.now(UTC) + timedelta(hours=3, minutes=30)).date())
    header = page.inner_text("#clock-date")
    assert "۰۱۲۳۴۵۶۷۸۹"[today.day % 10] in header and str(today.year).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")) in header


def test_english_switch(embedded, page):
    t = embedded.post("/teams", {**QZV, "name": "QZV-Charlie", "home": QAZVIN})["team_id"]
    live(page, embedded.url())
    page.click("#lang")
    page.wait_for_selector("html[dir='ltr'][lang='en']", timeout=1000)
    assert page.inner_text("#title") == "Social Emergency EOC"
    assert "Off duty" in page.inner_text(f"#teams tr[data-team-id='{t}']")
    assert any(ch in "0123456789" for ch in page.inner_text("#clock-time"))
    page.click("#lang")
    page.wait_for_selector("html[dir='rtl'][lang='fa']", timeout=1000)


def test_drill_data_is_shown_apart_with_a_banner(embedded, page):
    t = embedded.post("/teams", {**QZV, "name": "QZV-Delta", "home": QAZVIN})["team_id"]
    embedded.post(f"/teams/{t}/shift/start", {"shift": "morning", "members": ["s1"]})
    live(page, embedded.url("provincial_supervisor", "QZV"))
    assert page.is_hidden("#drill-banner")
    drill = embedded.post("/incidents", {**QZV, "route": "police", "category": "runaway", "priority": "high",
                                         "location": QAZVIN, "exercise": True})["incident_id"]
    embedded.post(f"/teams/{t}/dispatch", {"incident_id": drill, "exercise": True}, role="dispatcher")
    page.wait_for_selector("#drill-note:not([hidden])", timeout=1000)  # "a drill is running"
    # Live board: the drill incident is not among the real ones.
    assert page.query_selector(f"#incidents [data-incident-id='{drill}']") is None
    page.click("#mode-drill")
    page.wait_for_selector("#drill-banner:not([hidden])", timeout=1000)
    assert "مانور" in page.inner_text("#drill-banner")
    page.wait_for_selector(f"#incidents [data-incident-id='{drill}']", timeout=1000)
    page.wait_for_selector(f"#teams tr[data-team-id='{t}'][data-status='dispatched']", timeout=1000)
    page.click("#mode-live")
    page.wait_for_selector("#drill-banner[hidden]", state="attached", timeout=1000)


def test_a_refused_token_is_said_on_the_screen(embedded, page):
    page.goto(f"{embedded.base}/#token=not-a-token")
    page.wait_for_selector("body[data-conn='unauthorized']", timeout=5000)
    assert page.is_visible("#overlay")


def test_secret_places_are_on_the_map_only_for_those_who_may_see_them(embedded, browser, page):
    house = embedded.post("/centres", {**QZV, "name": "Khaneh-Omid", "kind": "safe_house", "capacity": 4,
                                       "location": {"lat": 36.123456, "lon": 50.654321}})["centre_id"]
    live(page, embedded.url("provincial_supervisor", "QZV"))
    page.wait_for_selector(f"#map .cm.secret[data-centre-id='{house}']", timeout=1000)
    assert "Khaneh-Omid" in page.inner_text(f"#occupancy [data-centre-id='{house}']")
    other = browser.new_page(viewport=WALL)
    try:
        other.goto(embedded.url("national_eoc", "IR"))
        # The nation sees secret places only as a count per province (fewer than three: not even that).
        other.wait_for_selector("#occupancy [data-secret-province='QZV']", timeout=10_000)
        assert other.query_selector(f"#map [data-centre-id='{house}']") is None
        assert other.query_selector(f"#occupancy [data-centre-id='{house}']") is None
        text = other.inner_text("#occupancy [data-secret-province='QZV']")
        assert "Khaneh-Omid" not in text and "خانه‌های امن" in text and "کمتر از ۳" in text
    finally:
        other.close()


# ---------------------------------------------------------------------- the wall screen


def seed_province(e: Embedded, clock: Clock) -> dict[str, Any]:
    """A realistic morning in Qazvin (and a little of Alborz): what a wall screen shows."""
    import random

    rnd = random.Random(1403)
    post = e.post
    counties = {"Qazvin": (36.27, 50.00), "Takestan": (36.07, 49.70), "Abyek": (36.04, 50.53),
                "Buin Zahra": (35.77, 50.06), "Alborz": (36.19, 50.06), "Avaj": (35.58, 49.22)}

    def near(county: str, spread: float = 0.05) -> dict[str, float]:
        lat, lon = counties[county]
        return {"lat": round(lat + rnd.uniform(-spread, spread), 5), "lon": round(lon + rnd.uniform(-spread, spread), 5)}

    clock.back = timedelta(days=20)
    centres = {
        "qazvin": post("/centres", {**QZV, "name": "مرکز مداخله در بحران قزوین", "kind": "residential_level_1",
                                    "capacity": 12, "location": near("Qazvin", 0.01)})["centre_id"],
        "takestan": post("/centres", {"province": "QZV", "county": "Takestan", "name": "مرکز مداخله تاکستان",
                                      "kind": "residential_level_2", "capacity": 4,
                                      "location": near("Takestan", 0.01)})["centre_id"],
        "abyek": post("/centres", {"province": "QZV", "county": "Abyek", "name": "مرکز سرپایی آبیک",
                                   "kind": "outpatient", "capacity": 0, "location": near("Abyek", 0.01)})["centre_id"],
        "safe": post("/centres", {**QZV, "name": "خانه امن قزوین", "kind": "safe_house", "capacity": 6,
                                  "location": near("Qazvin", 0.08)})["centre_id"],
        "health": post("/centres", {**QZV, "name": "خانه سلامت قزوین", "kind": "health_house", "capacity": 4,
                                    "location": near("Qazvin", 0.08)})["centre_id"],
        "karaj": post("/centres", {"province": "ALB", "county": "Karaj", "name": "مرکز مداخله کرج",
                                   "kind": "residential_level_1", "capacity": 12,
                                   "location": {"lat": 35.83, "lon": 50.96}}, province="ALB")["centre_id"],
    }
    names = ["قزوین ۱", "قزوین ۲", "قزوین ۳", "تاکستان ۱", "آبیک ۱", "بوئین‌زهرا ۱", "الوند ۱", "آوج ۱"]
    homes = ["Qazvin", "Qazvin", "Qazvin", "Takestan", "Abyek", "Buin Zahra", "Alborz", "Avaj"]
    teams = [post("/teams", {"province": "QZV", "county": c, "name": n, "home": near(c, 0.01)})["team_id"]
             for n, c in zip(names, homes, strict=True)]
    karaj_teams = [post("/teams", {"province": "ALB", "county": "Karaj", "name": f"کرج {i}",
                                   "home": {"lat": 35.83, "lon": 50.95}}, province="ALB")["team_id"] for i in (1, 2)]
    staff = {"role": "centre_staff"}

    clock.back = timedelta(days=14, hours=12)  # a stay whose holding period ends within the day
    post(f"/centres/{centres['qazvin']}/admissions", {"route": "line_123", "client_id": "C-14d-0001"}, **staff)
    post(f"/centres/{centres['qazvin']}/holding", {"client_id": "C-14d-0001", "days": 15,
                                                   "destination_kind": "safe_house"}, **staff)
    clock.back = timedelta(days=3)
    for i in range(7):
        post(f"/centres/{centres['qazvin']}/admissions", {"route": rnd.choice(["self", "police", "line_123"]),
                                                          "client_id": f"C-3d-{i:04d}"}, **staff)
    post(f"/centres/{centres['qazvin']}/holding", {"client_id": "C-3d-0001", "days": 20,
                                                   "destination_kind": "health_house"}, **staff)
    for i in range(4):
        post(f"/centres/{centres['takestan']}/admissions", {"route": "mobile_team", "client_id": f"C-tk-{i:04d}"}, **staff)
    for i in range(3):
        post(f"/centres/{centres['safe']}/admissions", {"route": "other_centre", "client_id": f"C-sf-{i:04d}"}, **staff)
    for i in range(2):
        post(f"/centres/{centres['health']}/admissions", {"route": "other_centre", "client_id": f"C-hh-{i:04d}"}, **staff)
    for i in range(5):
        post(f"/centres/{centres['karaj']}/admissions", {"route": "self", "client_id": f"C-kj-{i:04d}"},
             role="centre_staff", province="ALB")

    # The last day's calls, busier in the day than at night (most about family disputes and
    # spouse addiction, as the Qazvin report says).
    clock.back = timedelta(0)
    now = datetime.now(UTC)
    weights = {"family_dispute": 9, "spouse_addiction": 7, "spouse_abuse": 5, "child_abuse": 3, "divorce": 3,
               "suicide": 2, "runaway": 2, "elder_abuse": 1, "street_children": 1, "other": 2}
    for _ in range(90):
        at = now - timedelta(hours=min(rnd.expovariate(1 / 7), 23.5))
        call = post("/calls", {**QZV, "received_at": at.isoformat()}, role="call_taker")["call_id"]
        cat = rnd.choices(list(weights), list(weights.values()))[0]
        post(f"/calls/{call}/classify", {"category": cat, "priority": rnd.choice(["normal", "high", "low"])},
             role="call_taker")

    clock.back = timedelta(hours=2)
    for t in teams[:6]:
        post(f"/teams/{t}/shift/start", {"shift": "morning", "members": ["m1", "m2", "m3"]})
    for t in karaj_teams:
        post(f"/teams/{t}/shift/start", {"shift": "morning", "members": ["m1", "m2"]}, province="ALB")

    def incident(category: str, priority: str, county: str) -> str:
        call = post("/calls", {"province": "QZV", "county": county}, role="call_taker")["call_id"]
        post(f"/calls/{call}/classify", {"category": category, "priority": priority,
                                         "risk_flags": ["violence_ongoing"] if priority == "urgent" else []},
             role="call_taker")
        return post(f"/calls/{call}/escalate", {"location": near(county, 0.04)}, role="call_taker")["incident_id"]

    clock.back = timedelta(minutes=41)
    on_scene_incident = incident("spouse_abuse", "urgent", "Qazvin")
    clock.back = timedelta(minutes=12)
    waiting = incident("child_abuse", "urgent", "Takestan")  # urgent, no team, 12 minutes: an alert
    clock.back = timedelta(minutes=6)
    en_route_incident = incident("suicide", "urgent", "Abyek")
    clock.back = timedelta(0)
    high = incident("family_dispute", "high", "Buin Zahra")
    normal = incident("spouse_addiction", "normal", "Qazvin")

    d = {"role": "dispatcher"}
    post(f"/teams/{teams[0]}/dispatch", {"incident_id": on_scene_incident}, **d)
    post(f"/teams/{teams[0]}/status", {"status": "en_route"}, **d)
    post(f"/teams/{teams[0]}/status", {"status": "on_scene"}, **d)
    post(f"/teams/{teams[4]}/dispatch", {"incident_id": en_route_incident}, **d)
    post(f"/teams/{teams[4]}/status", {"status": "en_route"}, **d)
    post(f"/teams/{teams[1]}/dispatch", {"incident_id": normal}, **d)
    post(f"/teams/{karaj_teams[0]}/dispatch", {"incident_id": post(
        "/incidents", {"province": "ALB", "county": "Karaj", "route": "police", "category": "family_dispute",
                       "priority": "high", "location": {"lat": 35.80, "lon": 50.99}}, province="ALB")["incident_id"]},
         role="dispatcher", province="ALB")
    post(f"/teams/{teams[0]}/check-in-missed",
         {"due_at": (datetime.now(UTC) - timedelta(minutes=7)).isoformat()}, **d)
    for t, county in zip(teams, homes, strict=True):
        post(f"/teams/{t}/position", {"position": near(county, 0.12), "speed_kmh": 40})
    # Full: refused, and recorded as a declined admission (unmet demand), which the board shows.
    assert e.refused(f"/centres/{centres['takestan']}/admissions", {"route": "police"}, **staff) == "over_capacity"
    return {"teams": teams, "centres": centres, "waiting": waiting, "high": high}


def test_the_wall_screen(embedded, clock, page):
    seeded = seed_province(embedded, clock)
    live(page, embedded.url())
    page.wait_for_selector(f"#teams tr[data-team-id='{seeded['teams'][0]}'][data-status='on_scene']", timeout=1000)
    # The alerts a wall screen must make obvious: a missed check-in, a full centre, an urgent
    # incident waiting for a team for more than five minutes.
    page.wait_for_selector("#alerts-panel.firing", timeout=1000)
    for kind in ("check_in_missed", "centre_full", "urgent_unassigned"):
        page.wait_for_selector(f"#alerts [data-alert='{kind}']", timeout=1000)
    page.wait_for_selector(f"#incidents tr.hot[data-incident-id='{seeded['waiting']}']", timeout=1000)
    assert page.inner_text("[data-tile='urgent'] .v").split()[0] == "۱"  # with its unit
    # Secret houses: on the national board as counts, never on its map.
    assert page.query_selector(f"#map [data-centre-id='{seeded['centres']['safe']}']") is None
    assert page.query_selector(f"#occupancy [data-centre-id='{seeded['centres']['safe']}']") is None
    page.wait_for_selector("#occupancy [data-secret-province='QZV']", state="attached", timeout=1000)  # a count only
    page.wait_for_timeout(1200)  # let the markers finish sliding to their places for the picture
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"))

    page.goto(embedded.url("provincial_supervisor", "QZV"))
    page.reload()  # the supervisor's own screen, from its first snapshot (not the national one's socket)
    page.wait_for_selector("body[data-conn='live']", timeout=10_000)
    page.wait_for_selector(f"#map .cm.secret[data-centre-id='{seeded['centres']['safe']}']", timeout=5000)  # page loaded again
    page.wait_for_timeout(1200)
    page.screenshot(path=str(ARTIFACTS / "dashboard-province.png"))
