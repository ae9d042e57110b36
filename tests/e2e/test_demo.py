"""The demo's realistic national day: simulated time on every event, the 31 provinces, the
reports' ratios after a simulated week, and the scenarios an EOC rehearses.

The simulator drives an in-process system (the API through httpx's ASGI transport, no
socket) that runs on the simulator's own clock, as ``eoc demo`` does. Nothing here measures
wall-clock time: the speeds only make a simulated day or week pass in seconds.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from eoc.app.config import Settings
from eoc.audit.late import list_late_entries
from eoc.cli.demo import day_start
from eoc.domain import to_envelope
from eoc.http.api import create_api
from eoc.main.bootstrap import System, build
from eoc.simulator import Scenario, SimClock, SimStats, expand, expected_ratios, profile_for, simulate
from eoc.simulator.nation import CENSUS_2016, calls_per_day
from events.places import PROVINCES, in_iran
from events.reference import county as reference_county
from projections.clock import IRST

SECRET = b"test-secret-test-secret"
TOLERANCE = 0.35  # relative: a simulated week of a small province is a few hundred calls


def make_system(path: Path, clock: SimClock) -> System:
    return build(Settings.from_env({}, store="sqlite", data_dir=path, token_secret=SECRET), clock=clock,
                 checkpoint=False)


@pytest.fixture
def nation(tmp_path: Path) -> Iterator[Any]:
    """A factory: (clock) -> a system on that clock; closed at the end."""
    made: list[System] = []

    def make(clock: SimClock) -> System:
        system = make_system(tmp_path / f"data{len(made)}", clock)
        made.append(system)
        return system

    yield make
    for system in made:
        system.close()


def run(system: System, clock: SimClock, provinces: tuple[str, ...], *, hours: float,
        scenarios: tuple[Scenario, ...] = (), seed: int = 1403, volume: dict[str, float] | None = None) -> SimStats:
    """Simulate until the clock has lived ``hours`` simulated hours, in-process."""

    async def go() -> SimStats:
        stop = asyncio.Event()
        transport = httpx.ASGITransport(app=create_api(system))
        task = asyncio.create_task(simulate("http://demo", system.signin, provinces=provinces, speed=clock.speed,
                                            seed=seed, clock=clock, scenarios=scenarios, stop=stop,
                                            transport=transport, volume=volume))
        while clock.elapsed() < hours * 3600 and not task.done():
            await asyncio.sleep(0.05)
        stop.set()
        return await task

    stats = asyncio.run(go())
    assert system.follower.wait_for(system.app.recorder.max_notification_id() or 0, timeout=60)
    assert stats.server_errors == 0 and stats.task_errors == 0, stats.as_dict()
    assert not stats.refused, stats.refused
    return stats


def rows(system: System, prefix: str) -> dict[str, Any]:
    _, all_rows = system.follower.snapshot()
    return {k: r for k, r in all_rows.items() if k.startswith(prefix)}


def figures(system: System, province: str, ns: str = "") -> Counter[str]:
    total: Counter[str] = Counter()
    for key, r in {**rows(system, f"{ns}figures/{province}/"), **rows(system, f"{ns}period-figures/{province}/")}.items():
        total.update({k: v for k, v in r.items() if isinstance(v, int)})
    return total


def envelopes(system: System) -> list[Any]:
    app = system.app
    notes = app.recorder.select_notifications(start=1, limit=10**7)
    return [to_envelope(app.mapper.to_domain_event(n), position=n.id) for n in notes]


def past(days: float, hour: int = 9) -> datetime:
    """``days`` ago at ``hour`` (Iran time): the simulated clock must start in the past."""
    local = (datetime.now(IRST) - timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


# ------------------------------------------------------------------ simulated time on every event


def test_demo_events_carry_simulated_times_spread_over_the_simulated_hours(nation):
    clock = SimClock(3000, past(2))
    system = nation(clock)
    stats = run(system, clock, ("KSH",), hours=14)
    evs = envelopes(system)
    calls = [e for e in evs if e.type == "CallReceived"]
    assert len(calls) >= 40, stats.as_dict()
    hours = Counter(datetime.fromisoformat(e.occurred_at).astimezone(IRST).hour for e in calls)
    assert len(hours) >= 8, hours  # a sped-up run spreads its calls over the simulated hours
    start, end = clock.start, clock.now()
    for e in evs:
        occurred = datetime.fromisoformat(e.occurred_at)
        assert start - timedelta(seconds=1) <= occurred <= end, (e.type, e.occurred_at)
        assert occurred <= datetime.fromisoformat(e.recorded_at)
    assert end <= datetime.now(UTC), "the simulated clock never runs ahead of the real one"
    # Times between facts are simulated ones: call -> dispatch -> scene take minutes, not milliseconds.
    f = figures(system, "KSH")
    assert f["calls"] == len(calls)
    scenes = [r["dispatch_to_scene"] for r in rows(system, "figures/KSH/").values()]
    n = sum(s["n"] for s in scenes)
    assert n > 0 and sum(s["sum_s"] for s in scenes) / n > 10 * 60, scenes
    # The board's calls by hour (by occurred_at) have many bars, as the events do.
    by_hour: Counter[str] = Counter()
    for r in rows(system, "figures/KSH/").values():
        by_hour.update(r["calls_by_hour"])
    assert by_hour == Counter({f"{h:02d}": n for h, n in hours.items()}), (by_hour, hours)


def test_demo_clock_catches_up_with_the_real_clock_then_runs_live():
    clock = SimClock(100_000, datetime.now(UTC) - timedelta(hours=1))
    assert not clock.live and clock.rate == 100_000
    import time

    time.sleep(0.1)  # 10,000 simulated seconds would be ahead of the real clock
    assert clock.live and clock.rate == 1
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1
    later = SimClock(600, datetime.now(UTC) + timedelta(hours=1))  # a start in the future is now
    assert later.now() <= datetime.now(UTC)


def test_demo_day_starts_in_the_past_at_the_start_hour():
    now = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # 01:30 on 2 December in Iran
    start = day_start(9, now)
    assert start.astimezone(IRST) == datetime(2026, 11, 30, 9, 0, tzinfo=IRST)
    assert day_start(-1, now) == now - timedelta(days=2)


# ------------------------------------------------------------------ a nation


def test_demo_nation_profiles_scale_by_population_with_persian_names():
    codes = expand(("all",))
    assert len(codes) == 31 and set(codes) == set(PROVINCES) and set(CENSUS_2016) == set(PROVINCES)
    total = sum(profile_for(c).calls_per_day for c in codes)
    assert 2_000 < total < 5_000, total  # about a million calls a year on line 123
    assert calls_per_day("THR") > 10 * calls_per_day("ILM")
    assert len(profile_for("THR").teams) > len(profile_for("ILM").teams) >= 4
    frs = profile_for("FRS")
    assert frs.counties[0].name == "Shiraz" and len(frs.counties) > 3
    assert any("شیراز" in p.name for p in frs.places) and any("فارس" in p.name for p in frs.places)
    for code in codes:
        p = profile_for(code)
        night = {t.county for t in p.teams if "night" in t.shifts}
        assert night == {p.capital.name}, (code, night)  # night shifts only in the capital
        for c in p.counties:
            assert in_iran(c.lat, c.lon) and reference_county(code, c.official_name) is not None, (code, c)
        assert {pl.county for pl in p.places} | {t.county for t in p.teams} <= {c.name for c in p.counties}


def test_demo_all_provinces_put_calls_on_the_board(nation):
    """The 31 provinces register and live; each province's line is scaled to about a call an
    hour here (the whole nation's 3,000 a day would outrun a test machine at this speed)."""
    clock = SimClock(1500, past(2, hour=15))
    clock.MAX_LAG_S = float("inf")  # a steady pace: eight simulated hours take 19 real seconds
    system = nation(clock)
    volume = {code: 24 / profile_for(code).calls_per_day for code in PROVINCES}
    stats = run(system, clock, ("all",), hours=8, volume=volume)
    assert set(k.split("/")[0] for k in stats.registered) == set(PROVINCES)
    called = {k.split("/")[1] for k, r in rows(system, "figures/").items() if r["calls"] > 0}
    assert called == set(PROVINCES), set(PROVINCES) - called
    teams = rows(system, "team/")
    assert {t["province"] for t in teams.values()} == set(PROVINCES)
    assert len(teams) == sum(len(profile_for(c).teams) for c in PROVINCES)


# ------------------------------------------------------------------ teams on the roads


def test_demo_teams_drive_along_the_road_layer_where_it_exists():
    """With a road layer, a team's drive follows it (to the road, along the network, off to the
    destination), its position reports lie on the road; without one (today's shipped base map
    has no roads: ui-bridge/web/SOURCES.md) the drive is a straight line."""
    from eoc.simulator.geo import Point
    from eoc.simulator.roads import length_km, network_from, point_along, shipped
    from eoc.simulator.teams import TeamUnit

    # An L-shaped road from Qazvin east, then south: the straight line cuts the corner.
    road = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": [
            [50.00, 36.27], [50.25, 36.27], [50.50, 36.27], [50.50, 36.02], [50.50, 35.77]]}}]}
    net = network_from(road)
    a, b = Point(36.275, 50.0), Point(35.77, 50.505)
    route = net.route(a, b)
    assert Point(36.27, 50.5) in route  # by the corner
    assert length_km(route) > 1.25 * length_km([a, b])
    halfway = point_along(route, 0.5)
    assert abs(halfway.lat - 36.27) < 0.01 or abs(halfway.lon - 50.5) < 0.01  # on one of the road's legs
    # Far from any road, or no layer: straight.
    far = Point(30.0, 57.0)
    assert net.route(far, Point(30.2, 57.2)) == [far, Point(30.2, 57.2)]
    assert shipped() is None  # the shipped base map has no roads yet

    # A team's drive reports positions on the road.
    sent: list[dict[str, Any]] = []

    class Answer:
        ok = True

    class Client:
        async def send(self, command, path, body, who):
            sent.append(body["position"])
            return Answer()

    class Clock:
        def real(self, sim_seconds):
            return 0.6  # the whole drive in 0.6 real seconds: two or three reports

    class Province:
        clock, client = Clock(), Client()

    team = object.__new__(TeamUnit)
    team.p, team.id, team.who, team.job, team.position, team.roads = Province(), "t1", {}, None, a, net
    asyncio.run(team._drive(b, kmh=60))
    assert team.position == b and sent
    for p in sent:
        on_leg = abs(p["lat"] - 36.27) < 0.01 or abs(p["lon"] - 50.5) < 0.01
        assert on_leg, p  # never on the straight line across the corner
    team.roads = network_from(None) or type("NoRoads", (), {"route": staticmethod(lambda x, y: [x, y])})()
    sent.clear()
    team.position = a
    asyncio.run(team._drive(b, kmh=60))
    mid = sent[len(sent) // 2]
    assert abs(mid["lat"] - 36.27) > 0.02 and abs(mid["lon"] - 50.5) > 0.02  # straight across


# ------------------------------------------------------------------ a daily rhythm: occupancy fills and empties


def test_demo_occupancy_fills_and_empties_over_simulated_days(nation):
    """Qazvin's crisis centres over three simulated days: admissions fill the beds, stays of a
    night or two end in discharges that empty them again, so the occupancy board rises and
    falls (not a counter that only grows, nor a board that stays empty)."""
    clock = SimClock(12000, past(4))
    clock.MAX_LAG_S = float("inf")  # a steady pace: three days take 22 real seconds
    system = nation(clock)
    samples: list[tuple[float, int]] = []  # (simulated hours, people staying in the province's crisis centres)

    def staying() -> int:
        _, all_rows = system.follower.snapshot()
        return sum(r["occupied"] for k, r in all_rows.items()
                   if k.startswith("centre/") and r.get("province") == "QZV" and r.get("kind", "").startswith("residential"))

    async def go() -> SimStats:
        stop = asyncio.Event()
        transport = httpx.ASGITransport(app=create_api(system))
        task = asyncio.create_task(simulate("http://demo", system.signin, provinces=("QZV",), speed=clock.speed,
                                            seed=7, clock=clock, stop=stop, transport=transport))
        while clock.elapsed() < 3 * 24 * 3600 and not task.done():
            await asyncio.sleep(0.25)
            samples.append((clock.elapsed() / 3600, staying()))
        stop.set()
        return await task

    stats = asyncio.run(go())
    assert stats.server_errors == 0 and stats.task_errors == 0, stats.as_dict()
    assert samples[-1][0] >= 71
    levels = [n for _, n in samples]
    # It filled: from the opening's clients up to a busy level.
    assert max(levels) >= levels[0] + 3, levels
    # It emptied: from a high point the board later fell by at least two people (discharges).
    fall = max(high - min(levels[i:]) for i, high in enumerate(levels))
    assert fall >= 2, levels
    drops = sum(1 for a, b in zip(levels, levels[1:]) if b < a)
    rises = sum(1 for a, b in zip(levels, levels[1:]) if b > a)
    assert drops >= 5 and rises >= 5, (drops, rises, levels)
    discharged = Counter(e.type for e in envelopes(system))["ClientDischarged"]
    assert discharged >= 5, discharged


# ------------------------------------------------------------------ a simulated week agrees with the reports


def test_demo_ratios_after_a_simulated_week_within_tolerance(nation):
    """Interventions, dispatches and admissions per call, per province, against the reports
    (Kermanshah: 10% of calls intervened; Qazvin: 1,717 dispatches and 546 admissions for
    1,883 calls) and, for a province without a report, against its profile's rates."""
    clock = SimClock(24000, past(9))
    clock.MAX_LAG_S = float("inf")  # a steady pace: a week takes 25 real seconds
    system = nation(clock)
    # Each province scaled to about ten calls a day (its ratios are what is checked), so the
    # week is under two thousand commands that a loaded two-core machine keeps pace with.
    stats = run(system, clock, ("QZV", "KSH", "SMN"), hours=7 * 24, volume={"QZV": 0.65, "KSH": 0.045, "SMN": 0.4})
    smn = expected_ratios(profile_for("SMN"))  # its admissions (0.034 a call) are too few in a scaled week
    reports = {"KSH": {"interventions": 0.10}, "QZV": {"dispatches": 1717 / 1883, "admissions": 546 / 1883},
               "SMN": {"interventions": smn["interventions"], "dispatches": smn["dispatches"]}}
    seen = {}
    for code, expected in reports.items():
        f = figures(system, code)
        assert f["calls"] >= 45, (code, f)
        # The clients already staying when the places opened are not admissions of the week.
        admitted = f["admissions"] - stats.opening_clients[code]
        ratios = {"interventions": f["interventions"] / f["calls"], "dispatches": f["dispatches"] / f["calls"],
                  "admissions": admitted / f["calls"]}
        seen[code] = ratios
        for name, value in expected.items():
            # 35% of the figure, or three standard errors of a share of this many calls if larger.
            tolerance = max(TOLERANCE * value, 3 * math.sqrt(value * (1 - min(value, 0.99)) / f["calls"]))
            assert abs(ratios[name] - value) <= tolerance, (code, name, ratios[name], value, tolerance)
    # Qazvin sends teams on referrals: its dispatches per call are several times Kermanshah's (about
    # 0.9 against 0.1 to 0.2; a scaled week of Kermanshah is some 65 calls, so its share varies).
    assert seen["QZV"]["dispatches"] > 2.5 * seen["KSH"]["dispatches"], seen


# ------------------------------------------------------------------ the national wall during --provinces all


# ------------------------------------------------------------------ scenarios


def test_demo_drill_rows_only_under_drill(nation):
    clock = SimClock(3000, past(2))
    plain_system = nation(clock)
    run(plain_system, clock, ("QZV",), hours=4)
    assert not rows(plain_system, "drill/"), "no drill rows without a drill"

    clock = SimClock(3000, past(2))
    system = nation(clock)
    stats = run(system, clock, ("QZV",), hours=4, scenarios=(Scenario.parse("drill:QZV"),))
    assert stats.scenario["drill:QZV"] >= 8
    drill = rows(system, "drill/")
    assert drill, "the manoeuvre folds into drill rows"
    opened = figures(system, "QZV", "drill/")
    assert opened["incidents_opened"] == stats.scenario["drill:QZV"] and opened["dispatches"] > 0
    exercises = [e for e in envelopes(system) if e.exercise]
    assert {e.type for e in exercises} >= {"IncidentOpened", "TeamDispatched"}
    # The real figures do not count the manoeuvre.
    real = figures(system, "QZV")
    assert real["incidents_opened"] == sum(1 for e in envelopes(system)
                                           if e.type in ("IncidentOpened", "CallEscalated") and not e.exercise)


def test_demo_surge_in_one_county(nation):
    clock = SimClock(3000, past(2))
    system = nation(clock)
    stats = run(system, clock, ("QZV",), hours=6, scenarios=(Scenario.parse("surge:QZV:Takestan:suicide"),))
    surge = stats.scenario["surge:QZV/Takestan/suicide"]
    assert surge >= 10, stats.scenario
    evs = envelopes(system)
    county_of = {e.aggregate_id: e.county for e in evs if e.type == "CallReceived"}
    suicide: Counter[str] = Counter(county_of.get(e.aggregate_id, "?") for e in evs
                                    if e.type == "CallClassified" and e.payload["category"] == "suicide")
    # Takestan weighs 1.3 of Qazvin's 12.2: without the surge it would have a tenth of the calls.
    assert suicide["Takestan"] >= surge * 0.8 and suicide["Takestan"] > 3 * (sum(suicide.values()) - suicide["Takestan"])


def test_demo_outage_entries_arrive_late_with_their_real_times(nation):
    clock = SimClock(3000, past(2))
    system = nation(clock)
    outage = Scenario("outage", "KSH", after_h=1, hours=3)
    stats = run(system, clock, ("KSH", "QZV"), hours=6, scenarios=(outage,))
    assert stats.late_entries >= 10, stats.as_dict()
    # At 3000x a command's own trip through a loaded machine can take ten simulated minutes;
    # the outage's entries are hours late. The line drops at its hour, or later when the
    # province took longer than that to set up (a loaded machine): the run says when.
    start, end = (datetime.fromisoformat(t) for t in stats.outages["KSH"])
    assert end - start == timedelta(hours=3) and start >= clock.start + timedelta(hours=1)

    def in_outage(r: dict) -> bool:  # while the line was down (the set-up is stamped the moment it dropped)
        occurred = datetime.fromisoformat(r["occurred_at"])
        return start < occurred <= end + timedelta(minutes=1)

    back = end - timedelta(minutes=1)  # the line came back
    # What happened in the outage's hours, by province: KSH's was held on paper and entered when
    # the line came back, with when it happened; QZV's line never dropped. (A slow trip on a
    # loaded machine can make a stray entry late too: this tells them by when they were entered.)
    happened = [e for e in envelopes(system) if in_outage({"occurred_at": e.occurred_at})]

    def entered_after_back(province: str) -> float:
        mine = [e for e in happened if e.province == province]
        assert mine, province
        return sum(datetime.fromisoformat(e.recorded_at) >= back for e in mine) / len(mine)

    assert entered_after_back("KSH") > 0.9 and entered_after_back("QZV") < 0.1
    late = [r for r in list_late_entries(envelopes(system), overrides=False) if r["late_by_s"] > 1800]
    held = [r for r in late if in_outage(r) and datetime.fromisoformat(r["recorded_at"]) >= back]
    assert len(held) >= 10 and {r["province"] for r in held} == {"KSH"}, "only the province whose line dropped"
    late = held
    f = figures(system, "KSH")
    assert f["late_entries"] >= len({r["aggregate_id"] for r in late}) > 0
    # Counted when they happened: the outage's hours have calls on the board.
    by_hour: Counter[str] = Counter()
    for r in rows(system, "figures/KSH/").values():
        by_hour.update(r["calls_by_hour"])
    outage_hours = {f"{(start + timedelta(hours=h)).astimezone(IRST).hour:02d}" for h in (0.5, 1.5, 2.5)}
    assert all(by_hour[h] > 0 for h in outage_hours), (by_hour, outage_hours)
    assert figures(system, "QZV")["late_entries"] < f["late_entries"]  # strays of a loaded machine only


# ------------------------------------------------------------------ the national wall, last: its
# browser (sync Playwright) keeps an event loop in this thread until the module ends

@pytest.mark.browser
def test_demo_national_wall_during_all_provinces_at_both_sizes(nation, browser, monkeypatch):
    """The national EOC's wall while the 31 provinces are simulated (as `eoc demo --provinces
    all`, each line scaled to about four calls an hour): every province's row has calls, the wall
    fits at 1920×1080 and 1366×768 in both languages, and the clock says it is a simulation.
    Screenshots: artifacts/wall/demo-national-*.png."""
    import threading

    from events.envelope import iso
    from tests.support.browser import ARTIFACTS, LAPTOP, MEASURE, WALL, Embedded

    # 200×: the test's few real minutes stay within one simulated day (06:00 to about 20:00),
    # so "calls today" never resets at midnight under its feet.
    clock = SimClock(200, past(1, hour=6))
    clock.MAX_LAG_S = float("inf")
    system = nation(clock)
    # The bridge on the simulated clock, as `eoc demo` starts it (the dashboard's clock and ages).
    e = Embedded(system, monkeypatch, bridge_options={"now": lambda: iso(clock.now()).replace("+00:00", "Z"),
                                                      "clock": lambda: {"simulated": True, "rate": clock.rate}})
    volume = {code: 96 / profile_for(code).calls_per_day for code in PROVINCES}  # four calls an hour each
    stop = threading.Event()
    result: dict[str, Any] = {}

    def simulate_nation() -> None:
        async def go() -> SimStats:
            halt = asyncio.Event()
            transport = httpx.ASGITransport(app=create_api(system))
            task = asyncio.create_task(simulate("http://demo", system.signin, provinces=("all",), speed=clock.speed,
                                                seed=1403, clock=clock, stop=halt, transport=transport, volume=volume))
            while not stop.is_set() and not task.done():
                await asyncio.sleep(0.1)
            halt.set()
            return await task

        result["stats"] = asyncio.run(go())

    runner = threading.Thread(target=simulate_nation, name="nation")
    runner.start()
    shots = ARTIFACTS / "wall"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        for size, name in ((WALL, "1920x1080"), (LAPTOP, "1366x768")):
            for lang in ("en", "fa"):
                context = browser.new_context(viewport=size, device_scale_factor=1)
                context.add_init_script(f"localStorage.setItem('eoc.lang', '{lang}')")
                pg = context.new_page()
                try:
                    pg.goto(e.url("national_eoc", "IR"))
                    pg.wait_for_selector("body[data-conn='live']", state="attached", timeout=60000)
                    # Every province's row shows calls today (the table pages itself; all rows are there).
                    pg.wait_for_function("""() => { const rows = [...document.querySelectorAll('#provinces tbody tr')];
                        return rows.length === 31 && rows.every((r) => !/^[0۰]$/.test(r.cells[1].textContent.trim())); }""",
                                         timeout=90000, polling=500)
                    pg.wait_for_timeout(800)
                    took = pg.evaluate("(() => { const t = performance.now(); EOC.app.render(); return performance.now() - t; })()")
                    print(f"national wall {name} {lang}: one render of the nation took {took:.0f} ms")
                    pg.screenshot(path=str(shots / f"demo-national-{name}-{lang}.png"), timeout=120_000)
                    # The nation's board changes several times a second: a row that arrived while it
                    # was measured is laid out on the next frame. What is cut three times running is not.
                    for _ in range(3):
                        problems = pg.evaluate(MEASURE)
                        if not problems:
                            break
                        pg.wait_for_timeout(700)
                    assert not problems, (name, lang, problems)
                    # The nation's centres wait for a province's zoom: they do not bury the map.
                    assert pg.locator("#map.nation").count() == 1
                    assert pg.evaluate("[...document.querySelectorAll('#map .centre-icon')].every((c) => !c.offsetParent)")
                    # Counts by status under the clusters: none lies on another cluster or its counts
                    # (once the clusters have settled: markers move on every frame of a nation).
                    for _ in range(3):  # what overlaps three times running, after settling, is not a moving frame
                        pg.evaluate("EOC.map.declutter()")
                        pg.wait_for_timeout(600)
                        overlaps = pg.evaluate("""() => { const rs = [...document.querySelectorAll('#map .cluster, #map .cluster .by')]
                            .filter((e) => e.offsetParent && getComputedStyle(e).visibility !== 'hidden')
                            .map((e) => [e, e.getBoundingClientRect()]);
                          let n = 0;
                          for (const [a, r] of rs) for (const [b, q] of rs) if (a !== b && !a.contains(b) && !b.contains(a)
                            && r.left < q.right - 1 && q.left < r.right - 1 && r.top < q.bottom - 1 && q.top < r.bottom - 1
                            && (a.classList.contains('by') || b.classList.contains('by'))) n++;
                          return n; }""")
                        if overlaps == 0:
                            break
                    assert overlaps == 0, (name, lang, overlaps)
                    clock_text = pg.inner_text("#clock-time")
                    assert ("شبیه‌سازی" if lang == "fa" else "simulat") in clock_text.lower(), clock_text
                finally:
                    context.close()
    finally:
        stop.set()
        runner.join(60)
        e.close()
    stats = result["stats"]
    assert stats.server_errors == 0 and stats.task_errors == 0, stats.as_dict()
