"""The workspaces' own aggregates: danger-to-staff flags (پرچم خطر) and follow-up call-backs
(تماس پیگیری). Each belongs to a province and county like every aggregate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eoc.domain.base import Context, EOCAggregate, Recorded
from eoc.domain.errors import Conflict, InvalidCommand
from events import workspace as ws
from events.envelope import iso


class DangerFlag(EOCAggregate):
    """A danger to staff at an address or about a person, until it expires or is lifted."""

    expires_at: str
    lifted: bool

    def __init__(self) -> None:
        pass

    @classmethod
    def record_flag(cls, payload: ws.DangerFlagRecorded, ctx: Context, province: str, county: str,
                    **kw: Any) -> DangerFlag:
        if payload.location is None and payload.person is None:
            raise InvalidCommand("a danger flag is on an address (location) or a person (person)")
        if payload.expires_at <= ctx.now:
            raise InvalidCommand("a danger flag's expiry is in the future")
        if payload.review_at > payload.expires_at:
            raise InvalidCommand("a danger flag is reviewed before it expires")
        return cls.start(payload, ctx, province, county, **kw)

    def review(self, payload: ws.DangerFlagReviewed, ctx: Context) -> None:
        if self.lifted:
            raise Conflict("the flag was already lifted")
        if payload.decision == ws.DangerReview.KEEP and payload.expires_at <= ctx.now:
            raise InvalidCommand("a kept flag gets a new expiry in the future")
        self.record(payload, ctx)

    def when_DangerFlagRecorded(self, p: dict[str, Any], e: Recorded) -> None:
        self.place(e)
        self.expires_at = p["expires_at"]
        self.lifted = False

    def when_DangerFlagReviewed(self, p: dict[str, Any], e: Recorded) -> None:
        self.expires_at = p["expires_at"]
        self.lifted = p["decision"] == "lift"


class FollowUp(EOCAggregate):
    """A call-back due at a moment; done once."""

    due_at: str
    done: bool

    def __init__(self) -> None:
        pass

    @classmethod
    def schedule(cls, payload: ws.FollowUpScheduled, ctx: Context, province: str, county: str,
                 **kw: Any) -> FollowUp:
        return cls.start(payload, ctx, province, county, **kw)

    def complete(self, payload: ws.FollowUpDone, ctx: Context) -> None:
        if self.done:
            raise Conflict("the call-back was already made")
        self.record(payload, ctx)

    def when_FollowUpScheduled(self, p: dict[str, Any], e: Recorded) -> None:
        self.place(e)
        self.due_at = p["due_at"]
        self.done = False

    def when_FollowUpDone(self, p: dict[str, Any], e: Recorded) -> None:
        self.done = True


def active_holds(holds: dict[str, dict[str, Any]], now: datetime, drill: bool) -> int:
    """Places held for incoming clients that have not expired at ``now``."""

    at = iso(now)
    return sum(1 for h in holds.values() if h["until"] > at and h["drill"] == drill)
