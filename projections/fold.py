"""Folding events into the boards: ``apply(board, event)``, deterministic and without I/O.

Exactly-once in effect: every stored event carries its position in the event store's ordered
log, and all events of a province reach a runner in log order (one Kafka partition per
province key, or the log itself). A board remembers the last position it folded per
province, so a redelivered event is recognised and changes nothing.
Telemetry (position reports) carries no log position; it is idempotent by itself, because
the newest report by the time it was taken wins. A report kept in the bounded position track
(eoc/app/track.py) carries its place in the track instead, and the province's ``as-of`` row
names the last one folded (``telemetry``), so a replay folds exactly the points shown.

All or nothing, and never stuck: one event's rows are staged and written together only when
every applier succeeded. A stored event that a projection cannot fold (poison: a moment in
year 999, a payload of the wrong shape) writes none of its rows; instead it becomes a
dead-letter row ``deadletter/<position>`` with the reason, and an alert
``alert/dead_letter/<position>`` for the province's supervisor, and its position counts as
folded, so everything after it folds on. A payload that breaks its event's schema in the
catalogue is such an event (``InvalidPayload``): it is checked here, not by each runner. The
same code runs in every runner, so the embedded follower, the Faust worker, a replay and
``eoc diff`` end with equal boards and the same dead letters, named alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from events.catalogue import check
from events.envelope import Envelope
from projections.alerts import check_in_alert
from projections.board import DRILL, Board
from projections.emerging import apply_emerging
from projections.figures import apply_figures, count_late_entry
from projections.incidents import apply_incident, assign_team
from projections.occupancy import apply_centre
from projections.rosters import apply_roster
from projections.teams import apply_team, set_position
from projections.workspace import (
    apply_call,
    apply_centre_extra,
    apply_danger,
    apply_follow_up,
    apply_incident_extra,
    apply_ref,
    apply_team_extra,
)

Applier = Callable[[Board, str, Envelope], None]

ROUTES: dict[str, tuple[Applier, ...]] = {
    "CallReceived": (apply_figures, apply_call, apply_ref),
    "CallClassified": (apply_figures, apply_call),
    "CallCounselled": (apply_figures, apply_call),
    "CallReferred": (apply_figures, apply_call),
    "CallEscalated": (apply_figures, apply_call),
    "IncidentOpened": (apply_incident, apply_figures, apply_ref),
    "IncidentClosed": (apply_incident, apply_figures),
    "TeamRegistered": (apply_team, apply_ref),
    "ShiftStarted": (apply_team, apply_team_extra),
    "ShiftEnded": (apply_team, check_in_alert, apply_team_extra),
    "TeamDispatched": (apply_team, assign_team, apply_figures),
    "TeamStatusChanged": (apply_team, apply_figures),
    "TeamReleasedFromDrill": (apply_team,),
    "SafetyCheckedIn": (apply_team, check_in_alert),
    "SafetyCheckInMissed": (apply_team, check_in_alert),
    "RosterSet": (apply_roster,),
    "CentreRegistered": (apply_centre, apply_ref),
    "CentreCapacityChanged": (apply_centre,),
    "CentreClosed": (apply_centre,),
    "ClientAdmitted": (apply_centre, apply_figures),
    "AdmissionDeclined": (apply_centre, apply_figures),
    "HoldingPeriodStarted": (apply_centre,),
    "ClientTransferredOut": (apply_centre,),
    "ClientTransferredIn": (apply_centre, apply_figures),
    "ClientDischarged": (apply_centre, apply_figures),
    # the workspaces (projections/workspace.py)
    "CallLinked": (apply_call,),
    "IncidentCallLinked": (apply_incident_extra,),
    "TeamConflictRecorded": (apply_incident_extra,),
    "DuressRaised": (apply_team_extra,),
    "DuressCleared": (apply_team_extra,),
    "PlaceHeld": (apply_centre_extra,),
    "PlaceHoldReleased": (apply_centre_extra,),
    "DangerFlagRecorded": (apply_danger,),
    "DangerFlagReviewed": (apply_danger,),
    "FollowUpScheduled": (apply_follow_up,),
    "FollowUpDone": (apply_follow_up,),
}


def applied_key(province: str) -> str:
    return f"applied/{province}"


OnDeadLetter = Callable[[Envelope, str], None]
_GONE = object()


class _Staged:
    """The board as one event's appliers see it: their writes are kept until all succeeded."""

    __slots__ = ("board", "pending")

    def __init__(self, board: Board) -> None:
        self.board = board
        self.pending: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        if key in self.pending:
            row = self.pending[key]
            return None if row is _GONE else row
        return self.board.get(key)

    def put(self, key: str, row: Any) -> None:
        self.pending[key] = row

    def delete(self, key: str) -> None:
        self.pending[key] = _GONE

    def commit(self) -> None:
        for key, row in self.pending.items():
            if row is _GONE:
                self.board.delete(key)
            else:
                self.board.put(key, row)


def dead_letter_key(e: Envelope) -> str:
    return f"deadletter/{e.position if e.position is not None else e.id}"


def reason_of(exc: BaseException) -> str:
    """Why an event could not be folded: deterministic, short, the same in every runner."""
    return f"{type(exc).__name__}: {exc}"[:240]


def _dead_letter(board: Board, e: Envelope, reason: str) -> None:
    where = e.position if e.position is not None else e.id
    board.put(dead_letter_key(e), {
        "position": e.position, "event_id": e.id, "type": e.type, "province": e.province,
        "aggregate_id": e.aggregate_id, "recorded_at": e.recorded_at, "reason": reason,
    })
    # The alert names the event, not its content: any viewer of the province may see it.
    board.put(f"alert/dead_letter/{where}", {
        "kind": "dead_letter", "province": e.province, "county": None, "since": e.recorded_at,
        "type": e.type, "position": e.position, "event_id": e.id,
    })


