"""A mobile team (گروه سیار) and its vehicle: shifts, call-outs, driving, safety check-ins.

Each team runs as one task that gives every command about that team in order, so the
simulator never races itself on a team. It believes a status and a position; when the
system answers 409 with the team's real status, the belief is corrected and the team walks
the legal moves back to ``available``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from eoc.simulator import casework
from eoc.simulator.clock import next_shift_change, shift_at
from eoc.simulator.geo import Point, distance_km, heading
from eoc.simulator.roads import RoadNetwork, length_km, point_along, shipped
from events.envelope import iso
from events.places import in_iran
from events.vocabulary import (
    ENGAGED_STATUSES,
    IncidentOutcome,
    Priority,
    ReferralRoute,
    ShiftKind,
    TeamStatus,
)

if TYPE_CHECKING:
    from eoc.simulator.dispatch import Case
    from eoc.simulator.profiles import TeamSpec
    from eoc.simulator.province import ProvinceSim

S = TeamStatus
REPORT_EVERY_S = 1.0  # a moving vehicle reports its position about once a real second
CHECK_IN_EVERY_MIN = 15.0  # safety check-ins while on the scene (simulated minutes)
HOME_RADIUS_KM = 0.3
RETRY_S = 300.0  # simulated seconds before trying again what the system did not do


class TeamUnit:
    def __init__(self, province: ProvinceSim, spec: TeamSpec, team_id: str, home: Point,
                 position: Point | None = None) -> None:
        self.p = province
        self.spec = spec
        self.id = team_id
        self.home = home
        self.position = position or home
        self.roads: RoadNetwork | None = None  # None: the shipped road layer, if the base map has one
        self.status = S.OFF_DUTY
        self.shift: ShiftKind | None = None
        self.job: Case | None = None
        self.wake = asyncio.Event()
        self.rng = province.rng(f"team:{spec.name}")
        self.who = province.who("team", spec.name.split()[0], team=team_id)

    # ------------------------------------------------------------------ as the dispatcher sees it

    def wanted_shift(self) -> ShiftKind | None:
        kind = shift_at(self.p.clock.now())
        return kind if kind in self.spec.shifts else None

    @property
    def free(self) -> bool:
        return (self.job is None and self.status == S.AVAILABLE and self.shift is not None
                and self.shift == self.wanted_shift())

    def take(self, case: Case) -> None:
        self.job = case
        self.wake.set()

    # ------------------------------------------------------------------ the team's day

    async def run(self) -> None:
        while True:
            self.wake.clear()
            if self.job is None:
                if self.status in ENGAGED_STATUSES:
                    await self._recover()
                await self._keep_shift()
            if self.shift is None:
                await self._wait(self.p.clock.until(next_shift_change(self.p.clock.now())) + 1)
                continue
            if self.job is None and self.shift != self.wanted_shift():
                await self._wait(RETRY_S)  # the shift change did not go through: try again shortly
                continue
            if self.job is None and self.free:
                self.job = self.p.dispatcher.next_for(self)
            job = self.job
            if job is not None:
                try:
                    await self._mission(job)
                finally:
                    if self.job is job:
                        self.job = None
                continue
            if distance_km(self.position, self.home) > HOME_RADIUS_KM and self.status == S.AVAILABLE:
                await self._drive(self.home, self.rng.uniform(30, 45), interruptible=True)
            else:
                await self._wait(self.p.clock.until(next_shift_change(self.p.clock.now())) + 1)

    async def _wait(self, sim_seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout=self.p.clock.real(sim_seconds))

    async def _keep_shift(self) -> None:
        """Shift change (تعویض شیفت) through the end-shift and start-shift commands."""
        wanted = self.wanted_shift()
        if wanted == self.shift and (wanted is None) == (self.status == S.OFF_DUTY):
            return
        if self.status in ENGAGED_STATUSES:
            await self._recover()
        if self.status != S.OFF_DUTY:
            a = await self.p.client.send("end_shift", f"/teams/{self.id}/shift/end", {}, self.who)
            if a.ok or a.error == "illegal_transition":
                self.status, self.shift = S.OFF_DUTY, None
            else:
                self._believe(a.body)
                return
        if wanted is not None:
            prefix = self.spec.name.split()[0]
            members = [f"{prefix}-{wanted}-{k + 1}" for k in range(self.spec.crew)]
            a = await self.p.client.send("start_shift", f"/teams/{self.id}/shift/start",
                                         {"shift": str(wanted), "members": members}, self.who)
            if a.ok:
                self.status, self.shift = S.AVAILABLE, wanted
            else:
                self._believe(a.body)

    # ------------------------------------------------------------------ a call-out

    async def _mission(self, case: Case) -> None:
        p, rng = self.p, case.rng
        a = await p.client.send("dispatch_team", f"/teams/{self.id}/dispatch", {"incident_id": case.id},
                                p.dispatcher.who)
        if not a.ok:
            self._believe(a.body)
            if a.error not in ("incident_not_open", "not_found"):
                p.dispatcher.assign(case)  # another team goes (this one is not free while it holds the job)
            await self._recover()
            return
        self.status = S.DISPATCHED
        # A manoeuvre (مانور) ends on the scene: nobody is really admitted.
        outcome = (IncidentOutcome.RESOLVED_ON_SCENE if case.exercise
                   else casework.scene_outcome(rng, case.category, p.profile.admit_share))
        await p.clock.sleep(rng.uniform(60, 180))  # the crew gets into the vehicle
        if not await self._status(S.EN_ROUTE):
            return await self._give_back(case)
        fast = case.priority in (Priority.URGENT, Priority.HIGH)
        await self._drive(case.location, rng.uniform(45, 60) if fast else rng.uniform(30, 50))
        if not await self._status(S.ON_SCENE):
            return await self._give_back(case)
        await self._on_scene(case, outcome)
        if outcome == IncidentOutcome.ADMITTED:
            outcome = await self._bring_to_centre(case)
        else:
            await self._status(S.AVAILABLE)
        await self._recover()
        await p.dispatcher.close(case, outcome)

    async def _give_back(self, case: Case) -> None:
        """The call-out broke off (the system said no, or did not answer): someone else goes."""
        await self._recover()
        self.p.dispatcher.assign(case)

    async def _on_scene(self, case: Case, outcome: IncidentOutcome) -> None:
        clock, rng = self.p.clock, case.rng
        minutes = casework.on_scene_minutes(rng, outcome)
        miss = casework.misses_check_in(rng, case.risk_flags)
        spent = 0.0
        while spent + CHECK_IN_EVERY_MIN < minutes:
            await clock.sleep(CHECK_IN_EVERY_MIN * 60)
            spent += CHECK_IN_EVERY_MIN
            if miss:  # no word from the team: the dispatcher records it, the team calls in late
                miss = False
                due = clock.now()
                await clock.sleep(5 * 60)
                await self.p.client.send("record_missed_check_in", f"/teams/{self.id}/check-in-missed",
                                         {"due_at": iso(due)}, self.p.dispatcher.who)
                late = rng.uniform(2, 10)
                await clock.sleep(late * 60)
                spent += 5 + late
            await self.p.client.send("check_in", f"/teams/{self.id}/check-in",
                                     {"position": self.position.to_json()}, self.who)
        await clock.sleep((minutes - spent) * 60)

    async def _bring_to_centre(self, case: Case) -> IncidentOutcome:
        """Admission (پذیرش): to the nearest centre with a free bed, or a declined admission."""
        centres, rng = self.p.centres, case.rng
        place = centres.bed_for(self.position)
        if place is None:  # every bed taken: the refusal is recorded as unmet demand
            nearest = centres.nearest_residential(self.position)
            if nearest is not None:
                await centres.admit(nearest, ReferralRoute.MOBILE_TEAM, rng, incident_id=case.id)
            await self._status(S.AVAILABLE)
            return IncidentOutcome.REFERRED
        try:
            if not await self._status(S.TRANSPORTING):
                return IncidentOutcome.REFERRED
            await self._drive(place.location, rng.uniform(35, 55))
            await self._status(S.AT_CENTRE)
        finally:
            place.reserved -= 1
        admitted = await centres.admit(place, ReferralRoute.MOBILE_TEAM, rng, incident_id=case.id)
        await self.p.clock.sleep(rng.uniform(10, 25) * 60)  # handing the client over
        await self._status(S.AVAILABLE)
        return IncidentOutcome.ADMITTED if admitted else IncidentOutcome.REFERRED

    # ------------------------------------------------------------------ moving and reporting

    async def _drive(self, to: Point, kmh: float, *, interruptible: bool = False) -> bool:
        """Drive in a straight line, reporting the position about once a real second.

        Returns False if a dispatch interrupted the drive (only when ``interruptible``).
        """
        start, km = self.position, distance_km(self.position, to)
        if km < 0.05:
            self.position = to
            return True
        roads = self.roads if self.roads is not None else shipped()
        route = roads.route(start, to) if roads is not None else [start, to]  # along the roads where a layer exists
        km = length_km(route)
        total = self.p.clock.real(km / kmh * 3600)
        t0 = time.monotonic()
        reports = 0
        while True:
            remaining = total - (time.monotonic() - t0)
            if remaining <= 0:
                break
            # Even a drive shorter than a second (a fast simulation) is seen once on the way.
            await asyncio.sleep(remaining / 2 if reports == 0 and total < REPORT_EVERY_S
                                else min(REPORT_EVERY_S, remaining))
            fraction = (time.monotonic() - t0) / total
            if fraction >= 1:
                break
            before, self.position = self.position, point_along(route, fraction)
            bearing = heading(before, self.position)
            if not in_iran(self.position.lat, self.position.lon):
                continue  # a straight line over a bay of the Caspian or the Gulf: no report from the water
            await self.p.client.send("report_position", f"/teams/{self.id}/position",
                                     {"position": self.position.to_json(), "speed_kmh": round(kmh, 1),
                                      "heading": bearing}, self.who)
            reports += 1
            if interruptible and self.job is not None:
                return False
        self.position = to
        return True

    async def _status(self, new: TeamStatus) -> bool:
        a = await self.p.client.send("change_team_status", f"/teams/{self.id}/status",
                                     {"status": str(new), "position": self.position.to_json()}, self.who)
        if a.ok:
            self.status = new
            return True
        self._believe(a.body)
        return False

    def _believe(self, body: dict[str, object]) -> None:
        """Take the status the system reported in a refusal as the truth."""
        status = body.get("status")
        if isinstance(status, str) and status in {x.value for x in S}:
            self.status = S(status)
            if self.status == S.OFF_DUTY:
                self.shift = None

    async def _recover(self) -> None:
        """Walk the legal moves back to ``available`` (transporting → at centre → available)."""
        for _ in range(6):
            if self.status not in ENGAGED_STATUSES:
                return
            if not await self._status(S.AT_CENTRE if self.status == S.TRANSPORTING else S.AVAILABLE):
                await self.p.clock.sleep(RETRY_S / 5)
