"""Seeded random histories: the one generator of the tests and the benchmarks.

One world — provinces with their teams, centres and safe houses, calls, incidents and stays —
and one set of seeded choices, taken in the service's words: line-123 calls received (now and
then from a known caller), classified and counselled, referred or escalated; incidents from
other routes; teams on shifts dispatched, moving through their statuses, checking in and
reporting positions, bringing clients to centres; admissions (declined and recorded when
full), holding periods (قرنطینه), transfers to safe houses, discharges; drills (مانور) among
them, personal details sealed with a keyring, and refusals as part of life (an illegal status,
a busy team, a transfer before the holding period is served: they store nothing).

Two hands take the steps:

* ``Commands(service)``: through a CommandService, as the API decides them (its rules, its
  keyring, its telemetry); property tests, runner comparisons, the cluster tests.
* ``Aggregates(app)``: the domain aggregates themselves, kept in memory (the generator is the
  store's only writer), each step's events saved in one transaction, or ``batch`` of them
  together as the group-commit writer does; 100,000 events in seconds, for the audit, replay
  and memory checks. Position reports go to ``telemetry(envelope)``, where the API sends them.

``bounded(app, telemetry)``: a world of fixed size (every province, a fixed set of teams and
centres, a fixed set of callers) for the memory scenario's million events: its boards do not
grow with the history, so memory that does is a leak.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eoc.app import commands as c
from eoc.app.auth import Claims
from eoc.app.es_adapter import forget_cached
from eoc.domain import Actor, Call, Centre, Context, Incident, Team, to_envelope
from eoc.domain.errors import OverCapacity, Refused
from events import catalogue as ev
from events.envelope import Envelope, iso
from events.places import PROVINCES
from events.reference import inside_iran
from events.sealing import seal
from events.vocabulary import (
    TEAM_TRANSITIONS,
    CallCategory,
    DischargeReason,
    Priority,
    ReferralRoute,
    Role,
    TeamStatus,
)

START = datetime(2024, 8, 20, 6, 0, tzinfo=UTC)
BOUNDED_START = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)  # half past midnight in Tehran: a million events in one local day
OTHER_ROUTES = [r for r in ReferralRoute if r is not ReferralRoute.LINE_123]
# What a province registers: its centres (kind, capacity) and teams.
CENTRES = (("residential_level_1", 12), ("residential_level_2", 4), ("safe_house", 3))
NEXT = {"dispatched": "en_route", "en_route": "on_scene", "transporting": "at_centre", "at_centre": "available"}
UNASSIGNED_OUTCOMES = ("referred", "no_contact", "false_report", "cancelled")


def claims(province: str) -> Claims:
    return Claims(sub=f"sup-{province}", role=Role.PROVINCIAL_SUPERVISOR, province=province, exp=2**40)


def near(province: str, rnd: random.Random, spread: float = 0.15) -> dict[str, float]:
    """A point near the province's capital, on land (the API refuses the sea: Bushehr and
    Bandar Abbas lie on the coast)."""
    place = PROVINCES[province]
    while True:
        lat = round(place.lat + rnd.uniform(-spread, spread), 5)
        lon = round(place.lon + rnd.uniform(-spread, spread), 5)
        if inside_iran(lat, lon):
            return {"lat": lat, "lon": lon}


@dataclass
class Stay:
    drill: bool
    holding_until: datetime | None = None


@dataclass
class Province:
    code: str
    county: str
    received: list[Any] = field(default_factory=list)  # calls not yet classified
    classified: list[Any] = field(default_factory=list)  # calls waiting for their outcome
    open: list[Any] = field(default_factory=list)  # incidents with no team yet
    teams: list[Any] = field(default_factory=list)
    engaged: dict[Any, Any] = field(default_factory=dict)  # team -> its incident
    centres: list[Any] = field(default_factory=list)  # residential (level 1 and 2)
    houses: list[Any] = field(default_factory=list)  # safe houses
    callers: list[str] = field(default_factory=list)  # known callers, who may call again


class History:
    """A seeded random history of ``hand`` (Commands or Aggregates).

    ``run(n)``: n commands through Commands; at least n more events (stored or reported)
    through Aggregates. ``clock``: a FakeClock moved along at each step; else Aggregates keep a
    simulated clock from ``start`` and Commands take the service's time as it is."""

    def __init__(self, hand: Commands | Aggregates, *, seed: int = 1403, provinces: tuple[str, ...] = ("QZV", "ALB", "KSH"),
                 clock: Any = None, start: datetime | None = None, mean_gap_s: float = 20.0,
                 drill_share: float = 0.1, teams: int = 6, centres: tuple[tuple[str, int], ...] = CENTRES,
                 known_callers: int = 2000, most_stays: int = 20, most_waiting: int | None = None) -> None:
        self.hand = hand
        self.rnd = random.Random(seed)
        self.clock = clock
        self.simulated = clock is None and (start is not None or isinstance(hand, Aggregates))
        self.now: datetime = clock.now if clock is not None else start or START
        if clock is None and not self.simulated:
            self.now = hand.service.clock()  # type: ignore[union-attr]
        self.mean_gap_s, self.drill_share = mean_gap_s, drill_share
        self.team_count, self.centre_kinds = teams, centres  # what each province registers
        self.known_callers, self.most_stays = known_callers, most_stays  # the sizes a world keeps to
        # A bounded world's queues: at most this many open incidents (or calls waiting) a province.
        self.most_waiting = most_waiting
        self.provinces = {code: Province(code, PROVINCES[code].capital) for code in provinces}
        self.status: dict[Any, str] = {}  # team -> status, as the hand answered
        self.stays: dict[Any, dict[str, Stay]] = {}  # centre -> client -> stay
        self.capacity: dict[Any, int] = {}
        self.drills: set[Any] = set()  # calls and incidents of a drill
        # Pseudonymous ids whose details were sealed: the latest ones (a long bounded world's
        # list grew without end, and the memory probe counted it as the process's growth).
        self.subjects: deque[str] = deque(maxlen=10_000)
        self.refused = 0
        hand.world = self

    # ------------------------------------------------------------------ plumbing

    @property
    def events(self) -> int:
        return self.hand.events

    @property
    def reports(self) -> int:
        return self.hand.reports

    @property
    def last_position(self) -> dict[str, int]:
        """Province -> the log position of its last stored event (Aggregates)."""
        return self.hand.last_position  # type: ignore[union-attr]

    def total(self) -> int:
        return self.hand.count()

    def _tick(self) -> None:
        gap = max(0.001, self.rnd.expovariate(1 / self.mean_gap_s))  # strictly increasing time
        if self.clock is not None:
            self.now = self.clock.advance(seconds=gap)
        elif self.simulated:
            self.now += timedelta(seconds=gap)
        else:
            self.now = self.hand.service.clock()  # type: ignore[union-attr]  # Commands: the service's own time

    def point(self, p: Province) -> dict[str, float]:
        return near(p.code, self.rnd)

    def drill(self) -> bool:
        return self.rnd.random() < self.drill_share

    def person(self) -> tuple[str, dict[str, str] | None]:
        """A new person's pseudonymous id (from the seed) and, now and then, details to seal."""
        subject = f"S-{self.rnd.getrandbits(80):020x}"
        if not self.hand.seals or self.rnd.random() > 0.3:
            return subject, None
        self.subjects.append(subject)
        return subject, {"name": "—", "phone": f"09{self.rnd.randint(10**8, 10**9 - 1)}"}

    def _full(self, p: Province) -> bool:
        return len(p.teams) >= self.team_count and len(p.centres) + len(p.houses) >= len(self.centre_kinds)

    # ------------------------------------------------------------------ setting up

    def setup(self) -> None:
        """Every province with its centres and its teams on shift."""
        for p in self.provinces.values():
            while not self._full(p):
                self._do(self._register, p)
            for team in p.teams:
                if self.status[team] == "off_duty":
                    self._do(lambda p, team=team: self._start_shift(p, team), p)
        self.hand.flush()

    def _register(self, p: Province) -> bool:
        if len(p.centres) + len(p.houses) < len(self.centre_kinds):
            kind, capacity = self.centre_kinds[len(p.centres) + len(p.houses)]
            centre = self.hand.register_centre(p, kind, capacity, self.point(p))
            (p.houses if kind == "safe_house" else p.centres).append(centre)
            self.stays[centre], self.capacity[centre] = {}, capacity
        elif p.teams and self.status[p.teams[-1]] == "off_duty":
            return self._start_shift(p, p.teams[-1])  # a new team goes on shift
        elif len(p.teams) < self.team_count:
            team = self.hand.register_team(p, f"{p.code}-{len(p.teams) + 1}", self.point(p))
            p.teams.append(team)
            self.status[team] = "off_duty"
        else:
            return False
        return True

    def _start_shift(self, p: Province, team: Any) -> bool:
        shift = self.rnd.choice(["morning", "evening", "night"])
        self.status[team] = self.hand.start_shift(p, team, shift, [f"staff-{self.rnd.randrange(99)}", "staff-b"])
        return True

    # ------------------------------------------------------------------ running

    def run(self, count: int, *, on_step: Callable[[int], None] | None = None) -> int:
        """Step until ``count`` more are done (see the class); returns the hand's count."""
        if isinstance(self.hand, Aggregates) and not any(p.teams for p in self.provinces.values()):
            self.setup()
        target = self.hand.count() + count
        i = 0
        while self.hand.count() < target:
            self.step()
            if on_step is not None:
                on_step(i)
            i += 1
        self.hand.flush()
        return self.hand.count()

    def step(self) -> None:
        self._tick()
        p = self.provinces[self.rnd.choice(list(self.provinces))]
        if self._full(p):
            op = self.rnd.choices(self.OPS, self.WEIGHTS)[0]
        else:  # a province still building up its world registers now and then
            op = self.rnd.choices((*self.OPS, History._register), (*self.WEIGHTS, 30))[0]
        if self.most_waiting is not None and len(p.open) >= self.most_waiting:
            op = History._close_unassigned  # the queue is full: its oldest case is handed elsewhere
        elif self.most_waiting is not None and len(p.received) + len(p.classified) >= self.most_waiting:
            op = History._outcome if p.classified else History._classify  # the line works down its calls
        # Nothing to act on: a call-taker takes up a waiting call, else the line rings.
        self._do(lambda p: op(self, p) or self._classify(p) or self._outcome(p) or self._call(p), p)

    def _do(self, fn: Callable[[Province], Any], p: Province) -> None:
        self.hand.begin()
        try:
            fn(p)
        except Refused:  # the rules said no: nothing of the step is stored
            self.refused += 1
            self.hand.end(ok=False)
        else:
            self.hand.end(ok=True)

    # ------------------------------------------------------------------ the steps (False: nothing to act on)

    def _call(self, p: Province) -> bool:
        known = p.callers and (len(p.callers) >= self.known_callers or self.rnd.random() < 0.3)
        if known:
            caller, details = self.rnd.choice(p.callers), None
        else:
            caller, details = self.person()
            p.callers.append(caller)
        drill = self.drill()
        return self._new(self.hand.receive_call(p, caller, details, drill, known=bool(known)), p.received, drill)

    def _new(self, thing: Any, waiting: list[Any], drill: bool) -> bool:
        """A new call or incident, where the next step looks for it: a step taken."""
        waiting.append(thing)
        if drill:
            self.drills.add(thing)
        return True

    def _classify(self, p: Province) -> bool:
        if not p.received:
            return False
        call = p.received[self.rnd.randrange(len(p.received))]
        self.hand.classify(p, call, self.rnd.choice(list(CallCategory)), self.rnd.choice(list(Priority)))
        p.received.remove(call)
        p.classified.append(call)
        return True

    def _outcome(self, p: Province) -> bool:
        if not p.classified:
            return False
        call = p.classified[0]
        roll = self.rnd.random()
        if roll < 0.2:
            self._new(self.hand.escalate(p, call, self.point(p)), p.open, call in self.drills)
        elif roll < 0.8:
            self.hand.counsel(p, call, self.rnd.randint(60, 1800))
        else:
            self.hand.refer(p, call)
        p.classified.pop(0)
        self.drills.discard(call)
        return True

    def _other_route(self, p: Province) -> bool:
        drill = self.drill()
        return self._new(self.hand.open_incident(p, self.rnd.choice(OTHER_ROUTES), self.rnd.choice(list(CallCategory)),
                                                 self.rnd.choice(list(Priority)), self.point(p), drill), p.open, drill)

    def _close_unassigned(self, p: Province) -> bool:
        if not p.open:
            return False
        incident = p.open[0]
        self.hand.close_incident(p, incident, self.rnd.choice(UNASSIGNED_OUTCOMES))
        p.open.pop(0)
        self.drills.discard(incident)
        return True

    def _dispatch(self, p: Province) -> bool:
        free = [t for t in p.teams if self.status[t] == "available"]
        if not p.open or not p.teams:
            return False
        if not free or self.rnd.random() < 0.03:  # a busy team: refused
            free = p.teams
        team, incident = self.rnd.choice(free), p.open[0]
        self.status[team] = self.hand.dispatch(p, team, incident)
        p.open.pop(0)
        p.engaged[team] = incident
        return True

    def _engaged_team(self, p: Province) -> Any:
        return self.rnd.choice(list(p.engaged)) if p.engaged else None

    def _move(self, p: Province) -> bool:
        team = self._engaged_team(p)
        if team is None:
            return False
        status, incident = self.status[team], p.engaged[team]
        roll = self.rnd.random()
        if roll < 0.04:  # a status the rules refuse
            nxt = self.rnd.choice([s for s in TeamStatus if s not in TEAM_TRANSITIONS[TeamStatus(status)]])
        elif status == "on_scene":
            nxt = "transporting" if roll < 0.35 else "available"
        elif status in ("dispatched", "en_route") and roll < 0.07:
            nxt = "available"  # called back: the incident is closed as cancelled
        else:
            nxt = NEXT[status]
        if nxt == "available" and status == "at_centre":
            self._admit(p, ReferralRoute.MOBILE_TEAM, incident, incident in self.drills)
        self.status[team] = self.hand.change_status(p, team, nxt, self.point(p) if self.rnd.random() < 0.5 else None)
        if nxt == "available":
            outcome = {"at_centre": "admitted", "on_scene": "resolved_on_scene"}.get(status, "cancelled")
            self.hand.close_incident(p, incident, outcome)
            del p.engaged[team]
            self.drills.discard(incident)
        return True

    def _admit(self, p: Province, route: ReferralRoute, incident: Any, drill: bool) -> None:
        centre = self.rnd.choice(p.centres)
        stays = self.stays[centre]
        if len(stays) >= self.most_stays:
            # A full world: the longest stay goes home first. Admissions (two routes) came faster
            # than discharges, so a "bounded" world's centres filled without end and the memory
            # probe counted their residents as the process's growth.
            oldest = next(iter(stays))
            self.hand.discharge(p, centre, oldest, self.rnd.choice(list(DischargeReason)))
            del stays[oldest]
        client, details = self.person()
        if self.hand.admit(p, centre, client, details, route, incident, drill):  # else declined, recorded
            self.stays[centre][client] = Stay(drill)

    def _stay(self, p: Province) -> bool:
        if not p.centres:
            return False
        roll = self.rnd.random()
        if roll < 0.35:
            self._admit(p, self.rnd.choice(OTHER_ROUTES), None, self.drill())
            return True
        centre = self.rnd.choice(p.centres + p.houses)
        stays = self.stays[centre]
        if not stays:
            return False
        client = self.rnd.choice(sorted(stays))
        stay = stays[client]
        houses = [h for h in p.houses if self._free(h, stay.drill) > 0]
        if len(stays) > self.most_stays:
            roll = 1.0  # a full world: this one goes home
        if centre in p.centres and stay.holding_until is None and roll < 0.55:
            days = self.rnd.randint(15, 20)
            self.hand.start_holding(p, centre, client, days)
            stay.holding_until = self.now + timedelta(days=days)
        elif centre in p.centres and stay.holding_until is not None and houses and roll < 0.8:
            if stay.holding_until > self.now and self.rnd.random() > 0.1:
                return False  # waits for the holding period; now and then someone tries anyway (refused)
            house = self.rnd.choice(houses)
            self.hand.transfer(p, centre, client, house)
            self.stays[house][client] = Stay(stay.drill)
            del stays[client]
        else:
            self.hand.discharge(p, centre, client, self.rnd.choice(list(DischargeReason)))
            del stays[client]
        return True

    def _free(self, centre: Any, drill: bool) -> int:
        return self.capacity[centre] - sum(s.drill == drill for s in self.stays[centre].values())

    def _shift(self, p: Province) -> bool:
        if not p.teams:
            return False
        team = self.rnd.choice(p.teams)
        if self.status[team] == "off_duty":
            return self._start_shift(p, team)
        if self.status[team] == "available" and sum(self.status[t] == "available" for t in p.teams) > 2:
            self.status[team] = self.hand.end_shift(p, team)
            return True
        return False

    def _check_in(self, p: Province) -> bool:
        team = self._engaged_team(p)
        if team is None:
            return False
        if self.rnd.random() < 0.8:
            self.hand.check_in(p, team, self.point(p))
        else:
            self.hand.missed_check_in(p, team)
        return True

    def _report(self, p: Province) -> bool:
        on_shift = [t for t in p.teams if self.status[t] != "off_duty"]
        if not self.hand.telemetry or not on_shift:
            return False
        self.hand.report_position(p, self.rnd.choice(on_shift), self.point(p))
        return True

    def _capacity(self, p: Province) -> bool:
        if not p.centres:
            return False
        centre = self.rnd.choice(p.centres)
        capacity = self.capacity[centre] + self.rnd.choice((-1, 1))
        if not 0 <= capacity <= 10_000:
            return False
        self.hand.change_capacity(p, centre, capacity)  # below the stays: refused
        self.capacity[centre] = capacity
        return True

    OPS = (_call, _classify, _outcome, _dispatch, _move, _stay, _shift, _check_in, _other_route, _close_unassigned,
           _capacity, _report)
    WEIGHTS = (20, 22, 22, 12, 30, 8, 2, 5, 6, 1, 0.5, 15)


