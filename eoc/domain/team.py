"""A mobile social-work team (گروه سیار اورژانس اجتماعی): its shift, its status, its incident."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eoc.domain.base import Context, EOCAggregate, Recorded
from eoc.domain.errors import IllegalTransition, TeamBusy, TeamInDrill, TeamOffDuty
from events import catalogue as ev
from events import workspace as ws
from events.vocabulary import ENGAGED_STATUSES, TEAM_TRANSITIONS, TeamStatus


class Team(EOCAggregate):
    name: str
    status: TeamStatus
    shift: str | None
    incident_id: str | None
    dispatched_at: str | None
    on_drill: bool  # engaged on a drill incident: its moves are drill events

    def __init__(self) -> None:  # annotated state comes only from events, never from arguments
        pass

    @classmethod
    def register(cls, payload: ev.TeamRegistered, ctx: Context, province: str, county: str, **kw: Any) -> Team:
        return cls.start(payload, ctx, province, county, **kw)

    def record(self, payload: ev.Payload, ctx: Context, *, occurred_at: datetime | None = None) -> None:
        if self.on_drill and not ctx.exercise:
            ctx = ctx.as_drill(True)
        super().record(payload, ctx, occurred_at=occurred_at)

    def start_shift(self, payload: ev.ShiftStarted, ctx: Context) -> None:
        if self.status != TeamStatus.OFF_DUTY:
            raise IllegalTransition(
                f"the team is already on shift ({self.shift}, {self.status})", status=str(self.status)
            )
        self.record(payload, ctx)

    def end_shift(self, ctx: Context) -> None:
        if self.status == TeamStatus.OFF_DUTY:
            raise IllegalTransition("the team is not on shift", status=str(self.status))
        if self.status in ENGAGED_STATUSES:
            raise TeamBusy(
                "the team is still on an incident; set it available first",
                incident_id=self.incident_id,
                status=str(self.status),
            )
        self.record(ev.ShiftEnded(shift=self.shift), ctx)

    def dispatch(self, payload: ev.TeamDispatched, ctx: Context, *, release_drill: bool = False) -> None:
        """Send the team to an incident: one incident per team at a time. A real dispatch to a
        team taking part in a drill is refused, naming the drill, unless the dispatcher calls
        the team back from it (``release_drill``)."""
        if self.on_drill and not ctx.exercise:
            if not release_drill:
                raise TeamInDrill(
                    f"the team is taking part in a drill (مانور) on drill incident {self.incident_id} "
                    f"({self.status}); dispatch with release_drill to call it back to real work",
                    team_id=str(self.id), drill_incident_id=self.incident_id, status=str(self.status))
            # A real fact: the real board sees the team come back (Team.record would mark it a drill).
            EOCAggregate.record(self, ev.TeamReleasedFromDrill(drill_incident_id=self.incident_id,
                                                               status=self.status), ctx)
        if self.status == TeamStatus.OFF_DUTY:
            raise TeamOffDuty("the team is off duty; start its shift first", team_id=str(self.id))
        if self.status != TeamStatus.AVAILABLE:
            raise TeamBusy(
                "the team is already on an incident",
                team_id=str(self.id),
                incident_id=self.incident_id,
                status=str(self.status),
            )
        self.record(payload, ctx)

    def change_status(self, new: TeamStatus, ctx: Context, position: dict[str, float] | None) -> None:
        if new not in TEAM_TRANSITIONS[self.status]:
            allowed = sorted(str(s) for s in TEAM_TRANSITIONS[self.status])
            hint = {
                TeamStatus.DISPATCHED: "a team is dispatched by the dispatch command",
                TeamStatus.OFF_DUTY: "a team goes off duty by ending its shift",
            }.get(new, f"from {self.status} it may go to: {', '.join(allowed) or 'nothing by a status change'}")
            raise IllegalTransition(
                f"a team cannot go from {self.status} to {new}; {hint}",
                status=str(self.status),
                requested=str(new),
                allowed=allowed,
            )
        self.record(
            ev.TeamStatusChanged(
                status=new,
                previous=self.status,
                incident_id=self.incident_id,
                position=position,
                dispatched_at=self.dispatched_at,
            ),
            ctx,
        )

    def check_in(self, payload: ev.SafetyCheckedIn, ctx: Context) -> None:
        self._must_be_on_shift("check in")
        self.record(payload, ctx)

    def check_in_missed(self, payload: ev.SafetyCheckInMissed, ctx: Context) -> None:
        self._must_be_on_shift("miss a check-in")
        self.record(payload, ctx)

    def raise_duress(self, payload: "ws.DuressRaised", ctx: Context) -> None:
        """SOS (هشدار اضطرار): always recorded, whatever the status: an alarm is never refused."""
        # Validated, not copied: the team's incident id (text) becomes the payload's UUID.
        self.record(type(payload).model_validate({**payload.model_dump(), "incident_id": self.incident_id}), ctx)

    def clear_duress(self, payload: "ws.DuressCleared", ctx: Context) -> None:
        if not self.__dict__.get("duress", False):
            raise IllegalTransition("the team has no duress alarm to clear", status=str(self.status))
        self.record(payload, ctx)

    def _must_be_on_shift(self, what: str) -> None:
        if self.status == TeamStatus.OFF_DUTY:
            raise TeamOffDuty(f"an off-duty team cannot {what}", team_id=str(self.id))

    # --- state changes

    def when_TeamRegistered(self, p: dict[str, Any], e: Recorded) -> None:
        self.place(e)
        self.name = p["name"]
        self.status = TeamStatus.OFF_DUTY
        self.shift = self.incident_id = self.dispatched_at = None
        self.on_drill = False

    def when_ShiftStarted(self, p: dict[str, Any], e: Recorded) -> None:
        self.status = TeamStatus.AVAILABLE
        self.shift = p["shift"]

    def when_ShiftEnded(self, p: dict[str, Any], e: Recorded) -> None:
        self.status = TeamStatus.OFF_DUTY
        self.shift = None

    def when_TeamDispatched(self, p: dict[str, Any], e: Recorded) -> None:
        self.status = TeamStatus.DISPATCHED
        self.incident_id = p["incident_id"]
        self.dispatched_at = e.occurred_at
        self.on_drill = e.exercise

    def when_TeamStatusChanged(self, p: dict[str, Any], e: Recorded) -> None:
        self.status = TeamStatus(p["status"])
        if self.status == TeamStatus.AVAILABLE:
            self.incident_id = self.dispatched_at = None
            self.on_drill = False

    def when_TeamReleasedFromDrill(self, p: dict[str, Any], e: Recorded) -> None:
        self.status = TeamStatus.AVAILABLE
        self.incident_id = self.dispatched_at = None
        self.on_drill = False

    def when_SafetyCheckedIn(self, p: dict[str, Any], e: Recorded) -> None:
        pass

    def when_SafetyCheckInMissed(self, p: dict[str, Any], e: Recorded) -> None:
        pass

    def when_DuressRaised(self, p: dict[str, Any], e: Recorded) -> None:
        self.__dict__["duress"] = True

    def when_DuressCleared(self, p: dict[str, Any], e: Recorded) -> None:
        self.__dict__["duress"] = False
