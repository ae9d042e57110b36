"""The wall screen and the map in a real Chromium: fit at 1920×1080 and 1366×768 in both
languages for three roles (screenshots in artifacts/wall/), honest liveness, keyed updates,
contrast, and the map with many teams. Run with ``-k "wall or map"``."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from events.places import PROVINCES
from tests.support.browser import ARTIFACTS, LAPTOP, MEASURE, QAZVIN, QZV, WALL, Embedded, live, seed_province
from tests.support.page_files import catalogue, page_modules
from ui_bridge.server import STATIC

SHOTS = ARTIFACTS / "wall"


@pytest.fixture
def store() -> str:
    return "sqlite"


def open_wall(browser: Any, e: Embedded, role: str, province: str, size: dict[str, int], lang: str,
              reduced: bool = False) -> tuple[Any, Any]:
    context = browser.new_context(viewport=size, device_scale_factor=1, reduced_motion="reduce" if reduced else None)
    context.add_init_script(f"localStorage.setItem('eoc.lang', '{lang}')")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.errors = errors
    live(pg, e.url(role, province))
    pg.wait_for_selector("#map[data-basemap='ready']", timeout=5000)
    return context, pg


def test_wall_fits_at_both_sizes_in_both_languages_for_each_role(embedded, clock, browser):
    seed_province(embedded, clock)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for role, province in (("national_eoc", "IR"), ("provincial_supervisor", "QZV"), ("dispatcher", "QZV")):
        for name, size in (("1920x1080", WALL), ("1366x768", LAPTOP)):
            for lang in ("fa", "en"):
                context, pg = open_wall(browser, embedded, role, province, size, lang)
                try:
                    pg.wait_for_selector("#teams tbody tr[data-status='on_scene']", timeout=10_000)
                    pg.wait_for_timeout(900)  # the map's markers and clusters settle for the picture
                    problems = pg.evaluate(MEASURE)
                    pg.screenshot(path=str(SHOTS / f"{role}-{name}-{lang}.png"))
                    assert not problems, (role, name, lang, problems)
                    # Wall-readable type: list text at least 13 px on a laptop, 17 px on a wall.
                    px = pg.evaluate("parseFloat(getComputedStyle(document.querySelector('#teams td.name')).fontSize)")
                    assert px >= (17 if size is WALL else 13), (role, name, px)
                    # Every list has its column headers.
                    for table in ("#teams-table", "#incidents-table"):
                        assert pg.locator(f"{table} thead th").count() >= 5
                    # The team sent (or that none was) is on screen at both sizes: the names on a
                    # wall, a mark (⚠ none, ✓ how many) on a laptop.
                    assert pg.is_visible("#incidents-table thead th:nth-child(4)")
                    shown = pg.evaluate("""() => [...document.querySelectorAll('#incidents-table td.who')]
                        .filter((td) => td.offsetParent !== null)
                        .map((td) => [...td.children].filter((c) => c.offsetParent !== null).map((c) => c.textContent).join(''))""")
                    assert shown and all(shown), (role, name, lang, shown)
                    assert any(("⚠" if size is LAPTOP else ("بدون گروه" if lang == "fa" else "unassigned")) in w
                               for w in shown), (role, name, lang, shown)
                    if province == "IR":
                        assert pg.locator("#provinces-table tbody tr").count() == 31
                        assert pg.is_visible("#provinces-panel")
                    else:
                        assert pg.is_hidden("#provinces-panel")
                    assert not pg.errors
                finally:
                    context.close()


# The charts' axis text: its rendered size, inside its chart, no two labels touching.
CHART_AXIS = """() => {
  const out = [];
  for (const svg of document.querySelectorAll('svg.chart')) {
    const b = svg.getBoundingClientRect();
    const boxes = [...svg.querySelectorAll('text')].map((t) => t.getBoundingClientRect());
    if (boxes.length < 4) out.push(svg.id + ': ' + boxes.length + ' labels');
    boxes.forEach((r, i) => {
      if (r.height < 11) out.push(svg.id + ' label ' + i + ' is ' + r.height.toFixed(1) + ' px high');
      if (r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1 || r.bottom > b.bottom + 1) out.push(svg.id + ' label ' + i + ' outside: ' + [r.left, r.top, r.right, r.bottom].map(Math.round) + ' not in ' + [b.left, b.top, b.right, b.bottom].map(Math.round));
      boxes.slice(i + 1).forEach((q, j) => {
        if (r.left < q.right - 1 && q.left < r.right - 1 && r.top < q.bottom - 1 && q.top < r.bottom - 1) out.push(svg.id + ' labels ' + i + '/' + (i + j + 1) + ' overlap');
      });
    });
  }
  return out;
}"""


def test_wall_chart_axis_is_readable_at_both_sizes(embedded, clock, browser):
    seed_province(embedded, clock)
    for size in (LAPTOP, WALL):
        for lang in ("fa", "en"):
            context, pg = open_wall(browser, embedded, "national_eoc", "IR", size, lang)
            try:
                pg.wait_for_function("() => document.querySelectorAll('#calls-chart rect').length > 0", timeout=5000)
                problems = pg.evaluate(CHART_AXIS)
                assert not problems, (size, lang, problems)
                px = pg.evaluate("Math.min(...[...document.querySelectorAll('svg.chart text')]"
                                 ".map((t) => parseFloat(getComputedStyle(t).fontSize)))")
                assert px >= (15 if size is WALL else 11.5), (size, px)  # read across a room / at a desk
            finally:
                context.close()


def test_wall_long_lists_page_themselves(embedded, page):
    for i in range(40):
        embedded.post("/teams", {**QZV, "name": f"سیار {i:02d}", "home": QAZVIN})
    page.set_viewport_size(LAPTOP)
    live(page, embedded.url("dispatcher", "QZV"))
    page.wait_for_function("() => document.querySelectorAll('#teams tbody tr').length === 40", timeout=10_000)
    pages = int(page.get_attribute("#teams", "data-pages"))
    assert pages > 1
    assert "۱" in page.inner_text("#teams-page") and "صفحه" in page.inner_text("#teams-page")
    seen: set[str] = set()
    visible = """() => { const b = document.getElementById('teams').getBoundingClientRect();
        const m = (document.getElementById('teams').style.clipPath || '').match(/([\\d.]+)px/);
        const bottom = b.bottom - (m ? parseFloat(m[1]) : 0);
        return [...document.querySelectorAll('#teams tbody tr')].filter((r) => {
          const rr = r.getBoundingClientRect(); return rr.top >= b.top && rr.bottom <= bottom + 1; }).map((r) => r.dataset.key); }"""
    for n in range(pages):
        assert int(page.get_attribute("#teams", "data-page")) == n + 1
        seen.update(page.evaluate(visible))
        assert not page.evaluate(MEASURE)
        page.evaluate("EOC.app.turnPages()")
    assert len(seen) == 40  # every team is on some page, whole


def test_wall_every_long_list_pages_itself_on_the_national_wall(embedded, clock, page):
    """The province table (31 rows), the incident queue and the alerts page themselves at
    1366×768: every row is whole on some page, no page cuts a row."""
    clock.back = timedelta(minutes=30)  # urgent cases waiting half an hour without a team: alerts
    for i in range(14):
        embedded.post("/incidents", {**QZV, "route": "police", "category": "child_abuse", "priority": "urgent",
                                     "location": {"lat": 36.27 + i * 0.01, "lon": 50.0}})
    clock.back = timedelta(0)
    for i in range(6):
        embedded.post("/incidents", {**QZV, "route": "police", "category": "family_dispute", "priority": "normal",
                                     "location": {"lat": 36.2, "lon": 50.0 + i * 0.01}})
    page.set_viewport_size(LAPTOP)
    live(page, embedded.url())
    page.wait_for_function("() => document.querySelectorAll('#incidents tbody tr').length === 20", timeout=5000)
    page.wait_for_function("() => document.querySelectorAll('#alerts .list > div').length === 14", timeout=5000)
    rows = {"provinces": "#provinces tbody tr", "incidents": "#incidents tbody tr", "alerts": "#alerts .list > div"}
    expected = {"provinces": 31, "incidents": 20, "alerts": 14}
    whole = """(sel) => { const box = document.querySelector(sel.split(' ')[0]); const b = box.getBoundingClientRect();
        const m = (box.style.clipPath || '').match(/inset\\(0(?:px)? 0(?:px)? ([\\d.]+)px/);
        const bottom = b.bottom - (m ? parseFloat(m[1]) : 0);
        return [...document.querySelectorAll(sel)].filter((r) => {
          const rr = r.getBoundingClientRect(); return rr.top >= b.top - 1 && rr.bottom <= bottom + 1; })
          .map((r) => r.dataset.key || r.textContent.slice(0, 60)); }"""
    pages = {name: int(page.get_attribute(f"#{name}", "data-pages") or 1) for name in rows}
    assert all(n > 1 for n in pages.values()), pages
    seen: dict[str, set[str]] = {name: set() for name in rows}
    for _ in range(max(pages.values())):
        assert not page.evaluate(MEASURE)
        for name, sel in rows.items():
            seen[name].update(page.evaluate(whole, sel))
        page.evaluate("EOC.app.turnPages()")
        page.wait_for_timeout(100)
    assert {name: len(keys) for name, keys in seen.items()} == expected
    assert "صفحه" in page.inner_text("#provinces-page") and "صفحه" in page.inner_text("#alerts-page")


def test_wall_greys_out_with_its_last_update_when_the_server_stops_then_reconnects(embedded, page):
    t = embedded.post("/teams", {**QZV, "name": "QZV-Foxtrot", "home": QAZVIN})["team_id"]
    live(page, embedded.url())
    page.wait_for_selector(f"#teams tr[data-team-id='{t}']", timeout=5000)
    assert page.is_hidden("#stale")
    assert "grayscale" not in page.evaluate("getComputedStyle(document.getElementById('grid')).filter")

    embedded.stop_bridge()
    page.wait_for_selector("body[data-conn='reconnecting']", timeout=5000)
    page.wait_for_selector("#stale:not([hidden])", timeout=2000)
    text = page.inner_text("#stale")
    assert "آخرین به‌روزرسانی" in text and "ساعت" in text
    at = datetime.fromisoformat(page.get_attribute("#last-updated", "data-at").replace("Z", "+00:00"))
    assert datetime.now(UTC) - at < timedelta(seconds=15)
    assert "grayscale" in page.evaluate("getComputedStyle(document.getElementById('grid')).filter")
    age = page.inner_text(f"#teams tr[data-team-id='{t}'] td.tick")
    page.wait_for_timeout(2100)
    assert page.inner_text(f"#teams tr[data-team-id='{t}'] td.tick") == age  # ages stop with the data

    embedded.start_bridge()
    page.wait_for_selector("body[data-conn='live']", timeout=15_000)  # the backoff, not a speed claim
    page.wait_for_selector("#stale[hidden]", state="attached", timeout=5000)
    assert "grayscale" not in page.evaluate("getComputedStyle(document.getElementById('grid')).filter")


def test_wall_a_stale_socket_is_closed_and_reopened(embedded, page):
    t = embedded.post("/teams", {**QZV, "name": "QZV-Golf", "home": QAZVIN})["team_id"]
    live(page, embedded.url())
    page.wait_for_selector(f"#teams tr[data-team-id='{t}']", timeout=5000)
    snapshots = page.evaluate("EOC.app.state.snapshots")
    # A half-open socket: it stays open but brings no frame (not even heartbeats) for longer
    # than the stale limit (three heartbeats).
    page.evaluate("() => { EOC.app.socket().onmessage = null; EOC.app.state.lastFrame = Date.now() - EOC.app.STALE_MS - 1000; }")
    page.wait_for_function("() => EOC.app.state.staleCloses === 1", timeout=2000)
    page.wait_for_function(f"() => EOC.app.state.snapshots > {snapshots}", timeout=5000)  # a new socket, a new snapshot
    page.wait_for_selector("body[data-conn='live']", timeout=5000)
    embedded.post(f"/teams/{t}/shift/start", {"shift": "morning", "members": ["s1"]})
    page.wait_for_selector(f"#teams tr[data-team-id='{t}'][data-status='available']", timeout=5000)


def test_wall_a_delta_rerenders_only_its_rows(embedded, clock, page):
    seeded = seed_province(embedded, clock)
    a, b = seeded["teams"][6], seeded["teams"][7]  # off duty, both
    live(page, embedded.url("provincial_supervisor", "QZV"))
    page.wait_for_selector(f"#teams tr[data-team-id='{a}']", timeout=5000)  # the first drawing, not a speed claim
    page.wait_for_timeout(3000)  # past the first drawing's highlights
    page.evaluate("""() => {
        window.kept = { b: document.querySelector("#teams tr[data-key='%s']"),
                        hot: document.querySelector('#incidents tr.hot') };
        window.touched = [];
        const keyOf = (n) => { const el = n.nodeType === 1 ? n : n.parentElement; const r = el && el.closest('[data-key]'); return r ? r.dataset.key : '(list)'; };
        window.observer = new MutationObserver((records) => {
          for (const r of records) {
            const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
            if (el && el.closest('.tick')) continue;  // ages tick by themselves
            if (el && el.classList.contains('scroll')) continue;  // a long list turning its page
            const nodes = r.type === 'childList' && !r.target.closest('[data-key]') ? [...r.addedNodes, ...r.removedNodes] : [r.target];
            for (const n of nodes) window.touched.push(r.target.closest('#teams, #incidents, #alerts, #occupancy, #provinces').id + ':' + keyOf(n));
          }
        });
        for (const id of ['teams', 'incidents', 'alerts', 'occupancy']) {
          window.observer.observe(document.getElementById(id), { subtree: true, childList: true, attributes: true, characterData: true });
        }
    }""" % b)
    embedded.post(f"/teams/{a}/shift/start", {"shift": "evening", "members": ["s1", "s2"]})
    page.wait_for_selector(f"#teams tr[data-team-id='{a}'][data-status='available'].flash", timeout=2000)
    page.wait_for_timeout(1500)  # a second of ticking too
    touched = set(page.evaluate("window.touched"))
    assert touched and touched <= {f"teams:{a}"}, touched
    assert page.evaluate(f"window.kept.b === document.querySelector(\"#teams tr[data-key='{b}']\")")
    # The urgent row is the same element: its glow went on, never restarted.
    assert page.evaluate("window.kept.hot === document.querySelector('#incidents tr.hot')")
    page.wait_for_selector(f"#teams tr[data-team-id='{a}']:not(.flash)", timeout=4000)  # the highlight is brief


def _luminance(rgb: tuple[float, ...]) -> float:
    def lin(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = rgb[:3]
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def test_wall_chips_and_labels_have_wcag_aa_contrast(embedded, clock, page):
    seed_province(embedded, clock)
    live(page, embedded.url())
    page.wait_for_selector("#teams tbody tr[data-status='on_scene']", timeout=10_000)
    # Every status and priority chip, drawn by the page's own code beside the real ones.
    page.evaluate("""() => {
        const box = document.createElement('div');
        box.id = 'chip-sample';
        for (const s of ['available','dispatched','en_route','on_scene','transporting','at_centre','off_duty'])
          box.insertAdjacentHTML('beforeend', `<span class="chip s-${s}">${EOC.i18n.word(s)}</span>`);
        for (const p of ['urgent','high','normal','low'])
          box.insertAdjacentHTML('beforeend', `<span class="chip p-${p}">${EOC.i18n.word(p)}</span>`);
        document.getElementById('teams-panel').appendChild(box);
    }""")
    pairs = page.evaluate("""() => {
        const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
        const bg = (el) => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
                               if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c; } return [10, 16, 28]; };
        const sel = '.chip, .tile .k, .tile .v, th, .alert .where, .alert .what, .legend span, .pill, .count, .pager, td, .centre-row .kind, .lock';
        return [...document.querySelectorAll(sel)].filter((el) => el.offsetParent && el.textContent.trim())
          .map((el) => [el.className || el.tagName, el.textContent.trim().slice(0, 20), rgb(getComputedStyle(el).color), bg(el)]);
    }""")
    assert len(pairs) > 50
    low = []
    for cls, text, fg, back in pairs:
        l1, l2 = sorted((_luminance(tuple(fg)), _luminance(tuple(back))), reverse=True)
        ratio = (l1 + 0.05) / (l2 + 0.05)
        if ratio < 4.5:
            low.append((cls, text, round(ratio, 2)))
    assert not low, low


def test_wall_refusal_reasons_are_persian(embedded, page):
    page.goto(f"{embedded.base}/#token=not-a-token")
    page.wait_for_selector("body[data-conn='unauthorized']", timeout=5000)
    text = page.inner_text("#overlay-text")
    assert "توکن" in text and "malformed" not in text and "token" not in text.lower()
    assert page.evaluate("EOC.i18n.refusal('over_capacity')") == "ظرفیت مرکز پر است"


def _words() -> dict[str, dict[str, list[str]]]:
    """The pages' one catalogue (words.json, imported by i18n.js as words.js): words, refusals, vocabulary."""
    return catalogue("words.js")