def undecodable(board: Board, position: int, reason: str) -> None:
    """A stored record that is not even an event (unknown type, broken payload): a dead letter
    of no province (only national viewers see it), its position counted as read."""
    board.put(f"deadletter/{position}", {"position": position, "event_id": None, "type": None,
                                         "province": None, "reason": reason})


def as_of_key(province: str) -> str:
    return f"as-of/{province}"


def as_of(rows: Any) -> dict[str, Any]:
    """What a board snapshot is as of: the last log position folded per province, the last
    point of the position track folded per province (``telemetry``), the latest recording
    time among them, and ``at``: all of it in one text that ``eoc replay --at`` takes
    (``<recorded_at>@QZV=120,ALB=97~QZV=15``), so a replay lands on these exact positions
    even when several events were recorded in the same millisecond."""
    marks = {k.split("/", 1)[1]: v for k, v in rows.items() if k.startswith("as-of/") and isinstance(v, dict)}
    recorded = [m[f] for m in marks.values() for f in ("recorded_at", "telemetry_recorded_at") if m.get(f)]
    positions = {p: int(m.get("position") or 0) for p, m in sorted(marks.items())}
    telemetry = {p: int(m["telemetry"]) for p, m in sorted(marks.items()) if m.get("telemetry")}
    latest = max(recorded) if recorded else None
    return {"positions": positions, "telemetry": telemetry,
            "position": max(positions.values(), default=0),
            "recorded_at": latest, "at": as_of_text(latest, positions, telemetry)}


def as_of_text(recorded_at: str | None, positions: dict[str, int], telemetry: dict[str, int]) -> str:
    """``<recorded_at>@QZV=120,ALB=97~QZV=15``: a moment that names its positions."""
    text = (recorded_at or "") + "@" + ",".join(f"{p}={n}" for p, n in sorted(positions.items()))
    if telemetry:
        text += "~" + ",".join(f"{p}={n}" for p, n in sorted(telemetry.items()))
    return text


def parse_as_of_text(text: str) -> tuple[str | None, dict[str, int], dict[str, int]] | None:
    """The moment, log positions and track positions of an ``as_of["at"]`` text; None if the
    text is a plain moment. Raises ValueError on a malformed one."""
    if "@" not in text:
        return None
    moment, _, rest = text.partition("@")
    logs, _, track = rest.partition("~")

    def pairs(part: str) -> dict[str, int]:
        out = {}
        for item in filter(None, (x.strip() for x in part.split(","))):
            province, _, n = item.partition("=")
            if not province or not n.isdigit():
                raise ValueError(f"{item!r} is not PROVINCE=POSITION")
            out[province] = int(n)
        return out

    return (moment or None), pairs(logs), pairs(track)


def _mark_as_of(board: Board | _Staged, e: Envelope) -> None:
    old = board.get(as_of_key(e.province)) or {}
    board.put(as_of_key(e.province), {**old, "province": e.province, "position": e.position,
                                      "recorded_at": e.recorded_at})


def _mark_track(board: Board | _Staged, e: Envelope) -> None:
    old = board.get(as_of_key(e.province)) or {"province": e.province, "position": 0, "recorded_at": None}
    if int(old.get("telemetry") or 0) >= int(e.position or 0):
        return
    board.put(as_of_key(e.province), {**old, "telemetry": e.position, "telemetry_recorded_at": e.recorded_at})


def apply(board: Board, e: Envelope, on_dead_letter: OnDeadLetter | None = None) -> bool:
    """Fold one event into the board, all or nothing. False if it was already folded (a
    redelivery). An event that cannot be folded is dead-lettered (see the module's doc)."""
    ns = DRILL if e.exercise else ""
    staged = _Staged(board)
    try:
        if e.type == "TeamPositionReported":
            check(e.type, e.payload)
            set_position(staged, ns, e, e.payload["position"])  # type: ignore[arg-type]
            if e.position is not None:  # a point of the position track: its place in it
                _mark_track(staged, e)
            staged.commit()
            return True
        if e.position is not None:
            key = applied_key(e.province)
            last = board.get(key)
            if last is not None and e.position <= last:
                return False
        check(e.type, e.payload)  # the catalogue's schema: the one decision of every runner
        for applier in ROUTES.get(e.type, ()):
            applier(staged, ns, e)  # type: ignore[arg-type]
        count_late_entry(staged, ns, e)  # type: ignore[arg-type]
        # Every real event moves its province's day clock: emerging harms are judged as days close.
        apply_emerging(staged, e)  # type: ignore[arg-type]
    except Exception as exc:  # poison: nothing of it is written, and the runner goes on
        reason = reason_of(exc)
        if e.type != "TeamPositionReported":  # telemetry is not history: dropped, not kept
            if e.position is not None:
                board.put(applied_key(e.province), e.position)
                _mark_as_of(board, e)
            _dead_letter(board, e, reason)
        if on_dead_letter is not None:
            on_dead_letter(e, reason)
        return True
    if e.position is not None:
        staged.put(applied_key(e.province), e.position)
        _mark_as_of(staged, e)
    staged.commit()
    return True


def fold(events: Iterable[Envelope], board: Board | None = None,
         on_dead_letter: OnDeadLetter | None = None) -> Board:
    """All the events, in order, into a board (a new one unless given)."""
    board = Board() if board is None else board
    for e in events:
        apply(board, e, on_dead_letter)
    return board
