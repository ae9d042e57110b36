"""The application service: one handler per command, each one transaction.

A handler authorises the command's role before it looks anything up, loads the aggregates
(one in another province than the token's is "not found", exactly like an unknown id, so a
refusal never confirms that another province's incident exists), lets them check their rules
and trigger events, and saves them together. A refused command writes nothing anywhere: a
person's or place's key made for it is erased again. A save that loses an optimistic
concurrency race (another writer stored a newer version first) is retried from a fresh load,
so a rule such as "capacity is never exceeded" is checked against the state that wins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Recording
from eventsourcing.utils import Environment

from eoc.app import commands as c
from eoc.app import es_adapter
from eoc.app.auth import Claims, authorize
from eoc.app.keyring import Keyring
from eoc.app.pgschema import taking_turns
from eoc.app.team_index import TeamCard, TeamIndex, card_of
from eoc.app.track import Thinning
from eoc.app.workspace_service import WorkspaceCommands
from eoc.app.writer import BatchWriter, Position, off_loop, resolved
from eoc.domain import Call, Centre, Context, Incident, Roster, Team, roster_id
from eoc.domain.errors import (
    AlreadyExists,
    InvalidCommand,
    NotFound,
    OccurredOutOfOrder,
    OverCapacity,
    Refused,
)
from eoc.domain.when import DEFAULT_LATE_WINDOW, occurred_time
from events import catalogue as ev
from events.envelope import Envelope, iso
from events.sealing import seal
from events.vocabulary import SECRET_KINDS, ReferralRoute

A = TypeVar("A")
log = logging.getLogger(__name__)


class EOCApplication(Application):
    """The event-sourced application: the event store, its repository and its ordered log."""

    name = "eoc"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.saved_listeners: list[Callable[[int], None]] = []  # told the last position after a commit
        # Told the commit's recordings (stored rows with their positions), first: the embedded
        # follower folds them on the spot (consumers/follower.py ``on_commit``).
        self.committed_listeners: list[Callable[[list[Recording]], None]] = []

    def construct_env(self, name: str, env: Any = None) -> Environment:
        """Only the environment we give (``Settings.eventsourcing_env``): the library would
        merge the process environment and look up ``EOC_<KEY>`` first, so a stray ``EOC_SQLITE_DBNAME``
        or ``EOC_PERSISTENCE_MODULE`` could move the store away from what Settings reports."""
        values = dict(type(self).env)
        if type(self).is_snapshotting_enabled or type(self).snapshotting_intervals:
            values["IS_SNAPSHOTTING_ENABLED"] = "y"
        values.update(env or {})
        return Environment(name, values)

    def save_in_order(self, events: list[Any], aggregates: dict[UUID, Any],
                      outcomes: list[Any] | None = None) -> list[Recording]:
        """Save these events, in this order, in one transaction (``save`` given aggregates orders
        their events by aggregate); the aggregates they came from are cached as the library's save
        does (eoc/app/es_adapter.py). ``outcomes``: Idempotency-Key answers written in the same
        transaction (eoc/app/recorders.py)."""
        return es_adapter.save_in_order(self, events, aggregates, **({"outcomes": outcomes} if outcomes else {}))

    def _notify(self, recordings: list[Recording]) -> None:
        # Called after every commit: the embedded follower folds the rows or is woken (SQLite
        # cannot be subscribed). What is committed stays committed: a listener's failure is
        # logged, never the writer's (its callers would be told that a saved command failed).
        if recordings:
            for committed in self.committed_listeners:
                try:
                    committed(recordings)
                except Exception:
                    log.exception("a commit listener failed; the commit stands")
            last = recordings[-1].notification.id
            for listener in self.saved_listeners:
                try:
                    listener(last)
                except Exception:
                    log.exception("a save listener failed; the commit stands")


def open_application(settings: Any) -> EOCApplication:
    """The event store's application (``eoc.app.config.Settings``): on PostgreSQL its tables are
    made one starting process at a time (eoc.app.pgschema)."""
    with taking_turns(settings.pg_dsn if settings.store == "postgres" else None):
        return EOCApplication(env=settings.eventsourcing_env())


class CommandService(WorkspaceCommands):
    """The handlers behind the command API (the workspaces' own in ``workspace_service``)."""

    def __init__(
        self,
        app: EOCApplication,
        keyring: Keyring,
        telemetry: Callable[[Envelope], None] | None = None,
        clock: Callable[[], datetime] | None = None,
        late_window: timedelta = DEFAULT_LATE_WINDOW,
        thinning: Any = None,
        telemetry_many: Callable[[list[Envelope], list[Envelope]], object] | None = None,
    ) -> None:

        self.app = app
        # Position reports kept (one per team per 30 s) or shown (eoc/app/track.py).
        self.thinning = thinning if thinning is not None else Thinning()
        self.late_window = late_window
        self.keyring = keyring
        self.telemetry = telemetry or (lambda envelope: None)
        # Reports kept (the track and the boards, or Kafka) and shown (the boards or Kafka only),
        # a batch's at once; without it, the kept ones one by one to ``telemetry``.
        self.telemetry_many = telemetry_many or self._one_by_one
        # Their own thread, in order: not queued behind the store reads of the loop's pool (a
        # thousand teams' first reports load a thousand cards, ``TeamIndex.prefetch``; their
        # requests' sends waited up to half a second behind them, BENCHMARKS.md session 18).
        self._telemetry_thread = ThreadPoolExecutor(1, thread_name_prefix="eoc-telemetry")
        # What a position report needs of its team, kept while the boards show no change of it.
        self.teams = TeamIndex()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.writer = BatchWriter(app)

    @property
    def conflicts(self) -> int:
        """Optimistic-concurrency races lost to another writer (and retried)."""
        return self.writer.conflicts

    def close(self) -> None:
        self.writer.close()
        self.finish_telemetry()

    def finish_telemetry(self) -> None:
        """The position batches handed to the telemetry thread are sent (before what they go to,
        the track and the producer, is closed); none is taken after."""
        self._telemetry_thread.shutdown(wait=True)

    # ------------------------------------------------------------------ plumbing

    def _ctx(self, claims: Claims, cmd: c.Command, occurred: datetime | None = None) -> Context:
        """The command's circumstances: when it happened (checked) and when it is recorded."""
        recorded = self.clock()
        when = occurred_time(occurred or cmd.occurred_at, recorded, claims.role, self.late_window)
        return Context(actor=claims.actor, now=when, exercise=cmd.exercise, recorded=recorded)

    def _get(self, cls: type[A], id_: UUID | str, what: str, province: str | None = None) -> A:
        """An aggregate by id: the batch's copy inside a command, a cached copy outside.

        With ``province`` (the token's), one of another province is not found, like an unknown
        id and in the same words: a refusal must not tell that it exists."""
        uow = self.writer.uow
        unknown = NotFound(f"no {what} with id {id_}", id=str(id_))
        try:
            aggregate_id = UUID(str(id_))
            agg = uow.get(aggregate_id) if uow is not None else self._load(aggregate_id)
        except (AggregateNotFoundError, ValueError):
            raise unknown from None
        if province is not None and getattr(agg, "province", None) != province:
            raise unknown
        if not isinstance(agg, cls):
            raise NotFound(f"{id_} is not a {what}", id=str(id_))
        return agg

    def _load(self, aggregate_id: UUID) -> Any:
        """Outside a command (a check before it): the repository's copy, read from the store off the
        event loop (``off_loop``) unless it is cached and need not be brought up to date."""
        repository = self.app.repository
        if not repository.fastforward and es_adapter.is_cached(self.app, aggregate_id):
            return repository.get(aggregate_id)
        return off_loop(repository.get, aggregate_id)

    def _new_id(self, chosen: UUID | None) -> UUID:
        """A new aggregate's id: the client's choice if it made one, and then not taken."""
        if chosen is None:
            return uuid4()
        uow = self.writer.uow
        try:
            uow.get(chosen) if uow is not None else self._load(chosen)
        except AggregateNotFoundError:
            return chosen
        raise AlreadyExists(f"{chosen} already exists; a retried create makes nothing new", id=str(chosen))

    @staticmethod
    def _may(claims: Claims, command: str) -> str:
        """The role is checked before any lookup and any side effect; the token's province back."""
        authorize(claims, command, claims.province)
        return claims.province

    @contextmanager
    def _keys_kept_only_if_stored(self) -> Iterator[list[str]]:
        """Keys created for a command are erased again when it is refused: a rule or a check said
        no (or the writer gave up on conflicts), and nothing was stored.

        Any other failure leaves the outcome unknown — the store may have committed the events
        and lost its answer, or the request was cancelled while the writer goes on — so the keys
        stay: a key with no data behind it is harmless, data whose key is gone is lost for good
        (its erasure is crypto-shredding; کلید داده‌ی ثبت‌شده پاک نمی‌شود)."""
        created: list[str] = []
        try:
            yield created
        except (Refused, IntegrityError):
            for subject in created:
                off_loop(self.keyring.erase, subject)
            raise
        except BaseException as exc:
            if created:
                log.warning("a command failed with its outcome unknown (%s); the %d key(s) it made are kept",
                            type(exc).__name__, len(created))
            raise

    def _new_key(self, subject: str, created: list[str], *, chosen: bool) -> bytes:
        """The subject's key, made if missing. ``chosen``: the id came from the client (or is a
        known caller's), so a racing request of the same id may be the one that stores its data:
        its key is never erased when this command fails (a key with no data is harmless). A key
        of an id this request made up is listed in ``created``, erased if the command fails."""
        return off_loop(self._make_key, subject, [] if chosen else created)

    def _make_key(self, subject: str, created: list[str]) -> bytes:
        if self.keyring.get(subject) is None:
            created.append(subject)
        return self.keyring.create(subject)

    def _save(self, *aggregates: Any) -> Position:
        """Inside a handler: these aggregates' new events are committed with the batch."""
        uow = self.writer.uow
        if uow is None:
            raise RuntimeError("commands are saved by the writer: wrap the handler in _run")
        for agg in aggregates:
            uow.add(agg)
        return self.writer.position()

    def _run(self, handler: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Decide and commit a load-decide-save handler (group commit, retried on conflicts)."""
        return resolved(self.writer.run(handler))

    def _seal_person(self, subject: str | None, details: c.PersonDetails | None,
                     created: list[str]) -> tuple[str, str | None]:
        chosen = subject is not None
        subject = subject or f"S-{uuid4().hex[:20]}"
        if ":" in subject:  # "place:…" names a secret place's key: a person's id never does
            raise InvalidCommand("a person's id has no ':'", id=subject)
        if details is None:
            return subject, None
        key = self._new_key(subject, created, chosen=chosen)
        return subject, seal(key, details.model_dump(exclude_none=True))

    # ------------------------------------------------------------------ line 123 calls

    def receive_call(self, cmd: c.ReceiveCall, claims: Claims) -> dict[str, Any]:
        authorize(claims, "receive_call", cmd.province)
        return self._receive(cmd, claims, lambda call, ctx: ({}, []))

    def _receive(self, cmd: c.ReceiveCall, claims: Claims,
                 then: Callable[[Call, Context], tuple[dict[str, Any], list[Any]]]) -> dict[str, Any]:
        """A call received (its caller sealed, a known number's caller found again), then what
        ``then`` decides on the new call in the same transaction: more of the answer and more
        aggregates to save with it."""
        # A call's own time (received_at) is when it happened: checked like any occurred_at.
        ctx = self._ctx(claims, cmd, cmd.received_at)
        with self._keys_kept_only_if_stored() as created:
            caller, sealed = self._seal_person(cmd.caller_id or self.known_caller(cmd), cmd.caller, created)
            payload = ev.CallReceived(line=cmd.line, caller=caller, caller_sealed=sealed, received_at=ctx.now)

            def handler() -> dict[str, Any]:
                call = Call.receive(payload, ctx, cmd.province, cmd.county, id=self._new_id(cmd.call_id))
                more, others = then(call, ctx)
                return {"call_id": str(call.id), "caller_id": caller, **more, "position": self._save(call, *others)}

            result = self._run(handler)
        self.remember_caller(cmd, caller)  # after the block: stored, the caller's key stays whatever follows
        return result

    def _check_referral(self, referral: c.Referral, claims: Claims) -> None:
        if referral.target == "centre":
            if referral.centre_id is None:
                raise InvalidCommand("a referral to a centre names the centre (centre_id)")
            self._get(Centre, referral.centre_id, "centre", claims.province)

    def _call_command(self, name: str, call_id: UUID, cmd: c.Command, claims: Claims,
                      act: Callable[[Call, Context], None]) -> dict[str, Any]:
        province = self._may(claims, name)

        def handler() -> dict[str, Any]:
            call = self._get(Call, call_id, "call", province)
            authorize(claims, name, call.province)
            act(call, self._ctx(claims, cmd))
            return {"call_id": str(call.id), "position": self._save(call)}

        return self._run(handler)

    def classify_call(self, call_id: UUID, cmd: c.ClassifyCall, claims: Claims) -> dict[str, Any]:
        return self._call_command(
            "classify_call", call_id, cmd, claims,
            lambda call, ctx: call.classify(
                ev.CallClassified(category=cmd.category, priority=cmd.priority,
                                  risk_flags=cmd.risk_flags, received_at=call.received_at), ctx),
        )

    def counsel_call(self, call_id: UUID, cmd: c.CounselCall, claims: Claims) -> dict[str, Any]:
        return self._call_command(
            "counsel_call", call_id, cmd, claims,
            lambda call, ctx: call.counsel(ev.CallCounselled(services=cmd.services, duration_s=cmd.duration_s), ctx),
        )

    def refer_call(self, call_id: UUID, cmd: c.ReferCall, claims: Claims) -> dict[str, Any]:
        self._may(claims, "refer_call")
        self._check_referral(cmd, claims)
        return self._call_command(
            "refer_call", call_id, cmd, claims,
            lambda call, ctx: call.refer(
                ev.CallReferred(target=cmd.target, centre_id=cmd.centre_id, agency=cmd.agency), ctx),
        )

    def escalate_call(self, call_id: UUID, cmd: c.EscalateCall, claims: Claims) -> dict[str, Any]:
        """The call becomes an incident: both events in one transaction."""

        province = self._may(claims, "escalate_call")

        def handler() -> dict[str, Any]:
            call = self._get(Call, call_id, "call", province)
            authorize(claims, "escalate_call", call.province)
            incident = self._escalate(call, cmd, self._ctx(claims, cmd))
            return {"call_id": str(call.id), "incident_id": str(incident.id),
                    "position": self._save(call, incident)}

        return self._run(handler)

    def _escalate(self, call: Call, how: c.Escalation, ctx: Context) -> Incident:
        """The call escalated, and the incident it opens (both to be saved together)."""
        incident_id = self._new_id(how.incident_id)
        call.escalate(ev.CallEscalated(incident_id=incident_id), ctx)
        return Incident.open(
            ev.IncidentOpened(
                route=ReferralRoute.LINE_123,
                category=call.category,
                priority=how.priority or call.priority,
                risk_flags=call.risk_flags,
                location=how.location,
                call_id=call.id,
                call_received_at=call.received_at,
            ),
            ctx.as_drill(ctx.exercise or call.exercise),
            call.province,
            call.county,
            id=incident_id,
        )

    def take_call(self, cmd: c.TakeCall, claims: Claims) -> dict[str, Any]:
        """The intake in one command (ثبت تماس): received, classified and, if asked, escalated,
        counselled or referred, in one transaction. Each step is authorized as its own command."""
        steps = ["receive_call", "classify_call"]
        steps += [f"{k}_call" for k in ("escalate", "counsel", "refer") if getattr(cmd, k) is not None]
        for step in ("take_call", *steps):
            authorize(claims, step, cmd.province)
        if cmd.refer is not None:
            self._check_referral(cmd.refer, claims)

        def then(call: Call, ctx: Context) -> tuple[dict[str, Any], list[Any]]:
            call.classify(ev.CallClassified(category=cmd.category, priority=cmd.priority,
                                            risk_flags=cmd.risk_flags, received_at=call.received_at), ctx)
            if cmd.escalate is not None:
                incident = self._escalate(call, cmd.escalate, ctx)
                return {"incident_id": str(incident.id)}, [incident]
            if cmd.counsel is not None:
                call.counsel(ev.CallCounselled(services=cmd.counsel.services, duration_s=cmd.counsel.duration_s), ctx)
            elif cmd.refer is not None:
                call.refer(ev.CallReferred(target=cmd.refer.target, centre_id=cmd.refer.centre_id,
                                           agency=cmd.refer.agency), ctx)
            return {}, []

        return self._receive(cmd, claims, then)

    # ------------------------------------------------------------------ incidents

    def open_incident(self, cmd: c.OpenIncident, claims: Claims, *, answer: dict[str, str] | None = None) -> dict[str, Any]:
        """``answer``: more of the answer, committed with it (a retry's answer is rendered from
        what was committed: an exchange referral names its route and category)."""
        authorize(claims, "open_incident", cmd.province)
        payload = ev.IncidentOpened(route=cmd.route, category=cmd.category, priority=cmd.priority,
                                    risk_flags=cmd.risk_flags, location=cmd.location)

        def handler() -> dict[str, Any]:
            incident = Incident.open(payload, self._ctx(claims, cmd), cmd.province, cmd.county,
                                     id=self._new_id(cmd.incident_id))
            return {"incident_id": str(incident.id), "position": self._save(incident), **(answer or {})}

        return self._run(handler)

    def close_incident(self, incident_id: UUID, cmd: c.CloseIncident, claims: Claims) -> dict[str, Any]:
        province = self._may(claims, "close_incident")

        def handler() -> dict[str, Any]:
            incident = self._get(Incident, incident_id, "incident", province)
            authorize(claims, "close_incident", incident.province)
            incident.close(ev.IncidentClosed(outcome=cmd.outcome, opened_at=incident.opened_at),
                           self._ctx(claims, cmd))
            return {"incident_id": str(incident.id), "position": self._save(incident)}

        return self._run(handler)

    # ------------------------------------------------------------------ teams

    def register_team(self, cmd: c.RegisterTeam, claims: Claims) -> dict[str, Any]:
        authorize(claims, "register_team", cmd.province)

        def handler() -> dict[str, Any]:
            if cmd.base_id is not None:
                self._get(Centre, cmd.base_id, "base", cmd.province)
            team = Team.register(ev.TeamRegistered(name=cmd.name, home=cmd.home, base_id=cmd.base_id),
                                 self._ctx(claims, cmd), cmd.province, cmd.county, id=self._new_id(cmd.team_id))
            return {"team_id": str(team.id), "position": self._save(team)}

        return self._run(handler)

    def _team_command(self, name: str, team_id: UUID, cmd: c.Command, claims: Claims,
                      act: Callable[[Team, Context], None]) -> dict[str, Any]:
        province = self._may(claims, name)

        def handler() -> dict[str, Any]:
            team = self._get(Team, team_id, "team", province)
            authorize(claims, name, team.province, team_id=str(team.id))
            act(team, self._ctx(claims, cmd))
            return {"team_id": str(team.id), "status": str(team.status), "position": self._save(team)}

        return self._run(handler)

    def start_shift(self, team_id: UUID, cmd: c.StartShift, claims: Claims) -> dict[str, Any]:
        def act(team: Team, ctx: Context) -> None:
            roster = self._roster(team.province)
            if roster is not None and not (ctx.exercise or team.on_drill):
                roster.must_run(team.county, str(cmd.shift))
            team.start_shift(ev.ShiftStarted(shift=cmd.shift, members=cmd.members, skills=cmd.skills or None), ctx)

        return self._team_command("start_shift", team_id, cmd, claims, act)

    def _roster(self, province: str) -> Roster | None:
        try:
            return self._get(Roster, roster_id(province), "roster")
        except NotFound:
            return None

    def set_roster(self, cmd: c.SetRoster, claims: Claims) -> dict[str, Any]:
        """The supervisor sets one county's shift pattern (an event: auditors see every change)."""
        authorize(claims, "set_roster", cmd.province)
        if cmd.exercise:
            raise InvalidCommand("a roster is real: drills use the teams the roster has")
        payload = ev.RosterSet(county=cmd.county, shifts=cmd.shifts)

        def handler() -> dict[str, Any]:
            roster = self._roster(cmd.province)
            ctx = self._ctx(claims, cmd)
            if roster is None:
                roster = Roster.create(payload, ctx, cmd.province)
            else:
                roster.set(payload, ctx)
            return {"roster_id": str(roster.id), "province": cmd.province, "county": cmd.county,
                    "shifts": {str(k): v for k, v in cmd.shifts.items()}, "position": self._save(roster)}

        return self._run(handler)

    def end_shift(self, team_id: UUID, cmd: c.EndShift, claims: Claims) -> dict[str, Any]:
        return self._team_command("end_shift", team_id, cmd, claims, lambda t, ctx: t.end_shift(ctx))

    def dispatch_team(self, team_id: UUID, cmd: c.DispatchTeam, claims: Claims) -> dict[str, Any]:
        def act(team: Team, ctx: Context) -> None:
            # An incident of another province is not found: the team's province is the token's.
            incident = self._get(Incident, cmd.incident_id, "incident", team.province)
            incident.must_be_open()
            if ctx.backdated and iso(ctx.now) < incident.opened_at:
                raise OccurredOutOfOrder(
                    f"a dispatch at {iso(ctx.now)} cannot precede its incident, opened {incident.opened_at}",
                    occurred_at=iso(ctx.now), incident_opened_at=incident.opened_at)
            drill = ctx.as_drill(ctx.exercise or incident.exercise)
            team.dispatch(ev.TeamDispatched(incident_id=incident.id, priority=incident.priority,
                                            incident_opened_at=incident.opened_at,
                                            call_received_at=incident.call_received_at), drill,
                          release_drill=cmd.release_drill)

        return self._team_command("dispatch_team", team_id, cmd, claims, act)

    def change_team_status(self, team_id: UUID, cmd: c.ChangeTeamStatus, claims: Claims) -> dict[str, Any]:
        position = cmd.position.model_dump() if cmd.position else None
        return self._team_command("change_team_status", team_id, cmd, claims,
                                  lambda t, ctx: t.change_status(cmd.status, ctx, position))

    def check_in(self, team_id: UUID, cmd: c.CheckIn, claims: Claims) -> dict[str, Any]:
        return self._team_command("check_in", team_id, cmd, claims,
                                  lambda t, ctx: t.check_in(ev.SafetyCheckedIn(incident_id=t.incident_id,
                                                                               position=cmd.position), ctx))

    def record_missed_check_in(self, team_id: UUID, cmd: c.RecordMissedCheckIn, claims: Claims) -> dict[str, Any]:
        return self._team_command("record_missed_check_in", team_id, cmd, claims,
                                  lambda t, ctx: t.check_in_missed(
                                      ev.SafetyCheckInMissed(due_at=cmd.due_at, incident_id=t.incident_id), ctx))

    def report_position(self, team_id: UUID, cmd: c.ReportPosition, claims: Claims) -> dict[str, Any]:
        """Telemetry: checked like a command, then kept (the bounded position track and the
        map: at most one report per team per 30 s, eoc/app/track.py), shown (the live map
        only: at most four a second) or neither — never the event store."""
        self._may(claims, "report_position")
        envelope, answer = self._position_report(team_id, cmd, claims, self.clock())
        if envelope is not None:  # the track and the board, or the track and Kafka (a cluster)
            off_loop(self.telemetry_many, *(([envelope], []) if answer["kept"] else ([], [envelope])),
                     executor=self._telemetry_thread)
        return answer

    def report_positions(self, cmd: c.ReportPositions, claims: Claims) -> dict[str, Any]:
        """A batch of position reports (a gateway's or a tablet connection's second of them):
        each checked and thinned as ``report_position``, in order, and answered in order — but
        of a team's reports only the newest may be shown (the older ones are past before the
        map could show them). A report refused by a rule (an unknown team, another province's,
        another team than a team account's own, from the future) is answered with its refusal
        in the one error shape, and the others go on. The kept and shown reports go to the
        track and the boards (or Kafka) together, in one batch. A retried batch keeps nothing
        twice: its reports are thinned out as repeats (and with an ``Idempotency-Key`` it gets
        its first answer)."""
        self._may(claims, "report_positions")
        now = self.clock()
        if len(cmd.reports) > 1:
            self.teams.prefetch((str(r.team_id) for r in cmd.reports), lambda ids: off_loop(self._team_cards, ids))
        kept: list[Envelope] = []
        shown: list[Envelope] = []
        answers: list[dict[str, Any]] = []
        # Each team's newest report not kept nor refused: the one of the batch the map may show.
        newest: dict[str, tuple[int, TeamCard, c.ReportPosition, str]] = {}
        try:
            for report in cmd.reports:
                try:
                    team, at = self._checked_report(report.team_id, report, claims, now)
                except Refused as exc:
                    if exc.kind in ("unavailable", "too_many"):
                        raise
                    answers.append({"team_id": str(report.team_id), **exc.to_dict()})
                    continue
                if self.thinning.keep(team.id, at):
                    kept.append(self._position_envelope(team, report, claims, now, at))
                    answers.append({"team_id": team.id, "reported_at": at, "kept": True, "shown": True})
                    continue
                answers.append({"team_id": team.id, "reported_at": at, "kept": False, "shown": False})
                other = newest.get(team.id)
                if other is None or at >= other[3]:  # moments in one format: their text sorts as they do
                    newest[team.id] = (len(answers) - 1, team, report, at)
            for i, team, newest_report, at in newest.values():
                if self.thinning.show(team.id, at):
                    shown.append(self._position_envelope(team, newest_report, claims, now, at))
                    answers[i]["shown"] = True
        finally:  # the reports taken go on even if a later one failed (store down)
            if kept or shown:
                off_loop(self.telemetry_many, kept, shown, executor=self._telemetry_thread)
        return {"reports": answers, "kept": len(kept), "shown": len(kept) + len(shown),
                "refused": sum(1 for answer in answers if "error" in answer)}

    def _one_by_one(self, kept: list[Envelope], shown: list[Envelope]) -> None:
        for envelope in kept:
            self.telemetry(envelope)

    def _team_cards(self, team_ids: list[str]) -> list[TeamCard]:
        """The cards of these teams, in one trip to the store (``es_adapter.current_many``); a team
        it leaves out is loaded on its own when its report comes (and refused if unknown)."""
        teams = es_adapter.current_many(self.app, [UUID(team_id) for team_id in team_ids])  # ids the body validated
        return [card_of(team) for team in teams.values() if isinstance(team, Team)]

    def _team_card(self, team_id: UUID, province: str) -> TeamCard:
        """The reporting team's card (eoc/app/team_index.py): one of another province is not
        found, like an unknown id and in the same words, as ``_get`` says."""
        card = self.teams.card(str(team_id), lambda: card_of(self._get(Team, team_id, "team", province)))
        if card.province != province:
            raise NotFound(f"no team with id {team_id}", id=str(team_id))
        return card

    def _position_report(self, team_id: UUID, cmd: c.ReportPosition, claims: Claims,
                         now: datetime) -> tuple[Envelope | None, dict[str, Any]]:
        """One report's rules: its envelope if it is kept or shown (None if neither) and its
        answer, which says which (``kept``, ``shown``)."""
        team, at = self._checked_report(team_id, cmd, claims, now)
        kept = self.thinning.keep(team.id, at)
        if not kept and not self.thinning.show(team.id, at):
            return None, {"team_id": team.id, "reported_at": at, "kept": False, "shown": False}
        return self._position_envelope(team, cmd, claims, now, at), {
            "team_id": team.id, "reported_at": at, "kept": kept, "shown": True}

    def _checked_report(self, team_id: UUID, cmd: c.ReportPosition, claims: Claims,
                        now: datetime) -> tuple[TeamCard, str]:
        """A report's team and moment, or its refusal: the team of the token's province, a team's
        account for its own team only, not from the future."""
        team = self._team_card(team_id, claims.province)
        authorize(claims, "report_position", team.province, team_id=team.id)
        at = iso(cmd.reported_at or now)
        if cmd.reported_at and cmd.reported_at > now + timedelta(minutes=2):
            raise InvalidCommand("the report is from the future; check the device clock", reported_at=at)
        return team, at

    def _position_envelope(self, team: TeamCard, cmd: c.ReportPosition, claims: Claims, now: datetime,
                           at: str) -> Envelope:
        payload = ev.TeamPositionReported(position=cmd.position, speed_kmh=cmd.speed_kmh, heading=cmd.heading)
        return Envelope(
            type=payload.TYPE, version=payload.VERSION, id=str(uuid4()), aggregate_id=team.id,
            aggregate_version=team.version, occurred_at=at, recorded_at=iso(now),
            province=team.province, county=team.county,
            actor={"role": str(claims.role), "user": claims.sub},
            exercise=cmd.exercise or team.on_drill, payload=payload.to_json(),
        )

    # ------------------------------------------------------------------ centres and stays

    def register_centre(self, cmd: c.RegisterCentre, claims: Claims) -> dict[str, Any]:
        authorize(claims, "register_centre", cmd.province)
        centre_id = self._new_id(cmd.centre_id)
        secret = cmd.secret or cmd.kind in SECRET_KINDS
        location: ev.Point | None
        location, sealed = cmd.location, None
        with self._keys_kept_only_if_stored() as created:
            if secret:  # the place's location is sealed with the place's own key
                key = self._new_key(f"place:{centre_id}", created, chosen=cmd.centre_id is not None)
                location, sealed = None, seal(key, cmd.location.model_dump())
            payload = ev.CentreRegistered(name=cmd.name, kind=cmd.kind, capacity=cmd.capacity,
                                          secret=secret, location=location, sealed_location=sealed)

            def handler() -> dict[str, Any]:
                # The id is chosen first so that the place's key exists before its event.
                if cmd.centre_id is not None:
                    self._new_id(cmd.centre_id)  # taken meanwhile by a racing retry
                centre = Centre.register(payload, self._ctx(claims, cmd), cmd.province, cmd.county, id=centre_id)
                return {"centre_id": str(centre_id), "secret": secret, "position": self._save(centre)}

            return self._run(handler)

    def _centre_command(self, name: str, centre_id: UUID, cmd: c.Command, claims: Claims,
                        act: Callable[[Centre, Context], dict[str, Any] | None]) -> dict[str, Any]:
        province = self._may(claims, name)

        def handler() -> dict[str, Any]:
            centre = self._get(Centre, centre_id, "centre", province)
            authorize(claims, name, centre.province, centre_id=str(centre.id))
            extra = act(centre, self._ctx(claims, cmd)) or {}
            return {"centre_id": str(centre.id), "occupied": centre.occupied(cmd.exercise),
                    "capacity": centre.capacity, **extra, "position": self._save(centre)}

        return self._run(handler)

    def change_capacity(self, centre_id: UUID, cmd: c.ChangeCapacity, claims: Claims) -> dict[str, Any]:
        return self._centre_command("change_capacity", centre_id, cmd, claims,
                                    lambda ce, ctx: ce.change_capacity(cmd.capacity, ctx))

    def close_centre(self, centre_id: UUID, cmd: c.CloseCentre, claims: Claims) -> dict[str, Any]:
        return self._centre_command("close_centre", centre_id, cmd, claims,
                                    lambda ce, ctx: ce.close(cmd.reason, ctx))

    def admit_client(self, centre_id: UUID, cmd: c.AdmitClient, claims: Claims) -> dict[str, Any]:
        """Admit, or record the declined admission (unmet demand) and refuse with 409."""
        province = self._may(claims, "admit_client")
        # Everything that can refuse without the centre's state is checked before a key is made.
        self._get(Centre, centre_id, "centre", province).must_take_admissions()
        if cmd.incident_id is not None:
            self._get(Incident, cmd.incident_id, "incident", province)
        with self._keys_kept_only_if_stored() as created:
            result = self._admit(centre_id, cmd, claims, *self._seal_person(cmd.client_id, cmd.client, created))
        # Out of the block: a declined admission is committed, then answered as a refusal (409),
        # which must not erase a key that what was stored may be sealed with.
        return self.answer_of("admit_client", result)

    def _admit(self, centre_id: UUID, cmd: c.AdmitClient, claims: Claims, client: str,
               sealed: str | None) -> dict[str, Any]:
        def act(centre: Centre, ctx: Context) -> dict[str, Any]:
            admitted = centre.admit(
                ev.ClientAdmitted(client=client, client_sealed=sealed, route=cmd.route,
                                  incident_id=cmd.incident_id), ctx,
                hold_id=str(cmd.hold_id) if cmd.hold_id else None)
            return {"client_id": client, "admitted": admitted}

        return self._centre_command("admit_client", centre_id, cmd, claims, act)

    @staticmethod
    def answer_of(command: str, result: dict[str, Any]) -> dict[str, Any]:
        """A committed command's answer from its handler's result: the one place that turns a
        recorded outcome into a refusal, for the first answer and for a retried Idempotency-Key."""
        if command == "admit_client" and result.get("admitted") is False:
            raise OverCapacity(
                "the centre is full; the declined admission was recorded as unmet demand",
                declined_recorded=True, capacity=result["capacity"], occupied=result["occupied"],
                position=result["position"],
            )
        return result

    def start_holding(self, centre_id: UUID, cmd: c.StartHolding, claims: Claims) -> dict[str, Any]:
        def act(centre: Centre, ctx: Context) -> dict[str, Any]:
            ends = ctx.now + timedelta(days=cmd.days)
            centre.start_holding(ev.HoldingPeriodStarted(client=cmd.client_id, days=cmd.days, ends_at=ends,
                                                         destination_kind=cmd.destination_kind), ctx)
            return {"holding_ends_at": iso(ends)}

        return self._centre_command("start_holding", centre_id, cmd, claims, act)

    def transfer_client(self, centre_id: UUID, cmd: c.TransferClient, claims: Claims) -> dict[str, Any]:
        """Out of one place and into another, in one transaction: both or neither."""

        province = self._may(claims, "transfer_client")

        def handler() -> dict[str, Any]:
            source = self._get(Centre, centre_id, "centre", province)
            authorize(claims, "transfer_client", source.province, centre_id=str(source.id))
            # Another province's places are not this province's to fill (nor to name): such an id
            # is answered like an unknown one; that province's own staff take the client in.
            destination = self._get(Centre, cmd.to_centre_id, "destination centre", source.province)
            ctx = self._ctx(claims, cmd)
            source.transfer_out(cmd.client_id, destination, ctx, cmd.override_reason)
            destination.transfer_in(cmd.client_id, source, ctx)
            return {"centre_id": str(source.id), "to_centre_id": str(destination.id),
                    "position": self._save(source, destination)}

        return self._run(handler)

    def discharge_client(self, centre_id: UUID, cmd: c.DischargeClient, claims: Claims) -> dict[str, Any]:
        def act(centre: Centre, ctx: Context) -> dict[str, Any]:
            centre.discharge(ev.ClientDischarged(client=cmd.client_id, reason=cmd.reason), ctx)
            # Call-backs after the discharge (تماس پیگیری) are stored in the same transaction.
            ids = self.schedule_call_backs(ctx, centre.province, centre.county, cmd.call_back_hours,
                                           centre_id=centre.id, person=cmd.client_id)
            return {"follow_up_ids": ids} if ids else {}

        return self._centre_command("discharge_client", centre_id, cmd, claims, act)