def _catalogue() -> set[str]:
    return set(_words()["refusals"])


def test_wall_every_refusal_code_the_server_answers_is_in_the_one_catalogue():
    import eoc.domain.errors as errors
    from eoc.http.errors import FRAMEWORK_CODES

    codes = {c.code for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.Refused)}
    codes |= set(FRAMEWORK_CODES.values())
    # The codes answered by the HTTP layers below the domain (limits, idempotency, errors).
    root = Path(errors.__file__).parent.parent  # eoc/: the application's and the HTTP edge's modules
    for path in [*root.glob("app/*.py"), *root.glob("http/*.py")]:
        codes |= set(re.findall(r'(?:_answer\(send, |_refuse\(|error\()\d{3}, "([a-z_]+)"', path.read_text()))
    assert {"over_capacity", "idempotency_key_reused", "body_too_large", "malformed_json"} <= codes
    missing = codes - _catalogue()
    assert not missing, f"refusal codes without Persian and English words in words.json: {sorted(missing)}"
    # Every page that can be refused loads the one catalogue: its script imports i18n.js.
    for html in ("index.html", "work.html", "users.html", "reports.html"):
        assert STATIC / "i18n.js" in page_modules(html), html
    for js in ("users.js", "reports.js", "work/core.js"):
        text = (STATIC / js).read_text()
        assert "refusalError(" in text and "data.reason ||" not in text, js


