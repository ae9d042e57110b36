"""The wire form of events and board rows on Kafka, and what becomes of a record that is wrong.

An event record is CloudEvents 1.0 in binary content mode: the envelope's JSON is the value,
the CloudEvents attributes are ``ce_*`` headers (``Envelope.cloudevent_headers``), the key is
the province (events) or the team (telemetry). The relay adds two headers of its own,
``eoc_position`` (the event's place in the event store's log) and ``eoc_relay_watermark``
(every event up to this position had been acknowledged by Kafka when this one was sent), so
that a restarted relay finds where it stopped without decoding values (consumers/relay.py).

Decoding is strict: a worker folds only what it can trust to mean what the catalogue says.
Anything else is a dead letter, with the reason an operator can act on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from events.catalogue import CATALOGUE, InvalidPayload, UnknownEventType, validate
from events.envelope import Envelope
from events.places import PROVINCES

POSITION_HEADER = "eoc_position"
# A record of eoc.telemetry.positions that carries a batch of position reports only shown (not
# kept in the track, eoc/app/track.py): the value a JSON array of envelopes, this header their
# count. One record per province per request, so a gateway's batch costs a send, not a send
# per report, and the worker one record's overhead.
BATCH_HEADER = "eoc_batch"
BATCH_REPORTS = 1_000  # reports in one batch record at most (about 490 bytes each)
WATERMARK_HEADER = "eoc_relay_watermark"
DLQ_REASON = "eoc_dlq_reason"
DLQ_ERROR = "eoc_dlq_error"
DLQ_TOPIC = "eoc_dlq_topic"
DLQ_PARTITION = "eoc_dlq_partition"
DLQ_OFFSET = "eoc_dlq_offset"

Headers = list[tuple[str, bytes]]


class DeadLetter(Exception):
    """A record that must not be folded: ``kind`` names the class of fault, ``reason`` says why."""

    def __init__(self, kind: str, reason: str, envelope: Envelope | None = None) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
        # A well-formed, well-placed envelope whose payload breaks its schema: if it is a stored
        # event (the relay's), the worker folds it as the fold's dead letter, as every runner does.
        self.envelope = envelope


# ---------------------------------------------------------------------- events


def event_record(envelope: Envelope, *, extra_headers: Sequence[tuple[str, bytes]] = ()) -> tuple[bytes, Headers]:
    """The value and headers of an envelope's record (the key is the caller's choice)."""
    return envelope.to_json(), [*envelope.cloudevent_headers(), *extra_headers]


def batch_record(envelopes: Sequence[Envelope]) -> tuple[bytes, Headers]:
    """The value and headers of a record carrying these position reports (one province's)."""
    return b"[" + b",".join(e.to_json() for e in envelopes) + b"]", [(BATCH_HEADER, str(len(envelopes)).encode())]


def decode_batch(value: bytes | None, *, partition: int | None = None,
                 partition_of: Any = None) -> list[Envelope | DeadLetter]:
    """A batch record of ``eoc.telemetry.positions``: each report decoded and checked as
    ``decode_event`` checks one (telemetry only), or its ``DeadLetter``. Raises ``DeadLetter``
    when the value is not a JSON array at all."""
    try:
        items = json.loads(value) if value is not None else None
    except ValueError as exc:
        raise DeadLetter("invalid", f"a batch record that is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise DeadLetter("invalid", "a batch record's value must be a JSON array of envelopes")
    out: list[Envelope | DeadLetter] = []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise DeadLetter("invalid", "a batch's item must be an envelope (a JSON object)")
            envelope = _checked(partial(Envelope.from_dict, item), telemetry=True, partition=partition,
                                partition_of=partition_of)
            if envelope.position is not None:  # a kept point travels alone, with its place in the track
                raise DeadLetter("invalid", "a batch carries reports only shown, with no place in the track")
            out.append(envelope)
        except DeadLetter as letter:
            out.append(letter)
    return out


def relay_headers(position: int, watermark: int) -> tuple[tuple[str, bytes], tuple[str, bytes]]:
    return (POSITION_HEADER, str(position).encode()), (WATERMARK_HEADER, str(watermark).encode())


def header(headers: Iterable[tuple[str, bytes]] | None, name: str) -> bytes | None:
    for key, value in headers or ():
        if key == name:
            return value
    return None


def decode_event(value: bytes | None, *, telemetry: bool, partition: int | None = None,
                 partition_of: Any = None) -> Envelope:
    """Decode, upcast and check one record of ``eoc.events`` (``telemetry=False``) or
    ``eoc.telemetry.positions`` (``telemetry=True``). Raises :class:`DeadLetter`.

    ``partition_of(province)`` (when given) is the layout's partition of a province: an event
    in another partition would be folded into the wrong shard of the worker's tables.
    """
    if value is None:
        raise DeadLetter("not_an_event", "the record has no value (a tombstone)")
    return _checked(lambda: Envelope.from_json(value), telemetry=telemetry, partition=partition,
                    partition_of=partition_of)


def _checked(parse: Callable[[], Envelope], *, telemetry: bool, partition: int | None,
             partition_of: Any) -> Envelope:
    """The envelope ``parse`` gives, checked as a worker must before folding it."""
    try:
        envelope = parse()
        if envelope.type not in CATALOGUE:
            raise UnknownEventType(f"unknown event type {envelope.type!r}")
    except UnknownEventType as exc:
        raise DeadLetter("unknown_type", str(exc)) from None
    except (InvalidPayload, ValueError) as exc:
        raise DeadLetter("invalid", str(exc)) from None
    if envelope.province not in PROVINCES:
        raise DeadLetter("invalid", f"unknown province {envelope.province!r}")
    is_telemetry = CATALOGUE[envelope.type].TELEMETRY
    if telemetry and not is_telemetry:
        raise DeadLetter("wrong_topic", f"{envelope.type} is not telemetry; it belongs on the events topic")
    if not telemetry:
        if is_telemetry:
            raise DeadLetter("wrong_topic", f"{envelope.type} is telemetry; it never comes from the event store")
        if not isinstance(envelope.position, int) or envelope.position <= 0:
            raise DeadLetter("invalid", "a stored event must carry its log position (a positive integer)")
    if partition_of is not None and partition is not None and partition_of(envelope.province) != partition:
        raise DeadLetter("wrong_partition", f"an event of {envelope.province} belongs in partition "
                                            f"{partition_of(envelope.province)}, not {partition}")
    try:
        validate(envelope.type, envelope.payload)  # the payload must match its schema
    except InvalidPayload as exc:
        raise DeadLetter("invalid", str(exc), envelope) from None
    return envelope


def relayed(headers: Iterable[tuple[str, bytes]] | None, envelope: Envelope) -> bool:
    """True if the record is the relay's copy of a stored event (its log position header agrees)."""
    return envelope.position is not None and header(headers, POSITION_HEADER) == str(envelope.position).encode()


def dead_letter_headers(*, kind: str, reason: str, topic: str, partition: int, offset: int,
                        headers: Iterable[tuple[str, bytes]] | None) -> Headers:
    """The original headers, then where the record came from and why it was refused."""
    return [
        *((k, v) for k, v in (headers or ()) if not k.startswith("eoc_dlq_")),
        (DLQ_ERROR, kind.encode()),
        (DLQ_REASON, reason.encode("utf-8", "replace")[:4000]),
        (DLQ_TOPIC, topic.encode()),
        (DLQ_PARTITION, str(partition).encode()),
        (DLQ_OFFSET, str(offset).encode()),
    ]


# ---------------------------------------------------------------------- board rows


def encode_row(row: Any) -> bytes | None:
    """A board row's value on ``eoc.boards``: compact JSON, or None (a tombstone) if deleted."""
    if row is None:
        return None
    return json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode()


def decode_row(value: bytes | None) -> Any:
    return None if value is None else json.loads(value)
