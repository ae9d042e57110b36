"""The simulator against the real embedded system, served over HTTP on a free port.

The simulator drives the system only through the command API; these tests read what it did
back through the API's boards. Speeds are high so that a few hundred commands cover a day or
more of simulated life; nothing here measures wall-clock time. As in ``eoc demo``, the system
runs on the simulator's clock (every command says when it happened on that clock).
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from eoc.main.bootstrap import System
from eoc.simulator import PROFILES, SimStats, profile_for, simulate
from eoc.simulator.casework import CALL_CATEGORIES, classify, escalation_probability
from eoc.simulator.client import CommandClient, Who
from eoc.simulator.clock import next_shift_change, shift_at
from events.envelope import iso
from events.places import PROVINCES, in_iran
from events.vocabulary import CentreKind, ShiftKind
from projections.clock import IRST
from tests.support.served import served
from tests.support.simulator import make_system, run, sim_clock


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[System, str]]:
    system = make_system(tmp_path / "data")
    try:
        with served(system) as url:
            yield system, url
    finally:
        system.close()


def boards(system: System, url: str, province: str) -> dict[str, Any]:
    token = system.signer.issue("provincial_supervisor", province, sub="test")
    r = httpx.get(f"{url}/api/v1/boards", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    return r.json()["rows"]


def summary(system: System, url: str, province: str) -> dict[str, Any]:
    token = system.signer.issue("provincial_supervisor", province, sub="test")
    r = httpx.get(f"{url}/api/v1/boards/summary", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    return r.json()


def rows(all_rows: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [r for k, r in all_rows.items() if k.startswith(prefix)]


def figures(all_rows: dict[str, Any], province: str) -> Counter[str]:
    """The key figures of every day the run touched, summed."""
    total: Counter[str] = Counter()
    for r in rows(all_rows, f"figures/{province}/"):
        total.update({k: v for k, v in r.items() if isinstance(v, int)})
        total.update({f"category:{k}": v for k, v in r["calls_by_category"].items()})
        total["dispatch_to_scene_n"] += r["dispatch_to_scene"]["n"]
    return total


def assert_clean(stats: SimStats) -> None:
    """No server error, no dropped connection, no simulator bug, no 4xx but the 409s of life."""
    assert stats.server_errors == 0, stats.as_dict()
    assert stats.connection_errors == 0, stats.as_dict()
    assert stats.task_errors == 0, stats.as_dict()
    assert not stats.refused, stats.refused
    assert all(":" in k for k in stats.conflicts)


# ------------------------------------------------------------------ Qazvin, end to end


def test_qazvin_registers_its_places_and_teams_and_lives_through_the_api(live):
    system, url = live
    stats = run(system, url, ("QZV",), max_commands=500)
    assert_clean(stats)
    seen = boards(system, url, "QZV")

    teams = rows(seen, "team/")
    assert len(teams) == 14
    # Four teams in Qazvin city and one in Alamut, a district of Qazvin county (شهرستان).
    assert Counter(t["county"] for t in teams)["Qazvin"] == 5
    assert {t["county"] for t in teams} == {c.official_name for c in PROFILES["QZV"].counties}
    kinds = Counter(c["kind"] for c in rows(seen, "centre/"))
    assert kinds == {"residential_level_1": 1, "outpatient": 8, "safe_house": 1, "health_house": 1}
    (centre,) = [c for c in rows(seen, "centre/") if c["kind"] == "residential_level_1"]
    assert centre["capacity"] == 10 and centre["county"] == "Qazvin"
    assert all(c["secret"] for c in rows(seen, "centre/") if c["kind"] in ("safe_house", "health_house"))

    # Life: calls classified, incidents from 123 and other routes, dispatches, admissions.
    f = figures(seen, "QZV")
    assert f["calls"] >= 15 and f["classified"] >= 0.9 * f["calls"]
    assert f["counselled"] + f["referred"] + f["interventions"] >= 0.8 * f["classified"]
    assert f["incidents_opened"] > f["interventions"], "incidents also come from police, courts, centres"
    # Qazvin: 1,717 dispatches for 1,883 calls — dispatches come close to calls.
    assert 0.4 <= f["dispatches"] / f["calls"] <= 2.0, f
    assert f["dispatches"] <= f["incidents_opened"] + 2
    assert f["admissions"] > 0 and f["dispatch_to_scene_n"] > 0
    assert stats.dispatches == f["dispatches"] and stats.calls <= f["calls"] <= stats.calls + 3

    # Teams moved: statuses changed, vehicles reported positions, all inside Iran near Qazvin.
    assert stats.by_command["change_team_status"] > 0 and stats.by_command["report_position"] > 0
    assert stats.by_command["start_shift"] >= 14
    positions = rows(seen, "position/")
    assert len(positions) == 14
    capital = PROVINCES["QZV"]
    for p in positions:
        assert in_iran(p["lat"], p["lon"])
        assert abs(p["lat"] - capital.lat) < 1.2 and abs(p["lon"] - capital.lon) < 1.2

    # Nothing the system stamped lies in the future: the simulator's clock only paces it.
    now = datetime.now(UTC)
    for key in ("team/", "incident/"):
        for r in rows(seen, key):
            moment = r.get("since") or r.get("opened_at")
            assert datetime.fromisoformat(moment) <= now + timedelta(seconds=1)


def test_a_busy_line_escalates_about_one_call_in_ten(live):
    """Kermanshah: 81,541 calls a year, 10% of them led to an intervention."""
    system, url = live
    stats = run(system, url, ("KSH",), max_commands=600)
    assert_clean(stats)
    f = figures(boards(system, url, "KSH"), "KSH")
    assert f["calls"] >= 80, f
    share = f["interventions"] / f["calls"]
    assert 0.04 <= share <= 0.18, share
    # Most calls are about family disputes and spouse addiction (DOMAIN.md).
    cats = {k.removeprefix("category:"): v for k, v in f.items() if k.startswith("category:")}
    assert max(cats, key=cats.get) in ("family_dispute", "spouse_addiction"), cats
    assert cats["family_dispute"] + cats.get("spouse_addiction", 0) >= 0.3 * sum(cats.values())
    # Incidents are dispatched (some may still wait in the queue when the run stops).
    assert f["dispatches"] >= 0.5 * f["incidents_opened"] > 0


def test_alborz_places_and_occupancy(live):
    system, url = live
    stats = run(system, url, ("ALB",), max_commands=300)
    assert_clean(stats)
    seen = summary(system, url, "ALB")
    centres = {c["name"]: c for c in seen["centres"]}
    # Registered under Persian names, as operators read them.
    assert centres["مرکز مداخله در بحران کرج"]["kind"] == "residential_level_1"
    assert centres["مرکز مداخله در بحران کرج"]["capacity"] == 12
    assert centres["مرکز مداخله در بحران ساوجبلاغ"]["kind"] == "residential_level_2"
    assert centres["مرکز مداخله در بحران ساوجبلاغ"]["capacity"] == 4
    assert Counter(c["kind"] for c in seen["centres"])["mobile_base"] == 3
    bases = {c["county"] for c in seen["centres"] if c["kind"] == "mobile_base"}
    assert bases == {"Nazarabad", "Savojbolagh", "Fardis"}
    occupancy = seen["occupancy"]["provinces"]["ALB"]
    assert occupancy["capacity"] == 12 + 4 + 10  # the safe house counts: it keeps people overnight
    assert 0 < occupancy["occupied"] <= occupancy["capacity"]
    assert occupancy["holding"] >= 1, "a client waits out the holding period before the safe house"
    for c in seen["centres"]:
        assert c["occupied"] <= c["capacity"]


def test_registration_is_reproducible_and_a_second_run_takes_over(tmp_path):
    """The same seed registers the same places and teams at the same points; a run on a
    system that an earlier run set up takes its places and teams over instead of doubling them."""

    def registered(system: System, url: str) -> tuple[set[tuple], set[tuple]]:
        seen = boards(system, url, "QZV")
        teams = {(t["name"], t["county"], t["home"]["lat"], t["home"]["lon"]) for t in rows(seen, "team/")}
        places = {(c["name"], c["kind"], c["capacity"], str(c["location"])) for c in rows(seen, "centre/")}
        return teams, places

    first, second = make_system(tmp_path / "a"), make_system(tmp_path / "b")
    try:
        with served(first) as url_a, served(second) as url_b:
            a = run(first, url_a, ("QZV",), max_commands=60)
            b = run(second, url_b, ("QZV",), max_commands=60)
            assert a.registered == b.registered == Counter({
                "QZV/team": 14, "QZV/outpatient": 8, "QZV/residential_level_1": 1,
                "QZV/safe_house": 1, "QZV/health_house": 1})
            assert registered(first, url_a) == registered(second, url_b)

            again = run(first, url_a, ("QZV",), max_commands=150, seed=7)
            assert_clean(again)
            assert not again.registered
            assert again.adopted == a.registered
            seen = boards(first, url_a, "QZV")
            assert len(rows(seen, "team/")) == 14 and len(rows(seen, "centre/")) == 11
    finally:
        first.close()
        second.close()


def test_a_province_without_a_report_is_scaled_by_population(live):
    """Fars: no report; its setup and volume follow its population (eoc/simulator/nation.py)."""
    system, url = live
    stats = run(system, url, ("FRS",), max_commands=120)
    assert_clean(stats)
    seen = boards(system, url, "FRS")
    profile = profile_for("FRS")
    teams = rows(seen, "team/")
    assert len(teams) == len(profile.teams) > 4
    assert Counter(t["county"] for t in teams).most_common(1)[0][0] == "Shiraz"
    assert len({t["county"] for t in teams}) > 1
    assert Counter(c["kind"] for c in rows(seen, "centre/")) == {
        "residential_level_1": 1, "outpatient": 4, "safe_house": 1, "health_house": 1, "mobile_base": 1}


def test_the_run_ends_when_stop_is_set(live):
    system, url = live

    async def go() -> SimStats:
        stop = asyncio.Event()
        task = asyncio.create_task(simulate(url, system.signin, provinces=("QZV",), speed=600, seed=1,
                                            stop=stop, clock=sim_clock(system, 600)))
        for _ in range(600):  # until the province's teams are registered (or 30 s have gone)
            await asyncio.sleep(0.05)
            if _count(system, "team/") == 14:
                break
        stop.set()
        return await task

    stats = asyncio.run(go())
    assert_clean(stats)
    assert stats.registered["QZV/team"] == 14 and stats.simulated_seconds > 0


def _count(system: System, prefix: str) -> int:
    _, all_rows = system.follower.snapshot()
    return sum(1 for k in all_rows if k.startswith(prefix))


# ------------------------------------------------------------------ the client takes refusals in its stride


def test_the_client_counts_a_409_and_a_missing_api_and_goes_on(live):
    system, url = live

    async def go() -> SimStats:
        stats = SimStats()
        stop = asyncio.Event()
        supervisor = Who("provincial_supervisor", "QZV", "sim-test")
        client = CommandClient(url, system.signin, stats, stop)
        centre = await client.send("register_centre", "/centres", {
            "province": "QZV", "county": "Qazvin", "name": "C", "kind": "residential_level_2", "capacity": 1,
            "location": {"lat": 36.27, "lon": 50.0}}, supervisor)
        path = f"/centres/{centre['centre_id']}/admissions"
        assert (await client.send("admit_client", path, {"route": "self"}, supervisor)).ok
        full = await client.send("admit_client", path, {"route": "police"}, supervisor)
        assert full.status == 409 and full.error == "over_capacity"
        wrong = await client.send("admit_client", "/centres/not-a-uuid/admissions", {"route": "self"}, supervisor)
        assert wrong.status == 422
        await client.close()

        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{s.getsockname()[1]}"
        gone = CommandClient(dead, system.signin, stats, stop)
        answer = await gone.send("receive_call", "/calls", {"province": "QZV", "county": "Qazvin"}, supervisor)
        assert answer.status == 0 and not answer.ok
        await gone.close()
        return stats

    stats = asyncio.run(go())
    assert stats.conflicts == {"admit_client:over_capacity": 1}
    assert stats.declined == 1 and stats.admissions == 1
    assert stats.refused == {"admit_client:invalid_command": 1}
    assert stats.connection_errors == 1


def test_the_budget_ends_a_run_without_error(live):
    system, url = live
    stats = run(system, url, ("QZV",), max_commands=5)
    assert stats.commands == 5 and stats.task_errors == 0


# ------------------------------------------------------------------ the calibration itself


def test_the_call_mix_escalates_one_call_in_ten_on_average():
    import random

    rng = random.Random(0)
    n = 20_000
    escalated = sum(rng.random() < escalation_probability(classify(rng), 0.10) for _ in range(n))
    assert 0.09 <= escalated / n <= 0.11
    top_two = sorted(CALL_CATEGORIES, key=CALL_CATEGORIES.get)[-2:]
    assert {str(c) for c in top_two} == {"family_dispute", "spouse_addiction"}


def test_profiles_match_the_reports_and_lie_inside_iran():
    qzv = PROFILES["QZV"]
    assert len(qzv.teams) == 14
    night = [t for t in qzv.teams if ShiftKind.NIGHT in t.shifts]
    assert night and {t.county for t in night} == {"Qazvin"}, "a night shift only in Qazvin city"
    assert all({ShiftKind.MORNING, ShiftKind.EVENING} <= set(t.shifts) for t in qzv.teams)
    assert Counter(p.kind for p in qzv.places)[CentreKind.OUTPATIENT] == 8
    assert round(qzv.calls_per_day * 122) == 1883
    alb = {p.name: p for p in PROFILES["ALB"].places}
    assert alb["Karaj crisis intervention centre"].capacity == 12
    assert alb["Savojbolagh crisis intervention centre"].capacity == 4
    ksh = Counter(p.kind for p in PROFILES["KSH"].places)
    assert ksh[CentreKind.SAFE_HOUSE] == 2 and ksh[CentreKind.HEALTH_HOUSE] == 1
    assert round(PROFILES["KSH"].calls_per_day * 365) == 81_541
    assert len([p for p in PROFILES["MZN"].places if p.opens_after_days == 0]) == 19 + 2  # + two houses
    for code in PROVINCES:
        profile = profile_for(code)
        for county in profile.counties:
            assert in_iran(county.lat, county.lon), (code, county)
        assert {p.county for p in profile.places} | {t.county for t in profile.teams} <= {
            c.name for c in profile.counties}
    with pytest.raises(ValueError):
        profile_for("XXX")


@pytest.mark.parametrize("local_hour, shift", [(6, "night"), (7, "morning"), (13, "morning"), (14, "evening"),
                                               (20, "evening"), (21, "night"), (0, "night")])
def test_shift_hours(local_hour, shift):
    moment = datetime(2026, 11, 23, local_hour, 30, tzinfo=IRST)
    assert shift_at(moment) == shift
    change = next_shift_change(moment).astimezone(IRST)
    assert change > moment and change.hour in (7, 14, 21) and change - moment <= timedelta(hours=10)
    assert iso(change)  # an aware moment