def test_wall_refusal_reasons_are_shown_from_their_codes_on_every_page(embedded, browser):
    """The users page, the reports page and a workspace show a refusal in Persian, and in
    English once switched, from its error code (the dashboard: test_wall_refusal_reasons_are_persian)."""
    for lang in ("fa", "en"):
        context = browser.new_context(viewport=LAPTOP)
        context.add_init_script(f"localStorage.setItem('eoc.lang', '{lang}')")
        pg = context.new_page()
        try:
            # users: a username the directory refuses (invalid_command)
            pg.goto(f"{embedded.base}/users.html#token={embedded.token('provincial_supervisor', 'QZV')}")
            pg.wait_for_selector("#u-form")
            pg.fill("#u-name", "x")
            pg.fill("#u-pass", "a long enough password 1")
            pg.fill("#u-province", "QZV")
            pg.click("#u-add")
            pg.wait_for_selector("#u-error:not([hidden])", timeout=5000)
            shown = pg.inner_text("#u-error")
            if lang == "fa":
                assert shown == "درخواست نادرست است", shown
            else:
                assert shown.startswith("The request is not valid"), shown
            # a workspace: a request the service refuses (an id that is no incident's: invalid_command)
            pg.goto(f"{embedded.base}/work.html#token={embedded.token('dispatcher', 'QZV')}")
            pg.wait_for_function("() => !!(window.EOC && EOC.work && EOC.work.query)", timeout=10000)
            message = pg.evaluate("EOC.work.query('GET', '/incidents/no-such-incident/recommendation')"
                                  ".then(() => 'answered', (e) => e.message + '|' + e.code)")
            text, code = message.split("|")
            assert code == "invalid_command"
            if lang == "fa":
                assert text == "درخواست نادرست است", text
            else:  # the catalogue's words, then the server's own sentence as the detail
                assert text.startswith("The request is not valid (") and "incident" in text, text
        finally:
            context.close()
    # reports (a page in Persian only): a role without reports is refused in Persian.
    context = browser.new_context(viewport=LAPTOP)
    pg = context.new_page()
    try:
        pg.goto(f"{embedded.base}/reports.html#token={embedded.token('call_taker', 'QZV')}")
        pg.click("#show")
        pg.wait_for_selector("body[data-state='error']", timeout=15_000)
        shown = pg.inner_text("#error")
        assert "این نقش اجازه این کار را ندارد" in shown and "may not" not in shown
    finally:
        context.close()


