"""Folding events into the boards: ``apply(board, event)``, deterministic and without I/O.

Exactly-once in effect: every stored event carries its position in the event store's ordered
log, and all events of a province reach a runner in log order (one Kafka partition per
province key, or the log itself). A board remembers the last position it folded per
province, so a redelivered event is recognised and changes nothing.
Telemetry (position reports) carries no log position; it is idempotent by itself, because
the newest report by the time it was taken wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from events.envelope import Envelope

from .alerts import check_in_alert
from .board import DRILL, Board
from .figures import apply_figures, count_late_entry
from .incidents import apply_incident, assign_team
from .occupancy import apply_centre
from .teams import apply_team, set_position

Applier = Callable[[Board, str, Envelope], None]

ROUTES: dict[str, tuple[Applier, ...]] = {
    "CallReceived": (apply_figures,),
    "CallClassified": (apply_figures,),
    "CallCounselled": (apply_figures,),
    "CallReferred": (apply_figures,),
    "CallEscalated": (apply_figures,),
    "IncidentOpened": (apply_incident, apply_figures),
    "IncidentClosed": (apply_incident, apply_figures),
    "TeamRegistered": (apply_team,),
    "ShiftStarted": (apply_team,),
    "ShiftEnded": (apply_team, check_in_alert),
    "TeamDispatched": (apply_team, assign_team, apply_figures),
    "TeamStatusChanged": (apply_team, apply_figures),
    "TeamReleasedFromDrill": (apply_team,),
    "SafetyCheckedIn": (apply_team, check_in_alert),
    "SafetyCheckInMissed": (apply_team, check_in_alert),
    "CentreRegistered": (apply_centre,),
    "CentreCapacityChanged": (apply_centre,),
    "CentreClosed": (apply_centre,),
    "ClientAdmitted": (apply_centre, apply_figures),
    "AdmissionDeclined": (apply_centre, apply_figures),
    "HoldingPeriodStarted": (apply_centre,),
    "ClientTransferredOut": (apply_centre,),
    "ClientTransferredIn": (apply_centre, apply_figures),
    "ClientDischarged": (apply_centre, apply_figures),
}


def applied_key(province: str) -> str:
    return f"applied/{province}"


def apply(board: Board, e: Envelope) -> bool:
    """Fold one event into the board. False if it was already folded (a redelivery)."""
    ns = DRILL if e.exercise else ""
    if e.type == "TeamPositionReported":
        set_position(board, ns, e, e.payload["position"])
        return True
    if e.position is not None:
        key = applied_key(e.province)
        last = board.get(key)
        if last is not None and e.position <= last:
            return False
        board.put(key, e.position)
    for applier in ROUTES.get(e.type, ()):
        applier(board, ns, e)
    count_late_entry(board, ns, e)
    return True


def fold(events: Iterable[Envelope], board: Board | None = None) -> Board:
    """All the events, in order, into a board (a new one unless given)."""
    board = Board() if board is None else board
    for e in events:
        apply(board, e)
    return board
