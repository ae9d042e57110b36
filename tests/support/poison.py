"""Hostile stored events, for the runner tests: what an old history may hold for ever.

Each ``POISONS`` entry saves, through the domain (below the command API's checks, as the
history of an older version could have), one event that a projection cannot fold or that
carries hostile text. ``HOSTILE_TEXT`` are names that must fold and show literally.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from eoc.domain import Call, Context, Incident, Team
from eoc.domain.base import Actor
from events import catalogue as ev
from events.vocabulary import CallCategory, Line, Priority, ReferralRoute, Role

ACTOR = Actor(role=Role.PROVINCIAL_SUPERVISOR, user="old-version", province="QZV")
HOSTILE_TEXT = ["[/]", "[link=http://example.invalid]team[/link]", "\x1b[31mred\x1b[0m", "\u202eeman", "\x00nul"]


def _ctx(now: datetime) -> Context:
    return Context(actor=ACTOR, now=now, exercise=False)


def call_in_year_999(app: Any, now: datetime, _: str) -> str:
    """The finding: a call received in 0999 (the key figures once raised on it; they now
    count it under its own day, so it is hostile, not poison)."""
    call = Call.receive(ev.CallReceived(line=Line.LINE_123, caller=f"S-{uuid4().hex[:20]}",
                                        received_at=datetime(999, 12, 31, tzinfo=UTC)), _ctx(now), "QZV", "Qazvin")
    app.save(call)
    return "CallReceived"


def incident_in_year_999(app: Any, now: datetime, _: str) -> str:
    """Poison: an incident that happened in 0999 (the key figures cannot name its day)."""
    payload = ev.IncidentOpened(route=ReferralRoute.POLICE, category=CallCategory.CHILD_ABUSE,
                                priority=Priority.HIGH, location=ev.Point(lat=36.27, lon=50.0))
    app.save(Incident.open(payload, _ctx(now), "QZV", "Qazvin", occurred_at=datetime(999, 12, 31, tzinfo=UTC)))
    return "IncidentOpened"


def incident_on_day_one(app: Any, now: datetime, _: str) -> str:
    """Poison: an incident on 0001-01-01 (what an unbounded moment let in)."""
    payload = ev.IncidentOpened(route=ReferralRoute.SELF, category=CallCategory.SUICIDE,
                                priority=Priority.URGENT, location=ev.Point(lat=36.27, lon=50.0))
    app.save(Incident.open(payload, _ctx(now), "QZV", "Qazvin", occurred_at=datetime(1, 1, 1, 12, tzinfo=UTC)))
    return "IncidentOpened"


def incident_without_a_location(app: Any, now: datetime, _: str) -> str:
    """Poison: a payload that breaks the catalogue's schema (an older writer's bug: the call's
    moment is not a moment). No runner folds it: the follower, the Faust worker, replay and
    diff all make it the same dead letter (``InvalidPayload: IncidentOpened: ...``)."""
    payload = ev.IncidentOpened.model_construct(route=ReferralRoute.POLICE, category=CallCategory.CHILD_ABUSE,
                                                priority=Priority.HIGH, risk_flags=[],
                                                location=ev.Point(lat=36.27, lon=50.0),
                                                call_received_at="yesterday, around noon")
    app.save(Incident.open(payload, _ctx(now), "QZV", "Qazvin"))
    return "IncidentOpened"


def undecodable_row(app: Any, now: datetime, _: str) -> str:
    """Poison: a stored row that is no event at all (a topic no version knows). The follower and
    replay make it the same dead letter of no province; the relay sends it on as such
    (events.undecodable), and the workers and a replay from Kafka make the same row."""
    from eventsourcing.persistence import StoredEvent

    app.recorder.insert_events([StoredEvent(originator_id=uuid4(), originator_version=1,
                                            topic="eoc.vanished:Vanished", state=b"{}")])
    return ""


def team_with_hostile_name(app: Any, now: datetime, name: str) -> str:
    """Not poison: a name with markup and control characters, folded and shown literally."""
    app.save(Team.register(ev.TeamRegistered(name=name, home=ev.Point(lat=36.27, lon=50.0)), _ctx(now),
                           "QZV", "[/]"))
    return ""


POISONS = [incident_in_year_999, incident_on_day_one]  # no projection can fold these (history permitting)
SCHEMA_BREAKING = [incident_without_a_location]  # no runner folds these, whatever came before
POISON_TYPES = {"IncidentOpened"}
ALL = [*POISONS, *SCHEMA_BREAKING, call_in_year_999, team_with_hostile_name]