# ---------------------------------------------------------------------- the map


def test_map_base_layers_are_shipped_small_and_agree_with_the_provinces():
    path = STATIC / "basemap" / "iran.json"
    assert path.stat().st_size < 400_000  # loads in well under a second
    base = json.loads(path.read_text())
    shapes = {f["properties"]["code"]: f for f in base["provinces"]["features"]}
    assert set(shapes) == set(PROVINCES)
    for code, p in PROVINCES.items():
        assert shapes[code]["properties"]["fa"] == p.name_fa
        # Inside, or on the coast within about 5 km of the simplified border (Bandar Abbas, Bushehr).
        near = [(p.lon + dx, p.lat + dy) for dx in (0, -0.05, 0.05) for dy in (0, -0.05, 0.05)]
        assert any(_in_shape(x, y, shapes[code]["geometry"]) for x, y in near), f"{p.capital} is not inside {p.name}"
    assert base["lakes"]["features"] and base["rivers"]["features"]
    persian = [c for c in base["cities"] if any("\u0600" <= ch <= "\u06ff" for ch in c["fa"])]
    assert len(persian) == len(base["cities"]) > 300
    assert sum(1 for c in base["cities"] if c.get("capital")) == 31
    sources = (STATIC.parent / "web" / "SOURCES.md").read_text()
    for name in ("Natural Earth", "GeoNames", "GSHHG", "leaflet"):
        assert name in sources