# ---------------------------------------------------------------------- the hands


class Commands:
    """Each step a command to a CommandService (as a provincial supervisor of the province)."""

    seals = True  # the service seals the details it is given, with its keyring

    def __init__(self, service: Any, *, telemetry: bool = False) -> None:
        self.service = service
        self.telemetry = telemetry
        self.world: History
        self.events = 0  # not counted: the service stores them
        self.reports = 0
        self.commands = 0

    def count(self) -> int:
        return self.commands

    def begin(self) -> None:
        self.commands += 1

    def end(self, ok: bool) -> None:
        pass

    def flush(self) -> None:
        pass

    def _drill(self, thing: Any) -> bool:
        return thing in self.world.drills

    def register_centre(self, p: Province, kind: str, capacity: int, location: dict[str, float]) -> Any:
        return self.service.register_centre(c.RegisterCentre(
            province=p.code, county=p.county, name=f"{p.code} {kind}", kind=kind, capacity=capacity,
            location=location), claims(p.code))["centre_id"]

    def register_team(self, p: Province, name: str, home: dict[str, float]) -> Any:
        return self.service.register_team(c.RegisterTeam(province=p.code, county=p.county, name=name, home=home),
                                          claims(p.code))["team_id"]

    def start_shift(self, p: Province, team: Any, shift: str, members: list[str]) -> str:
        return str(self.service.start_shift(UUID(team), c.StartShift(shift=shift, members=members), claims(p.code))["status"])

    def end_shift(self, p: Province, team: Any) -> str:
        return str(self.service.end_shift(UUID(team), c.EndShift(), claims(p.code))["status"])

    def receive_call(self, p: Province, caller: str, details: dict[str, str] | None, drill: bool, known: bool) -> Any:
        return self.service.receive_call(c.ReceiveCall(
            province=p.code, county=p.county, exercise=drill, caller_id=caller,
            caller=c.PersonDetails(**details) if details else None), claims(p.code))["call_id"]

    def classify(self, p: Province, call: Any, category: str, priority: str) -> None:
        self.service.classify_call(UUID(call), c.ClassifyCall(category=category, priority=priority,
                                                              exercise=self._drill(call)), claims(p.code))

    def escalate(self, p: Province, call: Any, location: dict[str, float]) -> Any:
        return self.service.escalate_call(UUID(call), c.EscalateCall(location=location, exercise=self._drill(call)),
                                          claims(p.code))["incident_id"]

    def counsel(self, p: Province, call: Any, duration_s: int) -> None:
        self.service.counsel_call(UUID(call), c.CounselCall(services=["counselling"], duration_s=duration_s,
                                                            exercise=self._drill(call)), claims(p.code))

    def refer(self, p: Province, call: Any) -> None:
        self.service.refer_call(UUID(call), c.ReferCall(target="line_1480", exercise=self._drill(call)), claims(p.code))

    def open_incident(self, p: Province, route: str, category: str, priority: str, location: dict[str, float],
                      drill: bool) -> Any:
        return self.service.open_incident(c.OpenIncident(
            province=p.code, county=p.county, route=route, category=category, priority=priority,
            location=location, exercise=drill), claims(p.code))["incident_id"]

    def close_incident(self, p: Province, incident: Any, outcome: str) -> None:
        self.service.close_incident(UUID(incident), c.CloseIncident(outcome=outcome, exercise=self._drill(incident)),
                                    claims(p.code))

    def dispatch(self, p: Province, team: Any, incident: Any) -> str:
        return str(self.service.dispatch_team(UUID(team), c.DispatchTeam(
            incident_id=incident, exercise=self._drill(incident)), claims(p.code))["status"])

    def change_status(self, p: Province, team: Any, status: str, position: dict[str, float] | None) -> str:
        return str(self.service.change_team_status(UUID(team), c.ChangeTeamStatus(status=status, position=position),
                                                   claims(p.code))["status"])

    def check_in(self, p: Province, team: Any, position: dict[str, float]) -> None:
        self.service.check_in(UUID(team), c.CheckIn(position=position), claims(p.code))

    def missed_check_in(self, p: Province, team: Any) -> None:
        self.service.record_missed_check_in(UUID(team), c.RecordMissedCheckIn(due_at=self.world.now), claims(p.code))

    def report_position(self, p: Province, team: Any, position: dict[str, float]) -> None:
        """The tablet's report, and its next one two seconds on: the history's track keeps the
        first (one per 30 s), the live map shows the second (eoc/app/track.py)."""
        self.service.report_position(UUID(team), c.ReportPosition(position=position, speed_kmh=40.0, heading=90.0),
                                     claims(p.code))
        on = {"lat": round(position["lat"] + 0.0004, 5), "lon": position["lon"]}
        self.service.report_position(UUID(team), c.ReportPosition(
            position=on, speed_kmh=40.0, heading=0.0, reported_at=self.world.now + timedelta(seconds=2)), claims(p.code))
        self.reports += 2

    def admit(self, p: Province, centre: Any, client: str, details: dict[str, str] | None, route: str,
              incident: Any, drill: bool) -> bool:
        try:
            self.service.admit_client(UUID(centre), c.AdmitClient(
                route=route, client_id=client, client=c.PersonDetails(**details) if details else None,
                incident_id=incident, exercise=drill), claims(p.code))
        except OverCapacity as full:
            if not full.details.get("declined_recorded"):
                raise
            return False
        return True

    def start_holding(self, p: Province, centre: Any, client: str, days: int) -> None:
        self.service.start_holding(UUID(centre), c.StartHolding(client_id=client, days=days,
                                                                destination_kind="safe_house"), claims(p.code))

    def transfer(self, p: Province, centre: Any, client: str, to: Any) -> None:
        self.service.transfer_client(UUID(centre), c.TransferClient(client_id=client, to_centre_id=to), claims(p.code))

    def discharge(self, p: Province, centre: Any, client: str, reason: str) -> None:
        self.service.discharge_client(UUID(centre), c.DischargeClient(client_id=client, reason=reason), claims(p.code))

    def change_capacity(self, p: Province, centre: Any, capacity: int) -> None:
        self.service.change_capacity(UUID(centre), c.ChangeCapacity(capacity=capacity), claims(p.code))


