"""Named refusals. Each says what rule was hit, in words an operator can act on.

The domain raises these; the API turns ``kind`` into an HTTP status. Nothing is stored when
one is raised: rules are checked before any event is triggered.
"""

from __future__ import annotations


class Refused(Exception):
    """A command that the system will not carry out."""

    kind = "conflict"  # one of: invalid, unauthorized, forbidden, not_found, conflict, too_many, unavailable
    code = "refused"

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details

    def to_dict(self) -> dict[str, object]:
        return {"error": self.code, "reason": self.reason, **self.details}


class InvalidCommand(Refused):
    kind = "invalid"
    code = "invalid_command"


class Unauthorized(Refused):
    kind = "unauthorized"
    code = "unauthorized"


class Forbidden(Refused):
    kind = "forbidden"
    code = "forbidden"


class WrongProvince(Forbidden):
    code = "wrong_province"


class Conflict(Refused):
    code = "conflict"


class TooManyRequests(Refused):
    """A rate limit: the answer is 429; ``retry_after`` says when to try again."""

    kind = "too_many"
    code = "too_many_requests"


class Unavailable(Refused):
    """A dependency that this command needs is down (Kafka, for position reports): 503, with
    Retry-After; nothing is stored, and trying again later is right."""

    kind = "unavailable"
    code = "dependency_unavailable"


class NotFound(Refused):
    kind = "not_found"
    code = "not_found"


class AlreadyExists(Refused):
    """A create named an id that is taken: a retried create never makes two."""

    code = "already_exists"


class IllegalTransition(Refused):
    code = "illegal_transition"


class TeamBusy(Refused):
    code = "team_busy"


class TeamOffDuty(Refused):
    code = "team_off_duty"


class IncidentNotOpen(Refused):
    code = "incident_not_open"


class CallState(Refused):
    code = "call_state"


class OverCapacity(Refused):
    code = "over_capacity"


class CentreNotOpen(Refused):
    code = "centre_not_open"


class NotResident(Refused):
    code = "not_resident"


class AlreadyResident(Refused):
    code = "already_resident"


# ------------------------------------------------------------------ when a fact happened


class OccurredInFuture(InvalidCommand):
    code = "occurred_in_future"


class LateEntryTooOld(Forbidden):
    code = "late_entry_too_old"


class OccurredOutOfOrder(Refused):
    code = "occurred_out_of_order"


# ------------------------------------------------------------------ rules the reports state


class NotResidential(Refused):
    code = "not_residential"


class HoldingNotServed(Refused):
    code = "holding_not_served"


class TeamInDrill(Refused):
    code = "team_in_drill"


class OutsideRoster(Refused):
    code = "outside_roster"