def _in_shape(x: float, y: float, geometry: dict[str, Any]) -> bool:
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    for rings in polygons:
        inside = False
        for ring in rings:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
                if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
                    inside = not inside
        if inside:
            return True
    return False


def test_map_200_teams_in_one_province_cluster_with_counts_and_labels_never_overlap(embedded, page):
    rnd = random.Random(16)
    statuses = []
    for i in range(200):
        home = {"lat": round(36.1 + rnd.uniform(-0.45, 0.45), 5), "lon": round(49.95 + rnd.uniform(-0.7, 0.7), 5)}
        t = embedded.post("/teams", {**QZV, "name": f"قزوین {i + 1}", "home": home})["team_id"]
        if i % 3 == 0:
            embedded.post(f"/teams/{t}/shift/start", {"shift": "morning", "members": ["s1", "s2"]})
            statuses.append("available")
        else:
            statuses.append("off_duty")
        embedded.post(f"/teams/{t}/position", {"position": home})
    live(page, embedded.url("provincial_supervisor", "QZV"))
    page.wait_for_selector("#map[data-basemap='ready']", timeout=5000)
    page.wait_for_function("() => EOC.map.state.teams.size === 200", timeout=5000)
    page.wait_for_timeout(1000)
    seen = page.evaluate("""() => {
        const clusters = [...document.querySelectorAll('#map .cluster.team')].map((c) => ({
          n: +c.dataset.count, parts: [...c.querySelectorAll('.by [data-n]')].map((s) => [s.dataset.k, +s.dataset.n]) }));
        const single = document.querySelectorAll('#map .tm').length;
        const labels = [...document.querySelectorAll('#map .map-label')].filter((l) => !l.classList.contains('hidden') && l.textContent.trim())
          .map((l) => { const r = l.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom, l.textContent]; })
          .filter((r) => r[2] - r[0] > 0);
        return { clusters, single, labels };
    }""")
    assert seen["clusters"], "at this zoom 200 teams must cluster"
    assert sum(c["n"] for c in seen["clusters"]) + seen["single"] == 200
    by_status: dict[str, int] = {}
    for c in seen["clusters"]:
        assert sum(n for _, n in c["parts"]) == c["n"]  # each cluster says how many of each status
        for k, n in c["parts"]:
            by_status[k] = by_status.get(k, 0) + n
    assert set(by_status) <= {"available", "off_duty"}
    labels = seen["labels"]
    assert len(labels) >= 5
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
            assert not overlap, (a[4], b[4])
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "map-200-teams.png"))


