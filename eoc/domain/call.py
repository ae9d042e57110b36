"""A call to line 123 (تماس): received, classified, then counselled, referred or escalated."""

from __future__ import annotations

from typing import Any

from eoc.domain.base import Context, EOCAggregate, Recorded
from eoc.domain.errors import CallState
from events import catalogue as ev
from events import workspace as ws


class Call(EOCAggregate):
    status: str  # received | classified | escalated
    received_at: str
    category: str | None
    priority: str | None
    risk_flags: list[str]
    incident_id: str | None

    def __init__(self) -> None:  # annotated state comes only from events, never from arguments
        pass

    @classmethod
    def receive(cls, payload: ev.CallReceived, ctx: Context, province: str, county: str, **kw: Any) -> Call:
        return cls.start(payload, ctx, province, county, **kw)

    def classify(self, payload: ev.CallClassified, ctx: Context) -> None:
        if self.status == "escalated":
            raise CallState("the call was already escalated to an incident; reclassify the incident")
        self.record(payload, ctx)

    def counsel(self, payload: ev.CallCounselled, ctx: Context) -> None:
        self._must_be_classified("counselled")
        self.record(payload, ctx)

    def refer(self, payload: ev.CallReferred, ctx: Context) -> None:
        self._must_be_classified("referred")
        self.record(payload, ctx)

    def escalate(self, payload: ev.CallEscalated, ctx: Context) -> None:
        self._must_be_classified("escalated")
        if self.status == "escalated":
            raise CallState(
                "the call was already escalated", incident_id=self.incident_id
            )
        self.record(payload, ctx)

    def link(self, payload: "ws.CallLinked", ctx: Context) -> None:
        """The call is about an incident already open: linked, not escalated again."""
        if self.status == "escalated":
            raise CallState("the call was already escalated", incident_id=self.incident_id)
        self.record(payload, ctx)

    def _must_be_classified(self, what: str) -> None:
        if self.status == "received":
            raise CallState(f"classify the call (category and priority) before it is {what}")

    # --- state changes: only from events

    def when_CallReceived(self, p: dict[str, Any], e: Recorded) -> None:
        self.place(e)
        self.status = "received"
        self.received_at = p["received_at"]
        self.category = self.priority = self.incident_id = None
        self.risk_flags = []

    def when_CallClassified(self, p: dict[str, Any], e: Recorded) -> None:
        self.status = "classified"
        self.category = p["category"]
        self.priority = p["priority"]
        self.risk_flags = list(p.get("risk_flags", []))

    def when_CallCounselled(self, p: dict[str, Any], e: Recorded) -> None:
        pass

    def when_CallReferred(self, p: dict[str, Any], e: Recorded) -> None:
        pass

    def when_CallEscalated(self, p: dict[str, Any], e: Recorded) -> None:
        self.status = "escalated"
        self.incident_id = p["incident_id"]

    def when_CallLinked(self, p: dict[str, Any], e: Recorded) -> None:
        self.status = "escalated"  # its incident is the one it was linked to
        self.incident_id = p["incident_id"]
