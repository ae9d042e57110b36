"""The dispatcher's desk (اعزام): the incident queue, and the nearest available team for each."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from eoc.simulator.geo import Point, distance_km
from events.vocabulary import (
    PRIORITY_RANK,
    CallCategory,
    IncidentOutcome,
    Priority,
    RiskFlag,
    Role,
)

if TYPE_CHECKING:
    from eoc.simulator.province import ProvinceSim
    from eoc.simulator.teams import TeamUnit

# Simulated seconds from an incident being opened to the dispatcher sending a team.
TAKE_UP_S = {Priority.URGENT: (30, 120), Priority.HIGH: (60, 240), Priority.NORMAL: (120, 480),
             Priority.LOW: (180, 900)}
MAX_WAIT_S = 6 * 3600  # nobody free for six simulated hours: handed on to others (cancelled)


@dataclass
class Case:
    """An open incident as the dispatcher knows it."""

    id: str
    county: str
    location: Point
    category: CallCategory
    priority: Priority
    risk_flags: tuple[RiskFlag, ...]
    route: str
    opened_s: float  # simulated seconds since the start of the run
    rng: random.Random = field(repr=False)
    exercise: bool = False  # a drill incident (مانور)

    @property
    def rank(self) -> tuple[int, float]:
        return PRIORITY_RANK.get(self.priority, 9), self.opened_s


class Dispatcher:
    def __init__(self, province: ProvinceSim) -> None:
        self.p = province
        self.who = province.who(Role.DISPATCHER, "dispatcher")
        self.queue: list[Case] = []

    def open(self, case: Case) -> None:
        """A new incident: the dispatcher reads it, then sends a team (or queues it)."""
        self.p.tasks.spawn(self._take_up(case), f"{self.p.code}:take-up:{case.id[:8]}")

    async def _take_up(self, case: Case) -> None:
        await self.p.clock.sleep(case.rng.uniform(*TAKE_UP_S[case.priority]))
        self.assign(case)

    def assign(self, case: Case) -> None:
        """Send the nearest available team, or keep the incident waiting in the queue."""
        free = [t for t in self.p.teams if t.free]
        if not free:
            self.queue.append(case)
            return
        nearest = min(free, key=lambda t: distance_km(t.position, case.location))
        nearest.take(case)

    def next_for(self, team: TeamUnit) -> Case | None:
        """A team became free: it takes the most urgent, longest-waiting incident."""
        if not self.queue:
            return None
        best = min(self.queue, key=lambda c: c.rank)
        self.queue.remove(best)
        return best

    def requeue(self, case: Case) -> None:
        self.queue.append(case)

    async def watch(self) -> None:
        """Incidents nobody could take for hours are handed on (closed as cancelled)."""
        while True:
            await self.p.clock.sleep(15 * 60)
            now = self.p.clock.elapsed()
            stale = [c for c in self.queue if now - c.opened_s > MAX_WAIT_S]
            self.queue = [c for c in self.queue if c not in stale]  # before any await: teams take from it
            for case in stale:
                await self.close(case, IncidentOutcome.CANCELLED)

    async def close(self, case: Case, outcome: IncidentOutcome) -> None:
        await self.p.client.send("close_incident", f"/incidents/{case.id}/close", {"outcome": str(outcome)},
                                 self.who)
