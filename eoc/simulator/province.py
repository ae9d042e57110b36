"""One simulated province: its places and teams registered, then its life running.

Registration goes through the commands as a provincial supervisor would. A province that an
earlier run already registered (same data directory) is taken over instead: its places and
teams are found by name on the boards, their clients' stays go on, engaged teams are
brought back to ``available`` and open incidents go back to the dispatcher's queue.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from typing import Any

from eoc.simulator import scenarios
from eoc.simulator.centres import DAY, CentreDesk, Place
from eoc.simulator.client import Answer, CommandClient, Who
from eoc.simulator.clock import SimClock
from eoc.simulator.dispatch import Case, Dispatcher
from eoc.simulator.geo import Point, scatter
from eoc.simulator.line123 import CallDesk
from eoc.simulator.names import persian_names
from eoc.simulator.profiles import PlaceSpec, ProvinceProfile
from eoc.simulator.referrals import ReferralDesk
from eoc.simulator.scenarios import Scenario
from eoc.simulator.stats import SimStats
from eoc.simulator.tasks import TaskSet
from eoc.simulator.teams import TeamUnit
from events.vocabulary import (
    CallCategory,
    CentreKind,
    Priority,
    RiskFlag,
    Role,
    ShiftKind,
    TeamStatus,
)

MAX_TASKS = 2000  # more cases in flight than this: new arrivals wait (the API is the bottleneck)


class ProvinceSim:
    def __init__(self, profile: ProvinceProfile, client: CommandClient, clock: SimClock, tasks: TaskSet,
                 stats: SimStats, seed: int, scenarios: tuple[Scenario, ...] = ()) -> None:
        self.profile = profile
        self.names = persian_names(profile)  # what operators read: the places and teams in Persian
        self.code = profile.code
        self.client = client
        self.clock = clock
        self.tasks = tasks
        self.stats = stats
        self.seed = seed
        self.supervisor = self.who(Role.PROVINCIAL_SUPERVISOR, "supervisor")
        self.dispatcher = Dispatcher(self)
        self.centres = CentreDesk(self)
        self.calls = CallDesk(self)
        self.referrals = ReferralDesk(self)
        self.teams: list[TeamUnit] = []
        self.scenarios = scenarios
        self.ready = asyncio.Event()  # its places and teams are registered: its life has begun

    def rng(self, name: str) -> random.Random:
        """A random stream of its own for each thing, so the seed fixes it whatever the timing."""
        return random.Random(f"{self.seed}:{self.code}:{name}")

    def who(self, role: Role | str, name: str, *, team: str | None = None) -> Who:
        return Who(str(role), self.code, f"sim-{self.code}-{name}", team)

    async def spawn_case(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        while len(self.tasks) > MAX_TASKS:
            await asyncio.sleep(0.05)
        self.tasks.spawn(coro, name)

    # ------------------------------------------------------------------ the run

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            self.ready.set()  # even a failed setup must not keep the shared clock paused

    async def _run(self) -> None:
        scenarios.start(self.scenarios, self)  # they wait for the province to be ready
        earlier = await self._earlier_run()
        opened = await self._places(earlier)
        await self._teams(earlier)
        for place in opened:  # after every place exists: a holding period needs its house
            await self.centres.open_with_clients(place)
        for team in self.teams:
            self.tasks.spawn(team.run(), f"{self.code}:team:{team.spec.name}")
        self._queue_open_incidents(earlier)
        self.tasks.spawn(self.calls.run(), f"{self.code}:line-123")
        self.tasks.spawn(self.referrals.incidents(), f"{self.code}:referrals")
        self.tasks.spawn(self.referrals.admissions(), f"{self.code}:direct-admissions")
        self.tasks.spawn(self.dispatcher.watch(), f"{self.code}:dispatcher")
        self._roll_call()
        self.ready.set()
        for spec in self.profile.places:
            if spec.opens_after_days and not self._named(earlier, "centre/", spec.name):
                self.tasks.spawn(self._open_later(spec), f"{self.code}:opening:{spec.name}")

    def desks(self) -> list[Who]:
        """Everyone this province's simulation acts as: its supervisor, desks and teams."""
        return [self.supervisor, self.dispatcher.who, self.calls.who, self.centres.who,
                *self.referrals.opened_by.values(), *(team.who for team in self.teams)]

    def _roll_call(self) -> None:
        """Every desk signs in while the shared clock still stands (حضور و غیاب): a sign-in is
        the system's work, and done on the first command it would stamp that command, and all
        those waiting behind it, later than the moment it happened."""
        for who in self.desks():
            self.client.desks.token(who)

    async def _earlier_run(self) -> dict[str, Any]:
        """The boards' rows of this province, as the supervisor sees them (names, clients)."""
        seen = await self.client.read("/api/v1/boards", self.supervisor)
        return (seen or {}).get("rows", {})

    def _named(self, rows: dict[str, Any], prefix: str, name: str) -> tuple[str, dict[str, Any]] | None:
        # Registered under its Persian name (or its English one, by a run before Persian names).
        names = {name, self.names.get(name, name)}
        for key, row in rows.items():
            if key.startswith(prefix) and row.get("province") == self.code and row.get("name") in names:
                return key.removeprefix(prefix), row
        return None

    async def _register(self, command: str, path: str, body: dict[str, Any]) -> Answer:
        """Register, trying again while the API does not answer; a 4xx is final."""
        while True:
            a = await self.client.send(command, path, body, self.supervisor)
            if a.ok or 400 <= a.status < 500:
                return a

    def _location(self, kind: str, name: str, county_name: str, radius_km: float) -> Point:
        county = self.profile.county(county_name)
        return scatter(self.rng(f"{kind}:{name}"), Point(county.lat, county.lon), radius_km)

    # ------------------------------------------------------------------ places

    async def _places(self, earlier: dict[str, Any]) -> list[Place]:
        """Register (or take over) the places open from the start; the newly registered ones."""
        opened = []
        for spec in self.profile.places:
            if spec.opens_after_days:
                if (found := self._named(earlier, "centre/", spec.name)) is not None:
                    self._take_over_place(spec, *found)
                continue
            if (found := self._named(earlier, "centre/", spec.name)) is not None:
                self._take_over_place(spec, *found)
            elif (place := await self._register_place(spec)) is not None:
                opened.append(place)
        return opened

    async def _register_place(self, spec: PlaceSpec) -> Place | None:
        location = self._location("place", spec.name, spec.county, 2.5)
        a = await self._register("register_centre", "/centres", {
            "province": self.code, "county": self.profile.county(spec.county).official_name,
            "name": self.names[spec.name], "kind": str(spec.kind),
            "capacity": spec.capacity, "location": location.to_json()})
        if not a.ok:
            return None
        self.stats.registered[f"{self.code}/{spec.kind}"] += 1
        place = Place(spec, a["centre_id"], location, spec.capacity)
        self.centres.places[place.id] = place
        return place

    def _take_over_place(self, spec: PlaceSpec, centre_id: str, row: dict[str, Any]) -> None:
        if not row.get("open", True):
            return
        loc = row.get("location") or self._location("place", spec.name, spec.county, 2.5).to_json()
        place = Place(spec, centre_id, Point.from_json(loc), int(row.get("capacity", spec.capacity)))
        self.centres.places[centre_id] = place
        self.stats.adopted[f"{self.code}/{spec.kind}"] += 1
        self.centres.adopt(place, dict(row.get("clients") or {}))

    async def _open_later(self, spec: PlaceSpec) -> None:
        """A centre being built opens (DOMAIN.md: Mazandaran's three new centres)."""
        await self.clock.sleep(spec.opens_after_days * DAY)
        place = await self._register_place(spec)
        if place is not None:
            await self.centres.open_with_clients(place)

    # ------------------------------------------------------------------ teams

    async def _teams(self, earlier: dict[str, Any]) -> None:
        bases = {pl.spec.county: pl for pl in self.centres.places.values() if pl.kind == CentreKind.MOBILE_BASE}
        for spec in self.profile.teams:
            base = bases.get(spec.county)
            home = base.location if base else self._location("home", spec.name, spec.county, 1.5)
            if (found := self._named(earlier, "team/", spec.name)) is not None:
                team_id, row = found
                last = earlier.get(f"position/{team_id}")
                unit = TeamUnit(self, spec, team_id, home, Point.from_json(last) if last else home)
                # A board status that is no team status ("in_drill": an earlier run stopped in a
                # manoeuvre) is believed available; the system's refusals correct the belief.
                status = row.get("status", "off_duty")
                unit.status = TeamStatus(status) if status in set(TeamStatus) else TeamStatus.AVAILABLE
                unit.shift = ShiftKind(row["shift"]) if row.get("shift") else None
                self.stats.adopted[f"{self.code}/team"] += 1
            else:
                body: dict[str, Any] = {"province": self.code, "county": self.profile.county(spec.county).official_name,
                                        "name": self.names[spec.name],
                                        "home": home.to_json()}
                if base is not None:
                    body["base_id"] = base.id
                a = await self._register("register_team", "/teams", body)
                if not a.ok:
                    continue
                unit = TeamUnit(self, spec, a["team_id"], home)
                self.stats.registered[f"{self.code}/team"] += 1
            self.teams.append(unit)

    def _queue_open_incidents(self, earlier: dict[str, Any]) -> None:
        """Incidents an earlier run left open go back to the dispatcher."""
        for key, row in earlier.items():
            if not key.startswith("incident/") or row.get("province") != self.code:
                continue
            self.dispatcher.assign(Case(
                row["id"], row.get("county") or self.profile.capital.name, Point.from_json(row["location"]),
                CallCategory(row["category"]), Priority(row["priority"]),
                tuple(RiskFlag(f) for f in row.get("risk_flags", ())),
                row.get("route", "self"), self.clock.elapsed(), self.rng(f"earlier:{row['id']}")))
