"""The dashboard in a real Chromium (Debian's), against the embedded system served for real.

The system runs as ``eoc demo`` runs it (``eoc.main.runtime.serve_embedded``: uvicorn API, the
page, the websocket bridge) on a loop thread, without the simulator; the tests drive it
through the command API over HTTP and look at what the page shows. "Within a second" is
Playwright waiting for the expected element with a 1,000 ms timeout.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from events.jalali import to_jalali
from tests.support.browser import ARTIFACTS, QAZVIN, QZV, WALL, live, seed_province

pytestmark = pytest.mark.browser


@pytest.fixture
def store() -> str:
    return "sqlite"


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
    # a function, not an expression: a polled expression is eval'd in the page, which its CSP refuses
    page.wait_for_function("() => EOC.app.state.snapshots === 2", timeout=5000)  # the bridge answered
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
    # The browser's Persian calendar (Intl, ICU) and the server's (events/jalali.py, jdatetime) give
    # the same date on every day of a century, leap years and year ends included.
    days = [date(1971, 3, 21) + timedelta(days=i) for i in range(36_525)]
    js = page.evaluate("ds => ds.map(([y, m, d]) => EOC.i18n.toJalali(y, m, d))",
                       [[d.year, d.month, d.day] for d in days])
    assert js == [list(to_jalali(d)) for d in days]
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
