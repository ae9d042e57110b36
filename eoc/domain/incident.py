"""An incident (مورد): a case that needs a team on the scene, from any referral route."""

from __future__ import annotations

from typing import Any

from eoc.domain.base import Context, EOCAggregate, Recorded
from eoc.domain.errors import IncidentNotOpen
from events import catalogue as ev
from events import workspace as ws


class Incident(EOCAggregate):
    status: str  # open | closed
    opened_at: str
    priority: str
    category: str
    call_received_at: str | None
    location: dict[str, float]

    def __init__(self) -> None:  # annotated state comes only from events, never from arguments
        pass

    @classmethod
    def open(cls, payload: ev.IncidentOpened, ctx: Context, province: str, county: str, **kw: Any) -> Incident:
        return cls.start(payload, ctx, province, county, **kw)

    def must_be_open(self) -> None:
        if self.status != "open":
            raise IncidentNotOpen("the incident is closed", incident_id=str(self.id))

    def close(self, payload: ev.IncidentClosed, ctx: Context) -> None:
        self.must_be_open()
        self.record(payload, ctx)

    def link_call(self, payload: "ws.IncidentCallLinked", ctx: Context) -> None:
        self.must_be_open()
        self.record(payload, ctx)

    def record_conflict(self, payload: "ws.TeamConflictRecorded", ctx: Context) -> None:
        self.must_be_open()
        self.record(payload, ctx)

    def when_IncidentCallLinked(self, p: dict[str, Any], e: Recorded) -> None:
        pass

    def when_TeamConflictRecorded(self, p: dict[str, Any], e: Recorded) -> None:
        pass

    def when_IncidentOpened(self, p: dict[str, Any], e: Recorded) -> None:
        self.place(e)
        self.status = "open"
        self.opened_at = e.occurred_at
        self.priority = p["priority"]
        self.category = p["category"]
        self.call_received_at = p.get("call_received_at")
        self.location = p["location"]

    def when_IncidentClosed(self, p: dict[str, Any], e: Recorded) -> None:
        self.status = "closed"
