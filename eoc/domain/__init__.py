"""The domain: calls, incidents, teams and centres, each an event-sourced aggregate."""

from eoc.domain.base import Actor, Context, Recorded, to_envelope
from eoc.domain.call import Call
from eoc.domain.centre import Centre
from eoc.domain.incident import Incident
from eoc.domain.roster import Roster, roster_id
from eoc.domain.team import Team
from eoc.domain.workspace import DangerFlag, FollowUp

__all__ = ["Actor", "Call", "Centre", "Context", "DangerFlag", "FollowUp", "Incident", "Recorded", "Roster", "Team",
           "roster_id", "to_envelope"]