def test_map_missed_check_in_is_distinct_from_on_scene_and_a_team_can_be_followed(embedded, browser):
    ids = []
    for name, where in (("Scene-One", {"lat": 36.27, "lon": 49.7}), ("Missed-Two", {"lat": 36.0, "lon": 50.4})):
        t = embedded.post("/teams", {**QZV, "name": name, "home": where})["team_id"]
        embedded.post(f"/teams/{t}/shift/start", {"shift": "morning", "members": ["s1", "s2"]})
        call = embedded.post("/calls", QZV, role="call_taker")["call_id"]
        embedded.post(f"/calls/{call}/classify", {"category": "spouse_abuse", "priority": "urgent"}, role="call_taker")
        incident = embedded.post(f"/calls/{call}/escalate", {"location": where}, role="call_taker")["incident_id"]
        for step in ({"incident_id": incident},):
            embedded.post(f"/teams/{t}/dispatch", step, role="dispatcher")
        embedded.post(f"/teams/{t}/status", {"status": "en_route"}, role="dispatcher")
        embedded.post(f"/teams/{t}/status", {"status": "on_scene"}, role="dispatcher")
        embedded.post(f"/teams/{t}/position", {"position": where})
        ids.append(t)
    scene, missed = ids
    embedded.post(f"/teams/{missed}/check-in-missed",
                  {"due_at": (datetime.now(UTC) - timedelta(minutes=3)).isoformat()}, role="dispatcher")
    context, pg = open_wall(browser, embedded, "dispatcher", "QZV", WALL, "fa")
    try:
        pg.wait_for_selector(f"#map .tm.alarm[data-team-id='{missed}']", timeout=2000)
        pg.wait_for_selector(f"#map .tm[data-team-id='{scene}'][data-status='on_scene']", timeout=2000)
        look = pg.evaluate("""([a, b]) => {
            const m = (id) => { const el = document.querySelector(`#map .tm[data-team-id='${id}']`);
              const shape = el.querySelector('svg.shape');
              return { w: el.getBoundingClientRect().width, fill: getComputedStyle(shape.firstElementChild).fill,
                       anim: getComputedStyle(el).animationName, shape: shape.innerHTML, ring: getComputedStyle(el, '::before').borderTopWidth }; };
            return [m(a), m(b)];
        }""", [missed, scene])
        alarm, on_scene = look
        assert alarm["w"] > on_scene["w"] * 1.4  # bigger
        assert alarm["fill"] != on_scene["fill"] and alarm["shape"] != on_scene["shape"]  # other colour, other shape
        assert alarm["anim"] == "alarm-blink" and on_scene["anim"] == "none"  # it blinks; on-scene does not
        assert alarm["ring"] != "0px"
        # Click a team: its details; follow it: the map keeps it in view as it moves.
        pg.click(f"#map .tm[data-team-id='{scene}']")
        pg.wait_for_selector(f".leaflet-popup .popup[data-team-id='{scene}']", timeout=5000)
        text = pg.inner_text(".leaflet-popup .popup")
        assert "Scene-One" in text and "در محل" in text and "همسرآزاری" in text
        # A frame redraws the popup between the press and the release (a live board brings many a
        # second): the browser gives no click then, yet the button still follows the team.
        box = pg.locator(".leaflet-popup button.follow").bounding_box()
        pg.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        pg.mouse.down()
        redrawn = pg.evaluate(f"""() => {{ const old = document.querySelector('.leaflet-popup button.follow');
            const m = EOC.map.state.teams.get('{scene}'); m.setPopupContent(m.getPopup().getContent());
            return document.querySelector('.leaflet-popup button.follow') !== old; }}""")
        assert redrawn
        pg.mouse.up()
        pg.wait_for_selector("#following:not([hidden])", timeout=5000)
        # A report taken 40 s after the last one kept (one per team per 30 s is kept and shown).
        embedded.post(f"/teams/{scene}/position", {"position": {"lat": 35.75, "lon": 50.05},
                                                    "reported_at": (datetime.now(UTC) + timedelta(seconds=40)).isoformat()})
        pg.wait_for_function("() => { const c = EOC.map.state.map.getCenter(); return Math.abs(c.lat - 35.75) < 0.01 && Math.abs(c.lng - 50.05) < 0.01; }",
                             timeout=3000)
        assert not pg.errors
    finally:
        context.close()
    # Reduced motion: no blinking, the alarm marker stays distinct by its ring.
    context, pg = open_wall(browser, embedded, "dispatcher", "QZV", WALL, "fa", reduced=True)
    try:
        pg.wait_for_selector(f"#map .tm.alarm[data-team-id='{missed}']", timeout=2000)
        assert pg.evaluate(f"getComputedStyle(document.querySelector(\"#map .tm[data-team-id='{missed}']\")).animationName") == "none"
        assert pg.evaluate(f"getComputedStyle(document.querySelector(\"#map .tm[data-team-id='{missed}']\"), '::before').borderTopWidth") == "5px"
    finally:
        context.close()