class Aggregates:
    """Each step straight on the domain aggregates (their rules, their events, their chain links),
    kept in memory; a step's events saved in one transaction, ``batch`` events together at most."""

    def __init__(self, app: Any, *, keyring: Any = None, telemetry: Callable[[Envelope], None] | None = None,
                 batch: int = 1) -> None:
        self.app = app
        self.keyring = keyring
        self.seals = keyring is not None
        self.telemetry = telemetry
        self.batch = batch
        self.world: History
        self.live: dict[UUID, Any] = {}
        self.events = 0  # stored
        self.reports = 0  # position reports handed over
        self.last_position: dict[str, int] = {}  # province -> log position of its last stored event
        self._pending: list[Any] = []
        self._pending_province: list[str] = []
        self._saved: dict[UUID, Any] = {}
        self._step: dict[UUID, Any] = {}

    def count(self) -> int:
        return self.events + len(self._pending) + self.reports

    def _ctx(self, role: Role, drill: bool = False) -> Context:
        return Context(Actor(role, f"sim-{role.value}", "IR"), self.world.now, exercise=drill)

    def _touch(self, *aggregates: Any, keep: bool = True) -> Any:
        """This step changes these aggregates; ``keep=False``: the world is done with them (a
        call answered, an incident closed), so they are saved with the step and not kept in
        memory (a bounded world's generator must not grow with its history either)."""
        for aggregate in aggregates:
            self._step[aggregate.id] = aggregate
            if keep:
                self.live[aggregate.id] = aggregate
        return aggregates[0]

    def begin(self) -> None:
        self._step = {}

    def end(self, ok: bool) -> None:
        if ok:
            for aggregate in self._step.values():
                for event in aggregate.collect_events():
                    self._pending.append(event)
                    self._pending_province.append(aggregate.province)
                self._saved[aggregate.id] = aggregate
            if len(self._pending) >= self.batch:
                self.flush()
            return
        changed = [a for a in self._step.values() if a.pending_events]
        if changed:  # throw away what the refused step did, and read them again as stored
            for aggregate in changed:
                aggregate.collect_events()
                self._saved.pop(aggregate.id, None)
            self.flush()
            forget_cached(self.app, [a.id for a in changed])
            for aggregate in changed:
                self.live[aggregate.id] = self.app.repository.get(aggregate.id)

    def flush(self) -> None:
        if not self._pending:
            return
        recordings = self.app.save_in_order(self._pending, self._saved)
        for recording, province in zip(recordings, self._pending_province, strict=True):
            self.last_position[province] = recording.notification.id
        self.events += len(recordings)
        self._pending, self._pending_province, self._saved = [], [], {}

    def _sealed(self, subject: str, details: dict[str, Any] | None) -> str | None:
        return seal(self.keyring.create(subject), details) if details is not None else None

    # ------------------------------------------------------------------ the world's steps

    def register_centre(self, p: Province, kind: str, capacity: int, location: dict[str, float]) -> UUID:
        centre_id, sealed, secret = uuid4(), None, kind == "safe_house"
        if secret:
            sealed = seal(self.keyring.create(f"place:{centre_id}"), location) if self.keyring else "sealed"
        centre = Centre.register(ev.CentreRegistered(
            name=f"{p.code} {kind}", kind=kind, capacity=capacity, secret=secret,
            location=None if secret else location, sealed_location=sealed),
            self._ctx(Role.PROVINCIAL_SUPERVISOR), p.code, p.county, id=centre_id)
        return self._touch(centre).id  # type: ignore[no-any-return]

    def register_team(self, p: Province, name: str, home: dict[str, float]) -> UUID:
        team = Team.register(ev.TeamRegistered(name=name, home=home), self._ctx(Role.PROVINCIAL_SUPERVISOR),
                             p.code, p.county)
        return self._touch(team).id  # type: ignore[no-any-return]

    def start_shift(self, p: Province, team: UUID, shift: str, members: list[str]) -> str:
        t = self._touch(self.live[team])
        t.start_shift(ev.ShiftStarted(shift=shift, members=members), self._ctx(Role.DISPATCHER))
        return str(t.status)

    def end_shift(self, p: Province, team: UUID) -> str:
        t = self._touch(self.live[team])
        t.end_shift(self._ctx(Role.DISPATCHER))
        return str(t.status)

    def receive_call(self, p: Province, caller: str, details: dict[str, str] | None, drill: bool, known: bool) -> UUID:
        call = Call.receive(ev.CallReceived(line="123", caller=caller, caller_sealed=self._sealed(caller, details),
                                            received_at=self.world.now),
                            self._ctx(Role.CALL_TAKER, drill), p.code, p.county)
        return self._touch(call).id  # type: ignore[no-any-return]

    def classify(self, p: Province, call: UUID, category: str, priority: str) -> None:
        k = self._touch(self.live[call])
        k.classify(ev.CallClassified(category=category, priority=priority, received_at=k.received_at),
                   self._ctx(Role.CALL_TAKER, k.exercise))

    def escalate(self, p: Province, call: UUID, location: dict[str, float]) -> UUID:
        k = self.live.pop(call)
        ctx = self._ctx(Role.CALL_TAKER, k.exercise)
        incident_id = uuid4()
        k.escalate(ev.CallEscalated(incident_id=incident_id), ctx)
        incident = Incident.open(ev.IncidentOpened(
            route="line_123", category=k.category, priority=k.priority, location=location, call_id=k.id,
            call_received_at=k.received_at), ctx, p.code, p.county, id=incident_id)
        self._touch(k, keep=False)
        self._touch(incident)
        return incident_id

    def counsel(self, p: Province, call: UUID, duration_s: int) -> None:
        k = self._touch(self.live.pop(call), keep=False)
        k.counsel(ev.CallCounselled(services=["counselling"], duration_s=duration_s), self._ctx(Role.CALL_TAKER, k.exercise))

    def refer(self, p: Province, call: UUID) -> None:
        k = self._touch(self.live.pop(call), keep=False)
        k.refer(ev.CallReferred(target="line_1480"), self._ctx(Role.CALL_TAKER, k.exercise))

    def open_incident(self, p: Province, route: str, category: str, priority: str, location: dict[str, float],
                      drill: bool) -> UUID:
        incident = Incident.open(ev.IncidentOpened(route=route, category=category, priority=priority, location=location),
                                 self._ctx(Role.DISPATCHER, drill), p.code, p.county)
        return self._touch(incident).id  # type: ignore[no-any-return]

    def close_incident(self, p: Province, incident: UUID, outcome: str) -> None:
        i = self._touch(self.live.pop(incident), keep=False)
        i.close(ev.IncidentClosed(outcome=outcome, opened_at=i.opened_at), self._ctx(Role.DISPATCHER, i.exercise))

    def dispatch(self, p: Province, team: UUID, incident: UUID) -> str:
        t, i = self._touch(self.live[team]), self.live[incident]
        t.dispatch(ev.TeamDispatched(incident_id=i.id, priority=i.priority, incident_opened_at=i.opened_at,
                                     call_received_at=i.call_received_at), self._ctx(Role.DISPATCHER, i.exercise))
        return str(t.status)

    def change_status(self, p: Province, team: UUID, status: str, position: dict[str, float] | None) -> str:
        t = self._touch(self.live[team])
        t.change_status(TeamStatus(status), self._ctx(Role.TEAM), position)
        return str(t.status)

    def check_in(self, p: Province, team: UUID, position: dict[str, float]) -> None:
        t = self._touch(self.live[team])
        t.check_in(ev.SafetyCheckedIn(incident_id=t.incident_id, position=position), self._ctx(Role.TEAM))

    def missed_check_in(self, p: Province, team: UUID) -> None:
        t = self._touch(self.live[team])
        t.check_in_missed(ev.SafetyCheckInMissed(due_at=self.world.now, incident_id=t.incident_id), self._ctx(Role.SYSTEM))

    def report_position(self, p: Province, team: UUID, position: dict[str, float]) -> None:
        assert self.telemetry is not None
        t = self.live[team]
        payload = ev.TeamPositionReported(position=position, speed_kmh=40.0, heading=90.0)
        at = iso(self.world.now)
        self.telemetry(Envelope(
            type=payload.TYPE, version=payload.VERSION, id=str(uuid4()), aggregate_id=str(t.id),
            aggregate_version=t.version, occurred_at=at, recorded_at=at, province=p.code, county=t.county,
            actor={"role": "team", "user": "sim-team"}, exercise=False, payload=payload.to_json()))
        self.reports += 1

    def admit(self, p: Province, centre: UUID, client: str, details: dict[str, str] | None, route: str,
              incident: Any, drill: bool) -> bool:
        k = self._touch(self.live[centre])
        return bool(k.admit(ev.ClientAdmitted(client=client, client_sealed=self._sealed(client, details), route=route,
                                              incident_id=incident), self._ctx(Role.CENTRE_STAFF, drill)))

    def _stay_ctx(self, centre: Any, client: str) -> Context:
        return self._ctx(Role.CENTRE_STAFF, centre.clients[client]["drill"])

    def start_holding(self, p: Province, centre: UUID, client: str, days: int) -> None:
        k = self._touch(self.live[centre])
        k.start_holding(ev.HoldingPeriodStarted(client=client, days=days, ends_at=self.world.now + timedelta(days=days),
                                                destination_kind="safe_house"), self._stay_ctx(k, client))

    def transfer(self, p: Province, centre: UUID, client: str, to: UUID) -> None:
        k, house = self._touch(self.live[centre], self.live[to]), self.live[to]
        ctx = self._stay_ctx(k, client)
        k.transfer_out(client, house, ctx)
        house.transfer_in(client, k, ctx)

    def discharge(self, p: Province, centre: UUID, client: str, reason: str) -> None:
        k = self._touch(self.live[centre])
        k.discharge(ev.ClientDischarged(client=client, reason=reason), self._stay_ctx(k, client))

    def change_capacity(self, p: Province, centre: UUID, capacity: int) -> None:
        self._touch(self.live[centre]).change_capacity(capacity, self._ctx(Role.CENTRE_STAFF))


