"""The domain: calls, incidents, teams and centres, each an event-sourced aggregate."""

from .base import Actor, Context, Recorded, to_envelope
from .call import Call
from .centre import Centre
from .incident import Incident
from .roster import Roster, roster_id
from .team import Team

__all__ = ["Actor", "Call", "Centre", "Context", "Incident", "Recorded", "Roster", "Team", "roster_id", "to_envelope"]
