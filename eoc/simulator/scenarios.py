"""Scenarios an EOC rehearses, played on top of a province's ordinary day.

- ``drill`` (مانور): a province-wide manoeuvre. At its hour the dispatcher opens one drill
  incident (``exercise: true``) near every base and county seat of the province and sends
  its teams; the teams' moves are drill facts, folded into the separate ``drill/`` rows and
  never counted in the real figures.
- ``surge``: one category of harm rising in one county (an emerging harm, آسیب نوپدید):
  extra calls of that category in that county, several times its usual rate, for hours.
- ``outage`` (قطعی خط): a province's line drops. Its desks and teams go on working on paper
  and enter everything when the line is back, each fact with the moment it happened: the
  system records them as late entries (ثبت با تأخیر), counted on their own hour.

Each starts ``after_h`` simulated hours into the run, or as soon as the province's places
and teams are registered if that takes longer. ``Scenario.parse("surge")`` picks
the defaults below; the province (and county, category) can be named:
``surge:QZV:Takestan:suicide``, ``drill:KSH``, ``outage:MZN``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from eoc.simulator.client import Outage
from eoc.simulator.dispatch import Case
from eoc.simulator.geo import Point, scatter
from events.envelope import iso
from events.vocabulary import CallCategory, CentreKind, Priority, ReferralRoute, Role

if TYPE_CHECKING:
    from eoc.simulator.province import ProvinceSim

KINDS = ("drill", "surge", "outage")
HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Scenario:
    kind: str
    province: str = ""  # default: the first simulated province
    county: str = ""  # surge: default the province's second county (not the capital)
    category: CallCategory = CallCategory.SUICIDE  # surge
    after_h: float = 1.0  # simulated hours after the start
    hours: float = 6.0  # how long the surge or the outage lasts
    factor: float = 8.0  # surge: times the county's usual rate of that category

    @classmethod
    def parse(cls, text: str) -> Scenario:
        kind, *rest = text.strip().split(":")
        if kind not in KINDS:
            raise ValueError(f"unknown scenario {kind!r}; one of {', '.join(KINDS)}")
        s = cls(kind)
        if rest:
            s = replace(s, province=rest[0].upper())
        if kind == "surge" and len(rest) > 1:
            s = replace(s, county=rest[1])
        if kind == "surge" and len(rest) > 2:
            s = replace(s, category=CallCategory(rest[2]))
        return s

    def for_province(self, code: str) -> bool:
        return self.province == code


async def play(s: Scenario, p: ProvinceSim) -> None:
    """Wait for the scenario's hour, then play it on province ``p``."""
    await p.ready.wait()
    start = max(p.clock.start + timedelta(hours=s.after_h), p.clock.now())
    if s.kind == "outage":  # commands check the line's state as they are sent
        outage = p.client.outages[p.code] = Outage(start, start + timedelta(hours=s.hours))
        p.stats.outages[p.code] = (iso(outage.start), iso(outage.end))
        await p.clock.sleep_until(outage.end)  # never back before its end
        outage.back.set()
        p.stats.scenario[f"outage:{p.code}"] += 1
        return
    await p.clock.sleep_until(start)
    if s.kind == "drill":
        await _drill(p)
    elif s.kind == "surge":
        await _surge(s, p)


async def _drill(p: ProvinceSim) -> None:
    """One drill incident near every base and county seat, each sent the nearest team."""
    rng = p.rng("drill")
    who = p.who(Role.DISPATCHER, "dispatcher")
    bases = [pl.location for pl in p.centres.places.values() if pl.kind == CentreKind.MOBILE_BASE]
    spots = bases + [Point(c.lat, c.lon) for c in p.profile.counties]
    for i, near in enumerate(spots[: max(1, len(p.teams))]):
        where = scatter(rng, near, 2.0)
        county = min(p.profile.counties, key=lambda c: (c.lat - where.lat) ** 2 + (c.lon - where.lon) ** 2)
        body = {"province": p.code, "county": county.official_name, "route": str(ReferralRoute.OTHER_ORGANIZATION),
                "category": str(CallCategory.FAMILY_DISPUTE), "priority": str(Priority.HIGH),
                "location": where.to_json(), "exercise": True}
        a = await p.client.send("open_incident", "/incidents", body, who)
        if a.ok:
            p.stats.scenario[f"drill:{p.code}"] += 1
            p.dispatcher.open(Case(a["incident_id"], county.name, where, CallCategory.FAMILY_DISPUTE,
                                   Priority.HIGH, (), "drill", p.clock.elapsed(),
                                   random.Random(rng.getrandbits(64)), exercise=True))
        await p.clock.sleep(rng.uniform(30, 90))


async def _surge(s: Scenario, p: ProvinceSim) -> None:
    """Extra calls of one category in one county, ``factor`` times their usual rate."""
    counties = p.profile.counties
    county = next((c for c in counties if s.county and c.name.lower() == s.county.lower()),
                  counties[1] if len(counties) > 1 else counties[0])
    share = county.weight / sum(c.weight for c in counties)
    usual = p.profile.calls_per_day * share * 0.08  # a category's usual share of the calls
    per_hour = max(4.0, usual * s.factor / 24)  # at least a few an hour: a small county must show it
    rng = p.rng(f"surge:{county.name}")
    end = p.clock.elapsed() + s.hours * HOUR
    n = 0
    while p.clock.elapsed() < end:
        await p.clock.sleep(rng.expovariate(per_hour / HOUR))
        n += 1
        p.stats.scenario[f"surge:{p.code}/{county.official_name}/{s.category}"] += 1
        await p.spawn_case(p.calls.call(p.rng(f"surge-call:{n}"), county=county, category=s.category),
                           f"{p.code}:surge:{n}")


def start(scenarios: tuple[Scenario, ...], p: ProvinceSim) -> None:
    for s in scenarios:
        if s.for_province(p.code):
            p.tasks.spawn(play(s, p), f"{p.code}:scenario:{s.kind}")


__all__ = ["KINDS", "Scenario", "play", "start"]
