"""Line 123 (خط ۱۲۳): calls arrive, are classified, then counselled, referred or escalated.

About one call in ten becomes an incident (Kermanshah: 10% of calls led to an intervention);
the others are counselled on the phone or referred to line 1480, a centre or an outside
agency.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from eoc.simulator import casework
from eoc.simulator.clock import CALL_RHYTHM, arrivals
from eoc.simulator.dispatch import Case
from eoc.simulator.geo import Point, scatter
from events.vocabulary import CallCategory, Line, Role

if TYPE_CHECKING:
    from eoc.simulator.profiles import County
    from eoc.simulator.province import ProvinceSim

LINE_1480_SHARE = 0.03  # calls that come in on the counselling line 1480


class CallDesk:
    def __init__(self, province: ProvinceSim) -> None:
        self.p = province
        self.who = province.who(Role.CALL_TAKER, "call-taker")

    async def run(self) -> None:
        p = self.p
        async for n in arrivals(p.clock, p.rng("calls"), p.profile.calls_per_day, CALL_RHYTHM):
            await p.spawn_case(self.call(p.rng(f"call:{n}")), f"{p.code}:call:{n}")

    async def call(self, rng: random.Random, *, county: County | None = None,
                   category: CallCategory | None = None) -> None:
        """One call from its ringing to its end; ``county`` and ``category`` fixed by a surge."""
        p, send = self.p, self.p.client.send
        if county is None:
            county = casework.pick(rng, {c: c.weight for c in p.profile.counties})
        line = Line.LINE_1480 if rng.random() < LINE_1480_SHARE else Line.LINE_123
        body: dict[str, object] = {"province": p.code, "county": county.official_name, "line": str(line)}
        if (details := casework.caller(rng)) is not None:
            body["caller"] = details
        a = await send("receive_call", "/calls", body, self.who)
        if not a.ok:
            return
        call = f"/calls/{a['call_id']}"
        await p.clock.sleep(rng.uniform(30, 150))  # listening before classifying
        c = casework.classify(rng, {category: 1.0}) if category is not None else casework.classify(rng)
        if not (await send("classify_call", f"{call}/classify", c.to_json(), self.who)).ok:
            return
        share = p.profile.intervention_share * (0.5 if line == Line.LINE_1480 else 1.0)
        where = scatter(rng, Point(county.lat, county.lon), county.radius_km)
        if rng.random() < casework.escalation_probability(c, share):
            await p.clock.sleep(rng.uniform(60, 300))
            a = await send("escalate_call", f"{call}/escalate", {"location": where.to_json()}, self.who)
            if a.ok:
                p.dispatcher.open(Case(a["incident_id"], county.name, where, c.category, c.priority, c.risk_flags,
                                       "line_123", p.clock.elapsed(), random.Random(rng.getrandbits(64))))
            return
        services, talk_s = casework.counselling(rng, c)
        await p.clock.sleep(talk_s)
        outcome = casework.pick(rng, casework.CALL_OUTCOMES)
        if outcome == "counsel":
            await send("counsel_call", f"{call}/counsel", {"services": services, "duration_s": talk_s}, self.who)
            return
        referral: dict[str, object] = {"target": str(casework.REFERRAL_TARGETS[outcome])}
        if outcome == "centre":
            centre = p.centres.referral_centre(county.name, where)
            if centre is None:
                referral = {"target": "line_1480"}
            else:
                referral["centre_id"] = centre.id
        elif outcome == "outside_agency":
            referral["agency"] = rng.choice(casework.OUTSIDE_AGENCIES)
        await send("refer_call", f"{call}/refer", referral, self.who)
