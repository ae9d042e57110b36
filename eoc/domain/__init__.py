"""The domain: calls, incidents, teams and centres, each an event-sourced aggregate."""

from .base import Actor, Context, Recorded, to_envelope
from .call import Call
from .centre import Centre
from .incident import Incident
from .team import Team
from .workspace import DangerFlag, FollowUp

__all__ = ["Actor", "Call", "Centre", "Context", "DangerFlag", "FollowUp", "Incident", "Recorded", "Team", "to_envelope"]
