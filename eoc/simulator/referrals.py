"""Cases that reach the service without a call to 123: from the police, the courts, other
organizations and centres, or people who come in by themselves.

In Qazvin, 1,717 dispatches came from 1,883 calls: most call-outs start this way. Some
people are also brought straight to a residential centre and admitted without a call-out.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from eoc.simulator import casework
from eoc.simulator.clock import REFERRAL_RHYTHM, arrivals
from eoc.simulator.dispatch import Case
from eoc.simulator.geo import Point, scatter
from events.vocabulary import Role

if TYPE_CHECKING:
    from eoc.simulator.province import ProvinceSim


class ReferralDesk:
    def __init__(self, province: ProvinceSim) -> None:
        self.p = province
        self.opened_by = {role: province.who(role, str(role).replace("_", "-"))
                          for role in (Role.DISPATCHER, Role.CALL_TAKER)}

    async def incidents(self) -> None:
        p = self.p
        async for n in arrivals(p.clock, p.rng("referrals"), p.profile.other_incidents_per_day, REFERRAL_RHYTHM):
            await p.spawn_case(self._incident(p.rng(f"referral:{n}")), f"{p.code}:referral:{n}")

    async def _incident(self, rng: random.Random) -> None:
        p = self.p
        route = casework.pick(rng, casework.INCIDENT_ROUTES)
        county = casework.pick(rng, {c: c.weight for c in p.profile.counties})
        c = casework.classify(rng, casework.REFERRAL_CATEGORIES)
        where = scatter(rng, Point(county.lat, county.lon), county.radius_km)
        body = {"province": p.code, "county": county.official_name, "route": str(route), **c.to_json(),
                "location": where.to_json()}
        a = await p.client.send("open_incident", "/incidents", body, self.opened_by[casework.OPENED_BY[route]])
        if a.ok:
            p.dispatcher.open(Case(a["incident_id"], county.name, where, c.category, c.priority, c.risk_flags,
                                   str(route), p.clock.elapsed(), random.Random(rng.getrandbits(64))))

    async def admissions(self) -> None:
        """People brought straight to a residential centre (self, police, courts...)."""
        p = self.p
        async for n in arrivals(p.clock, p.rng("admissions"), p.profile.direct_admissions_per_day,
                                REFERRAL_RHYTHM):
            await p.spawn_case(self._admission(p.rng(f"admission:{n}")), f"{p.code}:admission:{n}")

    async def _admission(self, rng: random.Random) -> None:
        centres = self.p.centres.crisis_centres()
        if not centres:
            return
        route = casework.pick(rng, casework.DIRECT_ADMISSION_ROUTES)
        # People come to the centre they know, mostly the biggest; when it is full they are declined.
        place = rng.choices(centres, weights=[pl.capacity or 1 for pl in centres])[0]
        await self.p.centres.admit(place, route, rng)
