"""A realistic mix of commands, as the provinces send them, with the state to keep them legal.

Over all 31 provinces: line-123 calls received (half of them with the caller's details, which
are sealed with a key of their own) and classified; some escalated to incidents; teams
dispatched to those incidents and moving through their statuses (dispatched, en route, on
scene, available) with the incident closed when the team is free; clients admitted to and
discharged from crisis centres; and, in the sustained mix, position reports from the teams.

The generator keeps just enough state to send commands the rules accept (a team is sent one
command at a time; a call is classified after it was received; a client is discharged after
being admitted), so refusals stay rare and are counted, not hidden.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from events.places import PROVINCES
from tests.support.history import near

from .loadgen import Pool

PROVINCE_CODES = tuple(PROVINCES)

# Weights of the actions (per 100 commands).
STORED_WEIGHTS = {"receive": 24, "classify": 22, "escalate": 4, "team": 28, "close": 2, "admit": 10, "discharge": 10}
TELEMETRY_WEIGHT = 20  # position reports in the sustained mix (about 1 in 6 requests)


@dataclass
class Command:
    path: str
    body: dict[str, Any]
    province: str
    kind: str
    team: str | None = None
    centre: str | None = None

    @property
    def keyed(self) -> bool:
        """Sent with an Idempotency-Key, as the workspaces send every action
        (ui-bridge/static/work/core.js ``command``); a position report is a query there, unkeyed."""
        return self.kind != "report_position"


@dataclass
class _Province:
    code: str
    token: str
    teams: list[str] = field(default_factory=list)
    centres: list[str] = field(default_factory=list)
    received: deque[str] = field(default_factory=deque)
    classified: deque[str] = field(default_factory=deque)
    open_incidents: deque[str] = field(default_factory=deque)
    to_close: deque[str] = field(default_factory=deque)
    clients: dict[str, list[str]] = field(default_factory=dict)  # centre -> clients staying


class Mix:
    """Sends the mix; ``next()`` picks a command, ``answered()`` learns from its answer."""

    def __init__(self, signer: Any, *, provinces: tuple[str, ...] = PROVINCE_CODES, teams_per_province: int = 8,
                 centres_per_province: int = 2, telemetry: bool = False, seed: int = 1403) -> None:
        self.rnd = random.Random(seed)
        self.provinces = {code: _Province(code, signer.issue("provincial_supervisor", code, sub=f"bench-{code}"))
                          for code in provinces}
        self.teams_per_province = teams_per_province
        self.centres_per_province = centres_per_province
        self.status: dict[str, str] = {}  # team -> status
        self.incident_of: dict[str, str] = {}  # team -> incident
        self.busy: set[str] = set()  # teams with a command in flight
        self.actions = list(STORED_WEIGHTS) + (["position"] if telemetry else [])
        self.weights = list(STORED_WEIGHTS.values()) + ([TELEMETRY_WEIGHT] if telemetry else [])
        self.sent: dict[str, int] = {}
        self.refused: dict[str, int] = {}

    # ------------------------------------------------------------------ setting up

    async def setup(self, pool: Pool) -> int:
        """Centres and teams on shift in every province; returns the number of commands. The
        places are drawn in the same order as always (the mix stays reproducible); the provinces
        are set up side by side, each one's commands in order."""
        plans = []
        for p in self.provinces.values():
            centres = [self.point(p.code) for _ in range(self.centres_per_province)]
            homes = [self.point(p.code) for _ in range(self.teams_per_province)]
            plans.append((p, centres, homes))

        async def province(p: _Province, centres: list[dict[str, float]], homes: list[dict[str, float]]) -> None:
            place = PROVINCES[p.code]
            for i, location in enumerate(centres):
                answer = await _ok(pool, "/api/v1/centres", {
                    "province": p.code, "county": place.capital, "name": f"{place.name} crisis centre {i + 1}",
                    "kind": "residential_level_1", "capacity": 10_000, "location": location}, p.token)
                p.centres.append(answer["centre_id"])
                p.clients[answer["centre_id"]] = []
            for i, home in enumerate(homes):
                answer = await _ok(pool, "/api/v1/teams", {
                    "province": p.code, "county": place.capital, "name": f"{p.code}-{i + 1}", "home": home}, p.token)
                team = answer["team_id"]
                await _ok(pool, f"/api/v1/teams/{team}/shift/start",
                          {"shift": "morning", "members": ["staff-a", "staff-b"]}, p.token)
                p.teams.append(team)
                self.status[team] = "available"

        await asyncio.gather(*(province(*plan) for plan in plans))
        return sum(len(c) + 2 * len(h) for _, c, h in plans)

    def point(self, code: str) -> dict[str, float]:
        return near(code, self.rnd, spread=0.1)

    # ------------------------------------------------------------------ the mix

    def next(self) -> Command:
        p = self.provinces[self.rnd.choice(PROVINCE_CODES if len(self.provinces) == 31 else list(self.provinces))]
        action = self.rnd.choices(self.actions, self.weights)[0]
        cmd = getattr(self, "_" + action)(p)
        self.sent[cmd.kind] = self.sent.get(cmd.kind, 0) + 1
        return cmd

    def token(self, cmd: Command) -> str:
        return self.provinces[cmd.province].token

    def _receive(self, p: _Province) -> Command:
        body: dict[str, Any] = {"province": p.code, "county": PROVINCES[p.code].capital, "line": "123"}
        if self.rnd.random() < 0.5:
            body["caller"] = {"phone": f"09{self.rnd.randint(10**8, 10**9 - 1)}", "age": self.rnd.randint(12, 80)}
        return Command("/api/v1/calls", body, p.code, "receive_call")

    def _classify(self, p: _Province) -> Command:
        if not p.received:
            return self._receive(p)
        call = p.received.popleft()
        return Command(f"/api/v1/calls/{call}/classify", {
            "category": self.rnd.choice(("spouse_abuse", "child_abuse", "suicide", "family_dispute",
                                         "spouse_addiction", "street_children")),
            "priority": self.rnd.choice(("urgent", "high", "normal"))}, p.code, "classify_call")

    def _escalate(self, p: _Province) -> Command:
        if not p.classified:
            return self._receive(p)
        call = p.classified.popleft()
        return Command(f"/api/v1/calls/{call}/escalate", {"location": self.point(p.code)}, p.code, "escalate_call")

    def _team(self, p: _Province) -> Command:
        free = [t for t in p.teams if t not in self.busy]
        if not free:
            return self._receive(p)
        team = self.rnd.choice(free)
        status = self.status[team]
        if status == "available":
            if not p.open_incidents:
                return self._escalate(p)
            incident = p.open_incidents.popleft()
            self.incident_of[team] = incident
            cmd = Command(f"/api/v1/teams/{team}/dispatch", {"incident_id": incident}, p.code, "dispatch_team",
                          team=team)
        else:
            nxt = {"dispatched": "en_route", "en_route": "on_scene", "on_scene": "available"}[status]
            body: dict[str, Any] = {"status": nxt}
            if self.rnd.random() < 0.5:
                body["position"] = self.point(p.code)
            cmd = Command(f"/api/v1/teams/{team}/status", body, p.code, "change_team_status", team=team)
        self.busy.add(team)
        return cmd

    def _close(self, p: _Province) -> Command:
        if not p.to_close:
            return self._team(p)
        incident = p.to_close.popleft()
        return Command(f"/api/v1/incidents/{incident}/close", {"outcome": "resolved_on_scene"}, p.code,
                       "close_incident")

    def _admit(self, p: _Province) -> Command:
        centre = self.rnd.choice(p.centres)
        if len(p.clients[centre]) > 40:  # keep the centres' rows (and the frames) bounded
            return self._discharge(p)
        return Command(f"/api/v1/centres/{centre}/admissions", {"route": "line_123"}, p.code, "admit_client",
                       centre=centre)

    def _discharge(self, p: _Province) -> Command:
        staying = [c for c in p.centres if p.clients[c]]
        if not staying:
            return self._admit(p)
        centre = self.rnd.choice(staying)
        clients = p.clients[centre]
        client = clients.pop(self.rnd.randrange(len(clients)))
        return Command(f"/api/v1/centres/{centre}/discharges", {"client_id": client, "reason": "returned_home"},
                       p.code, "discharge_client", centre=centre)

    def _position(self, p: _Province) -> Command:
        team = self.rnd.choice(p.teams)
        return Command(f"/api/v1/teams/{team}/position", {
            "position": self.point(p.code), "speed_kmh": 40.0, "heading": 90.0, "reported_at": stamp()},
            p.code, "report_position")

    # ------------------------------------------------------------------ answers

    def answered(self, cmd: Command, status: int, answer: Any) -> None:
        p = self.provinces[cmd.province]
        if cmd.team is not None:
            self.busy.discard(cmd.team)
        if status >= 300:
            self.refused[cmd.kind] = self.refused.get(cmd.kind, 0) + 1
            if cmd.kind == "dispatch_team" and cmd.team in self.incident_of:
                self.incident_of.pop(cmd.team)
            return
        kind = cmd.kind
        if kind == "receive_call":
            p.received.append(answer["call_id"])
        elif kind == "classify_call":
            p.classified.append(answer["call_id"])
            if len(p.classified) > 200:  # most calls are counselled, not escalated: forget the oldest
                p.classified.popleft()
        elif kind == "escalate_call":
            p.open_incidents.append(answer["incident_id"])
        elif kind in ("dispatch_team", "change_team_status"):
            self.status[cmd.team] = answer["status"]
            if answer["status"] == "available" and cmd.team in self.incident_of:
                p.to_close.append(self.incident_of.pop(cmd.team))
        elif kind == "admit_client":
            p.clients[cmd.centre].append(answer["client_id"])


def stamp(t: float | None = None) -> str:
    """Now (or ``t``), as the API writes moments: UTC, milliseconds, Z."""
    moment = datetime.fromtimestamp(time.time() if t is None else t, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _ok(pool: Pool, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    status, answer = await pool.post(path, body, token)
    if status >= 300:
        raise RuntimeError(f"setup command {path} refused: {status} {answer}")
    return answer
