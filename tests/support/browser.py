"""Debian's Chromium and the embedded system served for real, as the browser tests drive them."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from tests.support.offline_page import offline_page
from tests.support.served import free_port
from ui_bridge.loop_thread import LoopThread

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
WALL = {"width": 1920, "height": 1080}
PASSWORD = "correct horse battery staple"  # of the users the sign-in tests add


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
    # limits have tests of their own (tests/integration/test_identity.py).
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


LAPTOP = {"width": 1366, "height": 768}


# Everything that must be whole on the screen: panels inside the window and not overflowing,
# every row of a list's current page whole (the rest is on its other pages), no cell, tile or
# header text cut.
MEASURE = """() => {
  const bad = [];
  const cut = (el) => el.scrollWidth > el.clientWidth + 1;
  const doc = document.documentElement;
  if (doc.scrollHeight > innerHeight + 1 || doc.scrollWidth > innerWidth + 1) bad.push('page scrolls');
  if (cut(document.getElementById('top'))) bad.push('header overflows');
  for (const t of document.querySelectorAll('.tile .k, .tile .v, .tile')) if (cut(t)) bad.push('tile cut: ' + t.textContent);
  for (const p of document.querySelectorAll('.panel')) {
    if (p.hidden) continue;
    const r = p.getBoundingClientRect();
    if (r.bottom > innerHeight + 0.5 || r.right > innerWidth + 0.5 || r.left < -0.5 || r.top < -0.5) bad.push(p.id + ' off screen');
    if (p.scrollHeight > p.clientHeight + 1 || cut(p)) bad.push(p.id + ' overflows');
    for (const h of p.querySelectorAll('h2, h3, th')) if (cut(h)) bad.push(p.id + ' heading cut: ' + h.textContent);
    for (const box of p.querySelectorAll('.scroll')) {
      if (box.scrollWidth > box.clientWidth + 1) bad.push(p.id + ' wider than its panel');
      const b = box.getBoundingClientRect();
      const m = (box.style.clipPath || '').match(/inset\\(0(?:px)? 0(?:px)? ([\\d.]+)px/);
      const bottom = b.bottom - (m ? parseFloat(m[1]) : 0);
      const head = box.querySelector('thead');
      const top = b.top + (head ? head.offsetHeight : 0);
      for (const row of box.querySelectorAll('tbody > tr, .list > div')) {
        const rr = row.getBoundingClientRect();
        const whole = rr.top >= top - 1 && rr.bottom <= bottom + 1;
        const seen = rr.bottom > top + 1 && rr.top < bottom - 1;
        if (seen && !whole) bad.push(p.id + ' row cut: ' + row.textContent.slice(0, 40));
        if (whole) for (const c of row.querySelectorAll('td, .cname, .what, .where, .kind, .facts, .chip'))
          if (cut(c)) bad.push(p.id + ' text cut: ' + c.textContent.slice(0, 40));
      }
    }
  }
  return bad;
}"""


def sign_in_on_the_page(page: Any, base: str, username: str, totp: str | None) -> None:
    page.goto(f"{base}/signin.html")
    page.fill("#si-user", username)
    page.fill("#si-pass", PASSWORD)
    if totp:
        page.fill("#si-code", pyotp.TOTP(totp).now())
    page.click("#si-submit")
    page.wait_for_selector("body[data-conn='live']", timeout=10_000)