# ---------------------------------------------------------------------- made ready


def commands(service: Any, *, telemetry: bool = False, **kw: Any) -> History:
    """A history through a CommandService (``kw``: History's)."""
    return History(Commands(service, telemetry=telemetry), **kw)


def aggregates(app: Any, *, keyring: Any = None, telemetry: Callable[[Envelope], None] | None = None,
               batch: int = 1, **kw: Any) -> History:
    """A history straight on the aggregates of ``app`` (an EOCApplication; ``kw``: History's)."""
    return History(Aggregates(app, keyring=keyring, telemetry=telemetry, batch=batch), **kw)


def bounded(app: Any, telemetry: Callable[[Envelope], None], *, teams_per_province: int = 8,
            centres_per_province: int = 2, batch: int = 500, seed: int = 1403) -> History:
    """A world of fixed size over every province, set up: ``teams_per_province`` teams,
    ``centres_per_province`` centres (the last a safe house) that never fill, 20 known callers
    a province, at most 12 open incidents and 12 calls waiting a province (so the boards'
    open lists stay bounded too); 25 ms a step on a simulated clock, about 500 events a
    transaction."""
    kinds = (*[("residential_level_1", 10_000)] * (centres_per_province - 1), ("safe_house", 10_000))
    history = aggregates(app, telemetry=telemetry, batch=batch, seed=seed, provinces=tuple(PROVINCES),
                         start=BOUNDED_START, mean_gap_s=0.025, teams=teams_per_province, centres=kinds,
                         known_callers=20, most_waiting=12)
    history.setup()
    return history


def run_history(service: Any, steps: int, seed: int, clock: Any = None) -> None:
    """``steps`` commands of a seeded history through ``service`` (``clock``: a FakeClock moved
    along, minutes apart)."""
    commands(service, seed=seed, provinces=("QZV", "ALB"), clock=clock, mean_gap_s=450).run(steps)


def logged_envelopes(app: Any, *, as_stored: bool = False) -> list[Envelope]:
    return [to_envelope(app.mapper.to_domain_event(n), position=n.id, as_stored=as_stored)
            for n in app.recorder.select_notifications(start=0, limit=10_000_000)]
