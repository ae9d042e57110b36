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
    """The finding: a call received in 0999 (the key figures fold raises on it)."""
    call = Call.receive(ev.CallReceived(line=Line.LINE_123, caller=f"S-{uuid4().hex[:20]}",
                                        received_at=datetime(999, 12, 31, tzinfo=UTC)), _ctx(now), "QZV", "Qazvin")
    app.save(call)
    return "CallReceived"


def classified_in_year_999(app: Any, now: datetime, _: str) -> str:
    call = Call.receive(ev.CallReceived(line=Line.LINE_123, caller=f"S-{uuid4().hex[:20]}", received_at=now),
                        _ctx(now), "QZV", "Qazvin")
    call.classify(ev.CallClassified(category=CallCategory.SUICIDE, priority=Priority.URGENT,
                                    received_at=datetime(999, 1, 1, tzinfo=UTC)), _ctx(now))
    app.save(call)
    return "CallClassified"


def incident_without_a_location(app: Any, now: datetime, _: str) -> str:
    """A payload of the wrong shape (an older writer's bug): the call's moment is not a moment.
    It folds (the incident board keeps it as given); nothing downstream may die on it."""
    payload = ev.IncidentOpened.model_construct(route=ReferralRoute.POLICE, category=CallCategory.CHILD_ABUSE,
                                                priority=Priority.HIGH, risk_flags=[],
                                                location=ev.Point(lat=36.27, lon=50.0),
                                                call_received_at="yesterday, around noon")
    app.save(Incident.open(payload, _ctx(now), "QZV", "Qazvin"))
    return "IncidentOpened"


def team_with_hostile_name(app: Any, now: datetime, name: str) -> str:
    """Not poison: a name with markup and control characters, folded and shown literally."""
    app.save(Team.register(ev.TeamRegistered(name=name, home=ev.Point(lat=36.27, lon=50.0)), _ctx(now),
                           "QZV", "[/]"))
    return ""


POISONS = [call_in_year_999, classified_in_year_999]  # no projection can fold these
ALL = [*POISONS, incident_without_a_location, team_with_hostile_name]