def test_map_fits_the_viewers_province_on_load(embedded, page):
    live(page, embedded.url("dispatcher", "KSH"))
    page.wait_for_selector("#map[data-basemap='ready']", timeout=5000)
    page.wait_for_timeout(300)
    bounds = page.evaluate("(() => { const b = EOC.map.state.map.getBounds(); return [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()]; })()")
    ksh = PROVINCES["KSH"]
    assert bounds[0] < ksh.lat < bounds[2] and bounds[1] < ksh.lon < bounds[3]
    assert bounds[3] - bounds[1] < 6  # a province, not the country (about 19° wide)
    assert page.locator("#map path.province.home").count() == 1


def test_map_county_borders_are_shipped_small_with_persian_names():
    path = STATIC / "basemap" / "counties.json"
    assert path.stat().st_size < 600_000  # a second file, fetched after the map is drawn
    counties = json.loads(path.read_text())["features"]
    by_province: dict[str, list[dict[str, Any]]] = {}
    for f in counties:
        by_province.setdefault(f["properties"]["province"], []).append(f)
        assert any("\u0600" <= ch <= "\u06ff" for ch in f["properties"]["fa"]), f["properties"]
        assert f["properties"]["en"] and "County" not in f["properties"]["en"]
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert set(by_province) == set(PROVINCES)
    assert 400 < len(counties) < 520  # Iran has some 480 counties (شهرستان)
    # A capital lies in a county of its own province (Qazvin in the county of Qazvin).
    qazvin = PROVINCES["QZV"]
    holding = [f["properties"] for f in counties if _in_shape(qazvin.lon, qazvin.lat, f["geometry"])]
    assert holding == [{"province": "QZV", "fa": "قزوین", "en": "Qazvin"}]
    sources = (STATIC.parent / "web" / "SOURCES.md").read_text()
    assert "OpenStreetMap" in sources and "ODbL" in sources


def test_map_county_borders_load_from_the_system_at_provincial_zoom(embedded, browser):
    context = browser.new_context(viewport=LAPTOP)
    pg = context.new_page()
    outside: list[str] = []
    pg.on("request", lambda r: None if r.url.startswith((embedded.base, "data:", "blob:")) else outside.append(r.url))
    try:
        live(pg, embedded.url("provincial_supervisor", "QZV"))
        pg.wait_for_selector("#map[data-counties='shown']", timeout=8000)
        assert pg.locator("#map path.county").count() >= 400
        # Back out to the nation: the county mesh goes away, the provinces stay.
        pg.wait_for_selector("#map[data-counties='shown']:not([data-moving])", timeout=8000)  # the fit has ended
        pg.evaluate("EOC.map.state.map.setZoom(5, {animate: false})")
        pg.wait_for_selector("#map[data-counties='hidden']", timeout=5000)
        assert pg.locator("#map path.county").count() == 0
        assert pg.locator("#map path.province").count() >= 31
        assert outside == [], outside  # nothing fetched from outside the system
    finally:
        context.close()


def test_map_tiles_are_configurable(system, tmp_path):
    from fastapi.testclient import TestClient

    from eoc.http.api import create_api
    from ui_bridge.server import mount_dashboard

    api = create_api(system)
    mount_dashboard(api, bridge_port=9124, map_tiles="https://tiles.example.ir/{z}/{x}/{y}.png")
    config = TestClient(api).get("/dashboard/config.json").json()
    assert config["map_tiles"] == "https://tiles.example.ir/{z}/{x}/{y}.png"
    from eoc.app.config import Settings

    here = {"EOC_DATA_DIR": str(tmp_path / "settings")}  # its token key there, not in the user's data folder
    assert Settings.from_env({**here, "EOC_MAP_TILES": "http://t/{z}/{x}/{y}.png"}).map_tiles == "http://t/{z}/{x}/{y}.png"
    assert Settings.from_env(here).map_tiles == ""
    assert Path(STATIC / "vendor" / "leaflet" / "leaflet.js").is_file(), "scripts/install copies Leaflet from npm"


def test_wall_simulated_places_and_teams_have_persian_names():
    from eoc.simulator.names import persian_names
    from eoc.simulator.profiles import profile_for

    for code in PROVINCES:
        profile = profile_for(code)
        names = persian_names(profile)
        assert set(names) == {p.name for p in profile.places} | {t.name for t in profile.teams}
        assert len(set(names.values())) == len(names), code  # unique within the province
        for english, persian in names.items():
            assert not any("a" <= ch.lower() <= "z" or ch.isascii() and ch.isdigit() for ch in persian), (english, persian)
    qzv = persian_names(profile_for("QZV"))
    assert qzv["Qazvin crisis intervention centre"] == "مرکز مداخله در بحران قزوین"
    assert qzv["QZV-01 Qazvin"] == "سیار ۰۱ قزوین"


