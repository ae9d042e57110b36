"""A large and valid history, written straight through the domain aggregates: the stream that
the replay checks and the replay benchmark run on.

The command API and its group-commit writer cost about 0.3 ms a command; a replay check
wants 100,000 events in seconds. So this drives the aggregates themselves (the same rules,
the same events, the same chain links), keeps them in memory (it is the only writer), and
saves each step's aggregates in one transaction, as a command would. The mix follows the
service's life: line-123 calls classified and counselled, referred or escalated; incidents
from other routes; teams on shifts dispatched, moving through their statuses and bringing
clients to centres; admissions (declined when full), holding periods, transfers to safe
houses, discharges; drills (مانور) now and then.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast
from uuid import uuid4

from eoc.domain import Actor, Call, Centre, Context, Incident, Team
from eoc.domain.errors import Refused
from events import catalogue as ev
from events.envelope import iso
from events.places import PROVINCES
from events.sealing import seal
from events.vocabulary import CallCategory, Priority, ReferralRoute, Role, TeamStatus

OTHER_ROUTES = [r for r in ReferralRoute if r is not ReferralRoute.LINE_123]
A = TypeVar("A")


class _Province:
    def __init__(self, code: str) -> None:
        self.code = code
        self.county = PROVINCES[code].capital
        self.received: list[Call] = []
        self.classified: list[Call] = []
        self.open: list[Incident] = []  # open incidents with no team yet
        self.teams: list[Team] = []
        self.engaged: dict[Any, Incident] = {}  # team id -> its incident
        self.centres: list[Centre] = []  # residential (level 1 and 2)
        self.houses: list[Centre] = []  # safe houses


class SyntheticHistory:
    """Writes a seeded random history into ``app`` (an EOCApplication)."""

    def __init__(
        self,
        app: Any,
        *,
        provinces: tuple[str, ...] = ("QZV", "ALB", "KSH"),
        seed: int = 1403,
        start: datetime | None = None,
        mean_gap_s: float = 20.0,
        drill_share: float = 0.05,
        keyring: Any = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.app = app
        self.rnd = random.Random(seed)
        self.now = start or datetime(2024, 8, 20, 6, 0, tzinfo=UTC)
        self.mean_gap_s = mean_gap_s
        self.drill_share = drill_share
        self.keyring = keyring
        self.clock = clock  # a FakeClock to move along (tests), else an own simulated clock
        self.provinces = {code: _Province(code) for code in provinces}
        self.events = 0
        self.subjects: list[str] = []  # pseudonymous ids whose details were sealed

    # ------------------------------------------------------------------ plumbing

    def _tick(self) -> None:
        gap = timedelta(seconds=self.rnd.expovariate(1 / self.mean_gap_s))
        if self.clock is not None and hasattr(self.clock, "advance"):
            self.now = self.clock.advance(seconds=gap.total_seconds())  # type: ignore[attr-defined]
        else:
            self.now += gap

    def _ctx(self, role: Role, drill: bool = False) -> Context:
        return Context(Actor(role, f"sim-{role.value}", "IR"), self.now, exercise=drill)

    def _save(self, *aggregates: Any) -> None:
        self.events += len(self.app.save(*aggregates))

    def _keep(self, aggregate: A, waiting: list[A]) -> bool:
        """Save a step's aggregate and keep it where the next step looks for it: a step taken."""
        self._save(aggregate)
        waiting.append(aggregate)
        return True

    def _point(self, p: _Province) -> dict[str, float]:
        place = PROVINCES[p.code]
        return {"lat": round(place.lat + self.rnd.uniform(-0.15, 0.15), 5),
                "lon": round(place.lon + self.rnd.uniform(-0.15, 0.15), 5)}

    def _person(self) -> tuple[str, str | None]:
        subject = f"S-{self.rnd.getrandbits(80):020x}"  # from the seed: the same history every run
        if self.keyring is None or self.rnd.random() > 0.3:
            return subject, None
        self.subjects.append(subject)
        return subject, seal(self.keyring.create(subject), {"name": "—", "phone": f"09{self.rnd.randint(10**8, 10**9 - 1)}"})

    def _drill(self) -> bool:
        return self.rnd.random() < self.drill_share

    def _engaged_team(self, p: _Province) -> Team | None:
        """A team on an incident, picked at random (None: no team is)."""
        busy = [t for t in p.teams if t.id in p.engaged]
        return self.rnd.choice(busy) if busy else None

    # ------------------------------------------------------------------ setting up

    def setup(self) -> None:
        for p in self.provinces.values():
            ctx = self._ctx(Role.PROVINCIAL_SUPERVISOR)
            for kind, capacity in (("residential_level_1", 12), ("residential_level_2", 4), ("safe_house", 3)):
                centre_id = uuid4()
                location: dict[str, float] | None
                location, sealed = self._point(p), None
                if kind == "safe_house" and self.keyring is not None:
                    location, sealed = None, seal(self.keyring.create(f"place:{centre_id}"), self._point(p))
                elif kind == "safe_house":
                    location, sealed = None, "sealed"
                centre = Centre.register(ev.CentreRegistered(
                    name=f"{p.code} {kind}", kind=kind, capacity=capacity, secret=kind == "safe_house",
                    location=location, sealed_location=sealed), ctx, p.code, p.county, id=centre_id)
                self._save(centre)
                (p.houses if kind == "safe_house" else p.centres).append(centre)
            for i in range(6):
                team = Team.register(ev.TeamRegistered(name=f"{p.code}-{i + 1}", home=self._point(p)),
                                     ctx, p.code, p.county)
                team.start_shift(ev.ShiftStarted(shift="morning", members=[f"staff-{i}a", f"staff-{i}b"]),
                                 self._ctx(Role.DISPATCHER))
                self._save(team)
                p.teams.append(team)

    # ------------------------------------------------------------------ running

    def run(self, events: int) -> int:
        """Step until at least ``events`` more events are stored; returns how many were."""
        if not any(p.teams for p in self.provinces.values()):
            self.setup()
        target = self.events + events
        ops = (self._call, self._classify, self._outcome, self._dispatch, self._move, self._stay,
               self._shift, self._check_in, self._other_route, self._capacity)
        weights = (20, 22, 20, 12, 30, 8, 2, 3, 3, 0.5)
        while self.events < target:
            self._tick()
            p = self.provinces[self.rnd.choice(list(self.provinces))]
            op = self.rnd.choices(ops, weights)[0]
            try:
                if not op(p):
                    self._call(p)
            except Refused:  # a rule said no: this generator checks first, so it is rare
                self._reload(p)
        return self.events

    def _reload(self, p: _Province) -> None:
        """Throw away what a refused step did to the province's aggregates in memory."""
        def fresh(agg: Any) -> Any:
            agg.collect_events()
            return self.app.repository.get(agg.id)

        p.received = [fresh(a) for a in p.received]
        p.classified = [fresh(a) for a in p.classified]
        p.open = [fresh(a) for a in p.open]
        p.teams = [fresh(a) for a in p.teams]
        p.centres = [fresh(a) for a in p.centres]
        p.houses = [fresh(a) for a in p.houses]
        p.engaged = {team_id: fresh(a) for team_id, a in p.engaged.items()}

    def _call(self, p: _Province) -> bool:
        caller, sealed = self._person()
        call = Call.receive(ev.CallReceived(line="123", caller=caller, caller_sealed=sealed, received_at=self.now),
                            self._ctx(Role.CALL_TAKER, self._drill()), p.code, p.county)
        return self._keep(call, p.received)

    def _classify(self, p: _Province) -> bool:
        if not p.received:
            return False
        call = p.received.pop(self.rnd.randrange(len(p.received)))
        call.classify(ev.CallClassified(category=self.rnd.choice(list(CallCategory)),
                                        priority=self.rnd.choice(list(Priority)), received_at=call.received_at),
                      self._ctx(Role.CALL_TAKER, call.exercise))
        return self._keep(call, p.classified)

    def _outcome(self, p: _Province) -> bool:
        if not p.classified:
            return False
        call = p.classified.pop(0)
        ctx = self._ctx(Role.CALL_TAKER, call.exercise)
        roll = self.rnd.random()
        if roll < 0.14:
            incident_id = uuid4()
            call.escalate(ev.CallEscalated(incident_id=incident_id), ctx)
            incident = Incident.open(ev.IncidentOpened(
                route="line_123", category=call.category, priority=call.priority, location=self._point(p),
                call_id=call.id, call_received_at=call.received_at), ctx, p.code, p.county, id=incident_id)
            self._save(call, incident)
            p.open.append(incident)
        elif roll < 0.8:
            call.counsel(ev.CallCounselled(services=["counselling"], duration_s=self.rnd.randint(60, 1800)), ctx)
            self._save(call)
        else:
            call.refer(ev.CallReferred(target="line_1480"), ctx)
            self._save(call)
        return True

    def _other_route(self, p: _Province) -> bool:
        incident = Incident.open(ev.IncidentOpened(
            route=self.rnd.choice(OTHER_ROUTES), category=self.rnd.choice(list(CallCategory)),
            priority=self.rnd.choice(list(Priority)), location=self._point(p)),
            self._ctx(Role.DISPATCHER, self._drill()), p.code, p.county)
        return self._keep(incident, p.open)

    def _dispatch(self, p: _Province) -> bool:
        free = [t for t in p.teams if t.status == "available"]
        if not p.open or not free:
            return False
        incident = p.open.pop(0)
        team = self.rnd.choice(free)
        team.dispatch(ev.TeamDispatched(incident_id=incident.id, priority=incident.priority,
                                        incident_opened_at=incident.opened_at,
                                        call_received_at=incident.call_received_at),
                      self._ctx(Role.DISPATCHER, incident.exercise))
        self._save(team)
        p.engaged[team.id] = incident
        return True

    def _move(self, p: _Province) -> bool:
        team = self._engaged_team(p)
        if team is None:
            return False
        incident = p.engaged[team.id]
        ctx = self._ctx(Role.TEAM)
        nxt = {"dispatched": "en_route", "en_route": "on_scene", "transporting": "at_centre"}.get(str(team.status))
        if str(team.status) == "on_scene":
            nxt = "transporting" if self.rnd.random() < 0.35 else "available"
        elif str(team.status) == "at_centre":
            self._admit(p, ReferralRoute.MOBILE_TEAM, incident, team.on_drill)
            nxt = "available"
        team.change_status(cast(TeamStatus, nxt), ctx, self._point(p) if self.rnd.random() < 0.5 else None)  # a busy team's next status
        if nxt == "available":
            del p.engaged[team.id]
            incident.close(ev.IncidentClosed(outcome="resolved_on_scene", opened_at=incident.opened_at),
                           self._ctx(Role.DISPATCHER, incident.exercise))
            self._save(team, incident)
        else:
            self._save(team)
        return True

    def _admit(self, p: _Province, route: ReferralRoute, incident: Incident | None, drill: bool) -> None:
        centre = self.rnd.choice(p.centres)
        client, sealed = self._person()
        centre.admit(ev.ClientAdmitted(client=client, client_sealed=sealed, route=route,
                                       incident_id=incident.id if incident else None),
                     self._ctx(Role.CENTRE_STAFF, drill))
        self._save(centre)

    def _stay(self, p: _Province) -> bool:
        roll = self.rnd.random()
        if roll < 0.35:
            self._admit(p, self.rnd.choice(OTHER_ROUTES), None, self._drill())
            return True
        centre = self.rnd.choice(p.centres + p.houses)
        if not centre.clients:
            return False
        client, stay = self.rnd.choice(sorted(centre.clients.items()))
        ctx = self._ctx(Role.CENTRE_STAFF, stay["drill"])
        house = self.rnd.choice(p.houses)
        if centre in p.centres and not stay["holding_until"] and roll < 0.55:
            days = self.rnd.randint(15, 20)
            centre.start_holding(ev.HoldingPeriodStarted(client=client, days=days, ends_at=self.now + timedelta(days=days),
                                                         destination_kind="safe_house"), ctx)
            self._save(centre)
        elif (centre in p.centres and stay["holding_until"] and stay["holding_until"] <= iso(self.now)
              and house.free(stay["drill"]) > 0 and roll < 0.8):  # a served holding period (قرنطینه)
            centre.transfer_out(client, house, ctx)
            house.transfer_in(client, centre, ctx)
            self._save(centre, house)
        else:
            centre.discharge(ev.ClientDischarged(client=client, reason="returned_home"), ctx)
            self._save(centre)
        return True

    def _shift(self, p: _Province) -> bool:
        team = self.rnd.choice(p.teams)
        ctx = self._ctx(Role.DISPATCHER)
        if str(team.status) == "off_duty":
            team.start_shift(ev.ShiftStarted(shift=self.rnd.choice(["morning", "evening", "night"]),
                                             members=["staff-a", "staff-b"]), ctx)
        elif str(team.status) == "available" and sum(str(t.status) == "available" for t in p.teams) > 2:
            team.end_shift(ctx)
        else:
            return False
        self._save(team)
        return True

    def _check_in(self, p: _Province) -> bool:
        team = self._engaged_team(p)
        if team is None:
            return False
        if self.rnd.random() < 0.85:
            team.check_in(ev.SafetyCheckedIn(incident_id=team.incident_id), self._ctx(Role.TEAM))
        else:
            team.check_in_missed(ev.SafetyCheckInMissed(due_at=self.now, incident_id=team.incident_id),
                                 self._ctx(Role.SYSTEM))
        self._save(team)
        return True

    def _capacity(self, p: _Province) -> bool:
        centre = self.rnd.choice(p.centres)
        capacity = max(centre.occupied(), centre.capacity + self.rnd.choice((-1, 1)))
        if capacity == centre.capacity:
            return False
        centre.change_capacity(capacity, self._ctx(Role.CENTRE_STAFF))
        self._save(centre)
        return True
