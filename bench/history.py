"""A long history over a bounded world, fast: for the memory scenario's million events.

The boards of a bounded world — a fixed set of teams and centres — have a fixed size however
long the history: every team has one row and one position, every centre one row (its clients
come and go), every province one row of figures per day (calls add counts, not rows), open
incidents come and close. So memory that grows with the number of events is a leak.

The command API decides about a thousand commands a second on this machine; a million events
that way is a quarter of an hour. This drives the domain aggregates directly (their rules,
their events, their chain links), keeps them in memory (it is the store's only writer), and
saves about 500 events per transaction in the order they were triggered, as the group-commit
writer does. Position reports go where the API sends them: ``telemetry(envelope)`` — the
embedded follower's ``apply_telemetry``, or the cluster's Kafka publisher.

The clock is simulated (25 ms per event), so a million events stay within one local day.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eoc.domain import Actor, Call, Centre, Context, Incident, Team
from events import catalogue as ev
from events.envelope import Envelope, iso
from events.places import PROVINCES
from events.reference import inside_iran
from events.vocabulary import Role

STEP = timedelta(milliseconds=25)
START = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)  # half past midnight in Tehran



def point_near(code: str, rnd: random.Random) -> dict[str, float]:
    """A point within about 10 km of the province's capital, on land (the API refuses the sea:
    Bushehr and Bandar Abbas lie on the coast)."""
    place = PROVINCES[code]
    while True:
        lat = round(place.lat + rnd.uniform(-0.1, 0.1), 5)
        lon = round(place.lon + rnd.uniform(-0.1, 0.1), 5)
        if inside_iran(lat, lon):
            return {"lat": lat, "lon": lon}

class BoundedHistory:
    def __init__(self, app: Any, telemetry: Callable[[Envelope], None], *, teams_per_province: int = 8,
                 centres_per_province: int = 2, batch: int = 500, seed: int = 1403) -> None:
        self.app = app
        self.telemetry = telemetry
        self.rnd = random.Random(seed)
        self.batch = batch
        self.now = START
        self.events = 0  # stored events written
        self.reports = 0  # position reports handed over
        self.last_position: dict[str, int] = {}  # province -> log position of its last event
        self._pending: list[Any] = []
        self._aggregates: dict[UUID, Any] = {}
        self._pending_province: list[str] = []
        actor = Actor(Role.PROVINCIAL_SUPERVISOR, "bench-history", "IR")
        self._actor = actor
        self.teams: dict[str, list[Team]] = {}
        self.centres: dict[str, list[Centre]] = {}
        self.clients: dict[UUID, list[str]] = {}
        self.incidents: dict[str, list[Incident]] = {}
        self.engaged: dict[UUID, Incident] = {}
        for code, place in PROVINCES.items():
            self.teams[code] = []
            self.centres[code] = []
            self.incidents[code] = []
            for i in range(centres_per_province):
                centre = Centre.register(ev.CentreRegistered(
                    name=f"{place.name} crisis centre {i + 1}", kind="residential_level_1", capacity=10_000,
                    secret=False, location=self._point(code)), self._ctx(), code, place.capital)
                self._touch(centre)
                self.centres[code].append(centre)
                self.clients[centre.id] = []
            for i in range(teams_per_province):
                team = Team.register(ev.TeamRegistered(name=f"{code}-{i + 1}", home=self._point(code)),
                                     self._ctx(), code, place.capital)
                team.start_shift(ev.ShiftStarted(shift="morning", members=["a", "b"]), self._ctx())
                self._touch(team)
                self.teams[code].append(team)
        self.flush()

    # ------------------------------------------------------------------ plumbing

    def _ctx(self) -> Context:
        return Context(self._actor, self.now)

    def _point(self, code: str) -> dict[str, float]:
        return point_near(code, self.rnd)

    def _touch(self, *aggregates: Any) -> None:
        for agg in aggregates:
            for event in agg.collect_events():
                self._pending.append(event)
                self._pending_province.append(agg.province)
            self._aggregates[agg.id] = agg

    def flush(self) -> None:
        if not self._pending:
            return
        recordings = self.app.save_in_order(self._pending, self._aggregates)
        for recording, province in zip(recordings, self._pending_province, strict=True):
            self.last_position[province] = recording.notification.id
        self.events += len(recordings)
        self._pending, self._pending_province, self._aggregates = [], [], {}

    def total(self) -> int:
        return self.events + len(self._pending) + self.reports

    # ------------------------------------------------------------------ running

    def run(self, count: int) -> None:
        """At least ``count`` more events (stored or reported), then flushed."""
        target = self.total() + count
        ops = (self._call, self._team, self._check_in, self._stay, self._report)
        weights = (30, 30, 5, 10, 25)
        while self.total() < target:
            self.now += STEP
            code = self.rnd.choice(tuple(PROVINCES))
            self.rnd.choices(ops, weights)[0](code)
            if len(self._pending) >= self.batch:
                self.flush()
        self.flush()

    def _call(self, code: str) -> None:
        call = Call.receive(ev.CallReceived(line="123", caller=f"S-{uuid4().hex[:20]}", received_at=self.now),
                            self._ctx(), code, PROVINCES[code].capital)
        call.classify(ev.CallClassified(category=self.rnd.choice(("spouse_abuse", "child_abuse", "suicide")),
                                        priority="urgent", received_at=call.received_at), self._ctx())
        self._touch(call)

    def _team(self, code: str) -> None:
        team = self.rnd.choice(self.teams[code])
        status = str(team.status)
        if status == "available":
            incident = Incident.open(ev.IncidentOpened(route="police", category="spouse_abuse", priority="high",
                                                       location=self._point(code)),
                                     self._ctx(), code, PROVINCES[code].capital)
            team.dispatch(ev.TeamDispatched(incident_id=incident.id, priority=incident.priority,
                                            incident_opened_at=incident.opened_at), self._ctx())
            self.engaged[team.id] = incident
            self._touch(incident, team)
            return
        nxt = {"dispatched": "en_route", "en_route": "on_scene", "on_scene": "available"}[status]
        team.change_status(nxt, self._ctx(), self._point(code) if self.rnd.random() < 0.5 else None)
        if nxt == "available":
            incident = self.engaged.pop(team.id)
            incident.close(ev.IncidentClosed(outcome="resolved_on_scene", opened_at=incident.opened_at),
                           self._ctx())
            self._touch(team, incident)
        else:
            self._touch(team)

    def _check_in(self, code: str) -> None:
        team = self.rnd.choice(self.teams[code])
        if str(team.status) in ("off_duty", "available"):
            return self._team(code)
        team.check_in(ev.SafetyCheckedIn(incident_id=team.incident_id, position=self._point(code)), self._ctx())
        self._touch(team)

    def _stay(self, code: str) -> None:
        centre = self.rnd.choice(self.centres[code])
        clients = self.clients[centre.id]
        if clients and (len(clients) > 20 or self.rnd.random() < 0.5):
            client = clients.pop(self.rnd.randrange(len(clients)))
            centre.discharge(ev.ClientDischarged(client=client, reason="returned_home"), self._ctx())
        else:
            client = f"S-{uuid4().hex[:20]}"
            centre.admit(ev.ClientAdmitted(client=client, route="line_123"), self._ctx())
            clients.append(client)
        self._touch(centre)

    def _report(self, code: str) -> None:
        team = self.rnd.choice(self.teams[code])
        payload = ev.TeamPositionReported(position=self._point(code), speed_kmh=40.0, heading=90.0)
        at = iso(self.now)
        self.telemetry(Envelope(
            type=payload.TYPE, version=payload.VERSION, id=str(uuid4()), aggregate_id=str(team.id),
            aggregate_version=team.version, occurred_at=at, recorded_at=at, province=code, county=team.county,
            actor={"role": "team", "user": "bench-history"}, exercise=False, payload=payload.to_json()))
        self.reports += 1