def test_wall_county_names_are_persian_from_the_reference_table(embedded, page):
    t = embedded.post("/teams", {"province": "QZV", "county": "Buin Zahra", "name": "بوئین‌زهرا ۱",
                                 "home": {"lat": 35.77, "lon": 50.06}})["team_id"]
    live(page, embedded.url("dispatcher", "QZV"))
    page.wait_for_function("(id) => (document.querySelector(`#teams tr[data-team-id='${id}']`)?.textContent || '').includes('بویین زهرا')",
                           arg=t, timeout=5000)
    row = page.inner_text(f"#teams tr[data-team-id='{t}']")
    assert "Buin" not in row and not any("a" <= ch.lower() <= "z" for ch in row)
    assert embedded.http.get("/dashboard/counties.json").json()["QZV/buinzahra"] == "بویین زهرا"


def _i18n_pairs() -> dict[str, str]:
    """Each word of the catalogue -> its Persian (a key in two sections: the vocabulary's)."""
    return {key: fa for section in _words().values() for key, (fa, _en) in section.items()}


def test_wall_page_and_terminal_speak_one_persian_vocabulary():
    from events.vocabulary import BOARD_TERMS, PERSIAN

    page = _i18n_pairs()
    for value, fa in PERSIAN.items():  # statuses, categories, priorities, kinds, shifts
        assert page.get(value) == fa, (value, page.get(value), fa)
    for key, fa in BOARD_TERMS.items():  # panel titles and alerts, as `eoc board` shows them
        assert page.get(key) == fa, (key, page.get(key), fa)
    # Every refusal the API can give has Persian words on the page.
    from eoc.domain import errors

    codes = {cls.code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.Refused)}
    assert codes <= set(page), codes - set(page)


def _team_on_shift(embedded: Embedded, name: str) -> str:
    team = embedded.post("/teams", {**QZV, "name": name, "home": QAZVIN})["team_id"]
    embedded.post(f"/teams/{team}/shift/start", {"shift": "morning", "members": ["s1", "s2"]})
    return team


def _misses_a_check_in_on_an_urgent_call(embedded: Embedded, team: str) -> None:
    """The team is sent to an urgent call (suicide), is on scene, and misses its check-in."""
    call = embedded.post("/calls", QZV, role="call_taker")["call_id"]
    embedded.post(f"/calls/{call}/classify", {"category": "suicide", "priority": "urgent"}, role="call_taker")
    incident = embedded.post(f"/calls/{call}/escalate", {"location": QAZVIN}, role="call_taker")["incident_id"]
    embedded.post(f"/teams/{team}/dispatch", {"incident_id": incident}, role="dispatcher")
    embedded.post(f"/teams/{team}/status", {"status": "en_route"}, role="dispatcher")
    embedded.post(f"/teams/{team}/status", {"status": "on_scene"}, role="dispatcher")
    embedded.post(f"/teams/{team}/check-in-missed", {"due_at": datetime.now(UTC).isoformat()}, role="dispatcher")


def test_wall_a_new_urgent_alert_beeps_only_when_sound_is_on(embedded, page):
    t = _team_on_shift(embedded, "QZV-Hotel")
    live(page, embedded.url("dispatcher", "QZV"))
    page.wait_for_selector(f"#teams tr[data-team-id='{t}']", timeout=5000)
    assert page.get_attribute("#sound", "aria-pressed") == "false"
    _misses_a_check_in_on_an_urgent_call(embedded, t)
    page.wait_for_selector("#alerts [data-alert='check_in_missed']", timeout=5000)
    assert page.evaluate("EOC.app.state.beeps") == 0  # sound off: silent
    page.click("#sound")
    assert page.get_attribute("#sound", "aria-pressed") == "true"
    _misses_a_check_in_on_an_urgent_call(embedded, _team_on_shift(embedded, "QZV-India"))
    page.wait_for_function("() => EOC.app.state.beeps === 1", timeout=5000)  # one new urgent alert, one beep
    page.wait_for_timeout(1500)
    assert page.evaluate("EOC.app.state.beeps") == 1  # and not again every second


def test_map_duress_is_a_distinct_marker(embedded, page):
    t = embedded.post("/teams", {**QZV, "name": "QZV-Juliet", "home": QAZVIN})["team_id"]
    embedded.post(f"/teams/{t}/position", {"position": {"lat": 36.1, "lon": 50.2}})
    live(page, embedded.url("dispatcher", "QZV"))
    page.wait_for_selector(f"#map .tm[data-team-id='{t}']:not(.alarm)", timeout=5000)
    # A team row flagged as under duress (the board's "duress" field), as a delta brings it.
    page.evaluate("""(id) => {
        const s = EOC.app.state;
        const row = { ...s.rows['team/' + id], duress: true };
        EOC.app.onFrame({ type: 'delta', seq: s.seq + 1, prev: s.seq, now: new Date().toISOString(), changes: { ['team/' + id]: row } });
    }""", t)
    page.wait_for_selector(f"#map .tm.alarm.duress[data-team-id='{t}']", timeout=2000)
    assert page.evaluate(f"getComputedStyle(document.querySelector(\"#map .tm[data-team-id='{t}']\")).animationName") == "alarm-blink"
    assert page.evaluate(f"getComputedStyle(document.querySelector(\"#map .tm[data-team-id='{t}']\"), '::before').borderTopStyle") == "dashed"
