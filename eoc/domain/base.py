"""What every aggregate of the system shares: one stored event class carrying a catalogue event.

The event store holds ``Recorded`` events whose ``type``/``version``/``payload`` follow the
catalogue in ``events/``. One stable stored class (``eoc.domain.base:Recorded``) means that
renaming a Python class never makes history unreadable; the catalogue's upcasters bring old
payloads to the current version whenever an aggregate or a follower reads them.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any, Self
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from eoc.domain.errors import OccurredOutOfOrder
from events.catalogue import Payload, upcast
from events.chain import GENESIS, link
from events.envelope import Envelope, iso
from events.vocabulary import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """Who gives a command: a role, a pseudonymous user id, the province of their token."""

    role: Role
    user: str
    province: str


@dataclass(frozen=True, slots=True)
class Context:
    """The circumstances of one command.

    ``now`` is when the fact happened (the envelope's ``occurred_at``); ``recorded`` is when
    the system learned it (``recorded_at``). They differ for a late entry: a paper record or
    an entry made after a network outage (ثبت با تأخیر).
    """

    actor: Actor
    now: datetime
    exercise: bool = False  # a drill (مانور): never counts in the real figures
    recorded: datetime | None = None  # None: recorded when it happened

    @property
    def backdated(self) -> bool:
        """The command named its own, earlier moment (``occurred_at``)."""
        return self.recorded is not None and self.recorded > self.now

    def as_drill(self, exercise: bool) -> Context:
        return replace(self, exercise=exercise)


class Recorded(Aggregate.Event):
    type: str
    version: int
    event_id: str
    occurred_at: str
    province: str
    county: str
    actor: dict[str, str]
    exercise: bool
    payload: dict[str, Any]
    chain: str  # link to the previous event of this aggregate (events/chain.py)

    def apply(self, aggregate: Any) -> None:
        _, payload = upcast(self.type, self.version, self.payload)
        getattr(aggregate, "when_" + self.type)(payload, self)
        aggregate.chain_head = self.chain
        aggregate.last_occurred_at = self.occurred_at


class RecordedCreation(Recorded, Aggregate.Created):
    pass


# Values an aggregate may share with its copy: none of them can be changed in place.
_UNCHANGING = (str, int, float, bool, type(None), UUID, datetime, Enum)


class EOCAggregate(Aggregate):
    """Base of calls, incidents, teams and centres: each belongs to a province and county."""

    province: str
    county: str
    exercise: bool
    chain_head: str  # the chain value of the last event applied
    last_occurred_at: str  # when the last applied fact happened (a later one may not precede it)

    def __init__(self) -> None:  # state comes only from events
        pass

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        """A copy that shares nothing mutable with this one. The repository hands every command
        a copy of the cached aggregate (a refused command leaves the cache as it was); the
        standard deepcopy takes each UUID and datetime apart as pickling does — 60 to 160 µs an
        aggregate. Here what cannot change (text, numbers, ids, moments, enumerations) is shared
        and the rest (lists, dicts, pending events) copied deeply, as before."""
        cls = type(self)
        new = cls.__new__(cls)
        memo[id(self)] = new
        state = new.__dict__
        for name, value in self.__dict__.items():
            state[name] = value if isinstance(value, _UNCHANGING) else deepcopy(value, memo)
        return new

    @classmethod
    def start(
        cls,
        payload: Payload,
        ctx: Context,
        province: str,
        county: str,
        *,
        id: UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> Self:
        id = id or uuid4()
        return cls._create(
            RecordedCreation,
            id=id,
            timestamp=ctx.recorded or ctx.now,
            **_fields(payload, ctx, province, county, ctx.exercise, occurred_at, id, 1, GENESIS),
        )

    def record(
        self, payload: Payload, ctx: Context, *, occurred_at: datetime | None = None
    ) -> None:
        """Trigger a catalogue event on this aggregate (rules are checked before).

        A fact never happens before the aggregate's previous one: a back-dated entry that
        would is refused; an undated one from a clock a little behind is moved up to it."""
        previous = getattr(self, "last_occurred_at", None)
        when = occurred_at or ctx.now
        if previous is not None and iso(when) < previous:
            if ctx.backdated or occurred_at is not None:
                raise OccurredOutOfOrder(
                    f"this entry says it happened at {iso(when)}, before this record's previous "
                    f"fact ({previous}); enter the earlier facts first, in the order they happened",
                    occurred_at=iso(when), previous_occurred_at=previous)
            when = datetime.fromisoformat(previous)
        self.trigger_event(
            Recorded,
            timestamp=ctx.recorded or ctx.now,
            **_fields(
                payload,
                ctx,
                self.province,
                self.county,
                self.exercise or ctx.exercise,
                when,
                self.id,
                self.version + 1,
                self.chain_head,
            ),
        )

    def place(self, event: Recorded) -> None:
        """Called by the first event: the aggregate's province, county and drill flag."""
        self.province = event.province
        self.county = event.county
        self.exercise = event.exercise


def _fields(
    payload: Payload,
    ctx: Context,
    province: str,
    county: str,
    exercise: bool,
    occurred_at: datetime | None,
    aggregate_id: UUID,
    aggregate_version: int,
    previous: str,
) -> dict[str, Any]:
    fields = {
        "type": payload.TYPE,
        "version": payload.VERSION,
        "id": str(uuid4()),
        "aggregate_id": str(aggregate_id),
        "aggregate_version": aggregate_version,
        "occurred_at": iso(occurred_at or ctx.now),
        "province": province,
        "county": county,
        "actor": {"role": str(ctx.actor.role), "user": ctx.actor.user},
        "exercise": exercise,
        "payload": payload.to_json(),
    }
    chain = link(previous, fields)
    del fields["aggregate_id"], fields["aggregate_version"]  # the library's own fields
    fields["event_id"] = fields.pop("id")
    fields["chain"] = chain
    return fields


def to_envelope(event: Recorded, position: int | None = None, *, as_stored: bool = False) -> Envelope:
    """The catalogue form of a stored event: upcast to the current version, or ``as_stored``
    (what the relay publishes, so that the chain can be checked on the topic too)."""
    if as_stored:
        version, payload = event.version, event.payload
    else:
        version, payload = upcast(event.type, event.version, event.payload)
    return Envelope(
        type=event.type,
        version=version,
        id=event.event_id,
        aggregate_id=str(event.originator_id),
        aggregate_version=event.originator_version,
        occurred_at=event.occurred_at,
        recorded_at=iso(event.timestamp),
        province=event.province,
        county=event.county,
        actor=event.actor,
        exercise=event.exercise,
        payload=payload,
        position=position,
        chain=event.chain,
    )
