"""Random but valid command histories, for property tests and runner comparisons.

``run_history`` drives a CommandService through a seeded random mix of every command kind
(drills included) and returns the envelopes the store logged, in order. Commands that the
rules refuse are part of life (a busy team, a full centre) and simply store nothing.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from uuid import UUID

from eoc.app import commands as c
from eoc.app.auth import Claims
from eoc.domain import to_envelope
from eoc.domain.errors import Refused
from events.vocabulary import TEAM_TRANSITIONS, CallCategory, Priority, ReferralRoute, Role, TeamStatus

PROVINCES = {"QZV": ("Qazvin", 36.27, 50.00), "ALB": ("Karaj", 35.84, 50.94)}


def claims(province: str) -> Claims:
    return Claims(sub="sim", role=Role.PROVINCIAL_SUPERVISOR, province=province, exp=2**40)


class History:
    def __init__(self, service, seed: int) -> None:
        self.svc, self.rnd = service, random.Random(seed)
        self.calls: list[tuple[str, str]] = []
        self.incidents: list[tuple[str, str]] = []
        self.teams: list[tuple[str, str]] = []
        self.centres: list[tuple[str, str]] = []
        self.clients: list[tuple[str, str, str]] = []  # (province, centre, client)

    def _where(self, province: str) -> dict:
        county, lat, lon = PROVINCES[province]
        return {"lat": round(lat + self.rnd.uniform(-0.2, 0.2), 5), "lon": round(lon + self.rnd.uniform(-0.2, 0.2), 5)}

    def step(self) -> None:
        r = self.rnd
        province = r.choice(list(PROVINCES))
        who, county = claims(province), PROVINCES[province][0]
        drill = r.random() < 0.1
        pick = lambda items: r.choice([x for x in items if x[0] == province] or [None])  # noqa: E731
        op = r.choice(["call"] * 4 + ["classify"] * 3 + ["escalate", "counsel", "incident", "incident",
                       "shift", "shift", "dispatch", "dispatch", "status", "status", "status", "status",
                       "checkin", "admit", "admit", "admit", "holding", "transfer", "discharge",
                       "capacity", "close", "position"]
                      + (["team"] if len(self.teams) < 12 else []) + (["centre"] if len(self.centres) < 8 else []))
        try:
            if op == "call" or not (self.calls or op in ("incident", "team", "centre")):
                res = self.svc.receive_call(c.ReceiveCall(province=province, county=county, exercise=drill), who)
                self.calls.append((province, res["call_id"]))
            elif op in ("classify", "escalate", "counsel") and (call := pick(self.calls)):
                if op == "classify":
                    self.svc.classify_call(call[1], c.ClassifyCall(
                        category=r.choice(list(CallCategory)), priority=r.choice(list(Priority))), who)
                elif op == "escalate":
                    res = self.svc.escalate_call(call[1], c.EscalateCall(location=self._where(province)), who)
                    self.incidents.append((province, res["incident_id"]))
                else:
                    self.svc.counsel_call(call[1], c.CounselCall(services=["counselling"], duration_s=r.randint(60, 900)), who)
            elif op == "incident":
                res = self.svc.open_incident(c.OpenIncident(
                    province=province, county=county, route=r.choice(list(ReferralRoute)),
                    category=r.choice(list(CallCategory)), priority=r.choice(list(Priority)),
                    location=self._where(province), exercise=drill), who)
                self.incidents.append((province, res["incident_id"]))
            elif op == "team":
                res = self.svc.register_team(c.RegisterTeam(province=province, county=county,
                                                             name=f"{province}-{len(self.teams)}", home=self._where(province)), who)
                self.teams.append((province, res["team_id"]))
            elif op == "shift" and (team := pick(self.teams)):
                if self._status(team[1]) == "off_duty" or r.random() < 0.2:
                    self.svc.start_shift(team[1], c.StartShift(shift=r.choice(["morning", "evening", "night"]), members=["a", "b"]), who)
                else:
                    self.svc.end_shift(team[1], c.EndShift(), who)
            elif op == "dispatch" and self.teams and (inc := pick(self.incidents)):
                free = [t for t in self.teams if t[0] == province and self._status(t[1]) == "available"]
                team = r.choice(free or self.teams)
                self.svc.dispatch_team(team[1], c.DispatchTeam(incident_id=inc[1]), claims(team[0]))
            elif op == "status" and (team := pick(self.teams)):
                legal = sorted(TEAM_TRANSITIONS[TeamStatus(self._status(team[1]))])
                status = r.choice(legal) if legal and r.random() < 0.9 else r.choice(list(TeamStatus))
                self.svc.change_team_status(team[1], c.ChangeTeamStatus(status=status, position=self._where(province)), who)
            elif op == "checkin" and (team := pick(self.teams)):
                if r.random() < 0.5:
                    self.svc.check_in(team[1], c.CheckIn(), who)
                else:
                    self.svc.record_missed_check_in(team[1], c.RecordMissedCheckIn(due_at=datetime.now(UTC)), who)
            elif op == "position" and (team := pick(self.teams)):
                self.svc.report_position(team[1], c.ReportPosition(position=self._where(province)), who)
            elif op == "centre":
                kind = r.choice(["residential_level_1", "residential_level_2", "safe_house", "outpatient"])
                res = self.svc.register_centre(c.RegisterCentre(
                    province=province, county=county, name=f"{kind}-{len(self.centres)}", kind=kind,
                    capacity=r.randint(1, 5), location=self._where(province)), who)
                self.centres.append((province, res["centre_id"]))
            elif op == "admit" and (centre := pick(self.centres)):
                try:
                    res = self.svc.admit_client(centre[1], c.AdmitClient(route=r.choice(list(ReferralRoute)), exercise=drill), who)
                    self.clients.append((province, centre[1], res["client_id"]))
                except Refused:
                    pass
            elif op in ("holding", "transfer", "discharge") and self.clients:
                province, centre, client = r.choice(self.clients)
                who = claims(province)
                if op == "holding":
                    self.svc.start_holding(centre, c.StartHolding(client_id=client, days=r.randint(15, 20),
                                                                  destination_kind="safe_house"), who)
                elif op == "transfer" and (dest := r.choice(self.centres)):
                    self.svc.transfer_client(centre, c.TransferClient(client_id=client, to_centre_id=dest[1]), who)
                    self.clients.remove((province, centre, client))
                    self.clients.append((dest[0], dest[1], client))
                else:
                    self.svc.discharge_client(centre, c.DischargeClient(client_id=client, reason="returned_home"), who)
                    self.clients.remove((province, centre, client))
            elif op == "capacity" and (centre := pick(self.centres)):
                self.svc.change_capacity(centre[1], c.ChangeCapacity(capacity=r.randint(0, 6)), who)
            elif op == "close" and (inc := pick(self.incidents)):
                self.svc.close_incident(inc[1], c.CloseIncident(outcome="resolved_on_scene"), who)
        except Refused:
            pass  # refused commands store nothing: part of a realistic history


    def _status(self, team_id: str) -> str:
        return str(self.svc.app.repository.get(UUID(team_id)).status)


def run_history(service, steps: int, seed: int, clock=None) -> None:
    h = History(service, seed)
    for _ in range(steps):
        if clock is not None:
            clock.advance(seconds=h.rnd.randint(1, 900))
        h.step()


def logged_envelopes(app, *, as_stored: bool = False):
    return [to_envelope(app.mapper.to_domain_event(n), position=n.id, as_stored=as_stored)
            for n in app.recorder.select_notifications(start=0, limit=10_000_000)]
