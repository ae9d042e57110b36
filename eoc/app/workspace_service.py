"""The workspaces' command handlers (میز کار): a part of ``CommandService``.

Linking a call to an open incident, a team's conflict with a family, danger-to-staff flags,
call-backs, duress alarms and held places. Same rules as every handler: the role is checked
before any lookup, another province's id is "not found", one transaction per command.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID, uuid4

from eoc.app import commands as c
from eoc.app import workspace_commands as w
from eoc.app.auth import Claims, authorize
from eoc.app.writer import off_loop
from eoc.domain import Call, Centre, Context, DangerFlag, FollowUp, Incident, Team
from eoc.domain.errors import InvalidCommand
from events import workspace as ws
from events.envelope import iso
from events.reference import county

if TYPE_CHECKING:
    from collections.abc import Callable

    from eoc.app.callers import CallerIndex
    from eoc.app.team_index import TeamIndex
    from eoc.app.writer import BatchWriter, Position
    from events.catalogue import Point

A = TypeVar("A")
log = logging.getLogger(__name__)


class WorkspaceCommands:
    callers: CallerIndex | None = None  # set by the bootstrap; None: no repeat-caller matching

    if TYPE_CHECKING:  # the plumbing of CommandService, of which this class is a part
        writer: BatchWriter
        teams: TeamIndex

        @staticmethod
        def _may(claims: Claims, command: str) -> str: ...
        def _ctx(self, claims: Claims, cmd: c.Command, occurred: datetime | None = None) -> Context: ...
        def _get(self, cls: type[A], id_: UUID | str, what: str, province: str | None = None) -> A: ...
        def _new_id(self, chosen: UUID | None) -> UUID: ...
        def _save(self, *aggregates: Any) -> Position: ...
        def _run(self, handler: Callable[[], dict[str, Any]]) -> dict[str, Any]: ...
        def _team_command(self, name: str, team_id: UUID, cmd: c.Command, claims: Claims,
                          act: Callable[[Team, Context], None]) -> dict[str, Any]: ...
        def _centre_command(self, name: str, centre_id: UUID, cmd: c.Command, claims: Claims,
                            act: Callable[[Centre, Context], dict[str, Any] | None]) -> dict[str, Any]: ...

    # ------------------------------------------------------------------ repeat callers

    # The index of known numbers only helps the call-taker: unreachable, a caller is taken as new
    # and a new number is not remembered; the failure's kind is logged, never the number.

    def known_caller(self, cmd: c.ReceiveCall) -> str | None:
        """The caller id of an earlier call from this number (keyed hash), if any."""
        if self.callers is None or cmd.caller is None or not cmd.caller.phone:
            return None
        try:
            return off_loop(self.callers.match, cmd.caller.phone)
        except Exception as exc:
            log.error("the caller index did not answer (%s); the caller is taken as new", type(exc).__name__)
            return None

    def remember_caller(self, cmd: c.ReceiveCall, caller: str) -> None:
        if self.callers is None or cmd.caller is None or not cmd.caller.phone:
            return
        try:
            off_loop(self.callers.remember, cmd.caller.phone, caller)
        except Exception as exc:
            log.error("the caller index did not take a caller (%s); the call is stored", type(exc).__name__)

    # ------------------------------------------------------------------ calls and incidents

    def link_call(self, call_id: UUID, cmd: w.LinkCall, claims: Claims) -> dict[str, Any]:
        """The call is about an incident already open: both streams say so, in one transaction."""
        province = self._may(claims, "link_call")

        def handler() -> dict[str, Any]:
            call = self._get(Call, call_id, "call", province)
            incident = self._get(Incident, cmd.incident_id, "incident", province)
            authorize(claims, "link_call", call.province)
            ctx = self._ctx(claims, cmd)
            incident.link_call(ws.IncidentCallLinked(call_id=call.id), ctx)
            call.link(ws.CallLinked(incident_id=incident.id), ctx)
            return {"call_id": str(call.id), "incident_id": str(incident.id),
                    "position": self._save(call, incident)}

        return self._run(handler)

    def record_team_conflict(self, incident_id: UUID, cmd: w.RecordTeamConflict, claims: Claims) -> dict[str, Any]:
        province = self._may(claims, "record_team_conflict")

        def handler() -> dict[str, Any]:
            incident = self._get(Incident, incident_id, "incident", province)
            self._get(Team, cmd.team_id, "team", province)
            incident.record_conflict(ws.TeamConflictRecorded(team_id=cmd.team_id, reason=cmd.reason),
                                     self._ctx(claims, cmd))
            return {"incident_id": str(incident.id), "position": self._save(incident)}

        return self._run(handler)

    # ------------------------------------------------------------------ danger to staff

    def record_danger_flag(self, cmd: w.RecordDangerFlag, claims: Claims) -> dict[str, Any]:
        province = self._may(claims, "record_danger_flag")
        if cmd.location is None and cmd.person is None and cmd.incident_id is None:
            raise InvalidCommand("a danger flag is on an address (location), a person or an incident")

        def handler() -> dict[str, Any]:
            ctx = self._ctx(claims, cmd)
            location: Point | dict[str, float] | None  # an incident's is a mapping: the payload validates it
            location, county = cmd.location, None
            if cmd.incident_id is not None:
                incident = self._get(Incident, cmd.incident_id, "incident", province)
                county = incident.county
                if location is None:
                    location = incident.location
            if county is None and claims.team is not None and cmd.county is None:
                county = self._get(Team, claims.team, "team", province).county
            if county is None:
                county = _county_of(province, cmd.county)
            expires = ctx.now + timedelta(days=cmd.days)
            review = ctx.now + timedelta(days=min(cmd.review_days or cmd.days, cmd.days))
            flag = DangerFlag.record_flag(
                ws.DangerFlagRecorded(kinds=cmd.kinds, location=location, radius_m=cmd.radius_m, person=cmd.person,
                                      incident_id=cmd.incident_id, note=cmd.note, expires_at=expires,
                                      review_at=review),
                ctx, province, county, id=self._new_id(cmd.flag_id))
            return {"flag_id": str(flag.id), "expires_at": iso(expires), "position": self._save(flag)}

        return self._run(handler)

    def review_danger_flag(self, flag_id: UUID, cmd: w.ReviewDangerFlag, claims: Claims) -> dict[str, Any]:
        province = self._may(claims, "review_danger_flag")

        def handler() -> dict[str, Any]:
            flag = self._get(DangerFlag, flag_id, "danger flag", province)
            ctx = self._ctx(claims, cmd)
            if cmd.decision == ws.DangerReview.KEEP:
                expires = ctx.now + timedelta(days=cmd.days or 30)
            else:
                expires = ctx.now
            flag.review(ws.DangerFlagReviewed(decision=cmd.decision, expires_at=expires,
                                              review_at=expires if cmd.decision == ws.DangerReview.KEEP else None),
                        ctx)
            return {"flag_id": str(flag.id), "expires_at": iso(expires), "position": self._save(flag)}

        return self._run(handler)

    # ------------------------------------------------------------------ call-backs

    def schedule_call_backs(self, ctx: Context, province: str, county: str, hours: list[int], *,
                            call_id: UUID | None = None, centre_id: UUID | None = None,
                            person: str | None = None) -> list[str]:
        """Inside a handler: one follow-up per interval, saved with the command's batch."""
        ids = []
        subject = ws.FollowUpSubject.CALL if call_id is not None else ws.FollowUpSubject.CLIENT
        for h in sorted(set(hours)):
            if not 1 <= h <= 24 * 90:
                raise InvalidCommand("a call-back is 1 hour to 90 days after", after_hours=h)
            f = FollowUp.schedule(ws.FollowUpScheduled(subject=subject, call_id=call_id, centre_id=centre_id,
                                                       person=person, due_at=ctx.now + timedelta(hours=h),
                                                       after_hours=h), ctx, province, county, id=uuid4())
            self._save(f)
            ids.append(str(f.id))
        return ids

    def schedule_follow_up(self, cmd: w.ScheduleFollowUp, claims: Claims) -> dict[str, Any]:
        province = self._may(claims, "schedule_follow_up")
        if (cmd.call_id is None) == (cmd.centre_id is None):
            raise InvalidCommand("a call-back follows a call (call_id) or a stay (centre_id and person)")
        if cmd.centre_id is not None and cmd.person is None:
            raise InvalidCommand("a call-back after a stay names the client (person)")

        def handler() -> dict[str, Any]:
            ctx = self._ctx(claims, cmd)
            if cmd.call_id is not None:
                where: Any = self._get(Call, cmd.call_id, "call", province)
            else:
                where = self._get(Centre, cmd.centre_id, "centre", province)  # type: ignore[arg-type]
                authorize(claims, "schedule_follow_up", where.province, centre_id=str(where.id))
            ids = self.schedule_call_backs(ctx, where.province, where.county, cmd.after_hours,
                                           call_id=cmd.call_id, centre_id=cmd.centre_id, person=cmd.person)
            return {"follow_up_ids": ids, "position": self.writer.position()}

        return self._run(handler)

    def complete_follow_up(self, follow_up_id: UUID, cmd: w.CompleteFollowUp, claims: Claims) -> dict[str, Any]:
        province = self._may(claims, "complete_follow_up")

        def handler() -> dict[str, Any]:
            f = self._get(FollowUp, follow_up_id, "call-back", province)
            f.complete(ws.FollowUpDone(note=cmd.note, reached=cmd.reached), self._ctx(claims, cmd))
            return {"follow_up_id": str(f.id), "position": self._save(f)}

        return self._run(handler)

    # ------------------------------------------------------------------ duress

    def raise_duress(self, team_id: UUID, cmd: w.RaiseDuress, claims: Claims) -> dict[str, Any]:
        # Where the team is: the device's position, else the map's newest (a report only shown,
        # eoc/app/track.py) — written into the event, so the alert a replay makes is the one shown.
        position = cmd.position
        if position is None and (seen := self.teams.position(str(team_id))) is not None:
            position = ws.Point(lat=seen["lat"], lon=seen["lon"])
        alarm = ws.DuressRaised(covert=cmd.covert, position=position)  # the team adds its incident
        return self._team_command("raise_duress", team_id, cmd, claims, lambda t, ctx: t.raise_duress(alarm, ctx))

    def clear_duress(self, team_id: UUID, cmd: w.ClearDuress, claims: Claims) -> dict[str, Any]:
        cleared = ws.DuressCleared(note=cmd.note)
        return self._team_command("clear_duress", team_id, cmd, claims, lambda t, ctx: t.clear_duress(cleared, ctx))

    # ------------------------------------------------------------------ held places

    def hold_place(self, centre_id: UUID, cmd: w.HoldPlace, claims: Claims) -> dict[str, Any]:
        hold_id = cmd.hold_id or uuid4()

        def act(centre: Centre, ctx: Context) -> dict[str, Any]:
            if cmd.incident_id is not None:
                self._get(Incident, cmd.incident_id, "incident", centre.province)
            until = ctx.now + timedelta(minutes=cmd.minutes)
            centre.hold_place(ws.PlaceHeld(hold_id=hold_id, until=until, incident_id=cmd.incident_id), ctx)
            return {"hold_id": str(hold_id), "until": iso(until)}

        return self._centre_command("hold_place", centre_id, cmd, claims, act)

    def release_place_hold(self, centre_id: UUID, hold_id: UUID, cmd: w.ReleasePlaceHold,
                           claims: Claims) -> dict[str, Any]:
        return self._centre_command("release_place_hold", centre_id, cmd, claims,
                                    lambda ce, ctx: ce.release_hold(str(hold_id), "cancelled", ctx))



def _county_of(province: str, named: str | None) -> str:
    """A flag given only a position or a person names its county (from the reference table)."""

    found = county(province, named) if named else None
    if found is None:
        raise InvalidCommand("name the county (شهرستان) of a flag that is not on an incident",
                             county=named)
    return found.name
