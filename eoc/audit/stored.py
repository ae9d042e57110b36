"""A stored row of the event store straight to its envelope, for reading the whole log fast.

The application's mapper would turn each row into an eventsourcing domain event (the
library's stdlib-json transcoder, with an object hook on every JSON object) and
``eoc.domain.to_envelope`` would turn that back into an envelope: two thirds of a replay's
reading. ``StoredDecoder`` reads the state the mapper wrote — a JSON object of the
``Recorded`` event's fields, its ``timestamp`` as ``{"_type_": "datetime_iso", "_data_": ...}``
— with orjson into the same envelope.

It only takes the short way when the row is plainly one it reads exactly as the library
does: a ``Recorded`` topic, no cipher or compressor, the library's JSON transcoder, no
escape in the text (a key could be spelled with one), one ``_type_`` object (the timestamp's),
no integer of 19 digits or more (orjson would make a float of it), no class version, and a
timestamp in UTC in the form the library writes. Any other row, and any row the short way
stumbles on, goes the library's way, which decodes it or raises its own error: so the
envelopes, the refusals and their words are the mapper's
(tests/integration/test_stored_decoder.py compares the two over a seeded history).
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from datetime import datetime
from typing import Any, cast

import orjson
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, find_id_convertor
from eventsourcing.utils import get_topic

from eoc.domain import to_envelope
from eoc.domain.base import Recorded, RecordedCreation
from events.catalogue import upcast
from events.envelope import Envelope, iso

_KINDS = {get_topic(cls): cls for cls in (Recorded, RecordedCreation)}
_ESCAPE = b"\\"  # any escape (one byte: found by memchr)
_TYPED = b"_type_"
# orjson makes a float of an integer past 64 bits. Found with every digit made a "0"
# (bytes.translate, in C): a tenth of a regex's time.
_DIGITS_AS_ZERO = bytes(ord("0") if chr(b).isdigit() and b < 128 else b for b in range(256))
_LONG_RUN = b"0" * 19


def has_long_number(data: bytes) -> bool:
    """Whether JSON text holds a run of 19 digits or more: an integer orjson might read as a
    float, so json reads it."""
    return _LONG_RUN in data.translate(_DIGITS_AS_ZERO)
# ``datetime.isoformat()`` of a UTC moment: ``iso`` of it is its first 23 characters and "Z"
# (or its first 19 and ".000Z" without a fraction); ``fromisoformat`` still checks the ranges.
_UTC_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{6})?\+00:00")


def recorded_iso(text: str) -> str:
    """``iso(datetime.fromisoformat(text))``, without the round trip for a UTC moment as
    ``isoformat`` writes it."""
    moment = datetime.fromisoformat(text)  # refuses what the library's decode refuses
    if _UTC_ISO.fullmatch(text):
        return text[:23] + "Z" if len(text) == 32 else text[:19] + ".000Z"
    return iso(moment)


class StoredDecoder:
    """Envelopes of the stored rows (notifications) of one application's mapper."""

    __slots__ = ("mapper", "direct", "ids", "remember")

    def __init__(self, mapper: Any, *, remember: int = 100_000) -> None:
        self.mapper = mapper
        self.remember = remember  # aggregate ids kept converted (a long-running reader keeps fewer)
        transcoder = mapper.transcoder
        self.direct = (mapper.cipher is None and mapper.compressor is None
                       and type(transcoder) is JSONTranscoder
                       and type(transcoder.names.get("datetime_iso")) is DatetimeAsISO)
        self.ids: dict[Any, str] = {}  # stored originator id -> the envelope's aggregate id

    def envelope(self, n: Any, *, as_stored: bool = False) -> Envelope:
        """The envelope of stored row ``n`` (upcast unless ``as_stored``), placed at its
        position; raises what the mapper raises on a row it cannot decode."""
        if self.direct:
            try:
                envelope = self._direct(n, as_stored)
            except Exception:  # the library's way decides, and names the error
                envelope = None
            if envelope is not None:
                return envelope
        return to_envelope(self.mapper.to_domain_event(n), position=n.id, as_stored=as_stored)

    def _direct(self, n: Any, as_stored: bool) -> Envelope | None:
        kind = _KINDS.get(n.topic)
        state = n.state
        if (kind is None or type(state) is not bytes or _ESCAPE in state or state.count(_TYPED) != 1
                or has_long_number(state)):
            return None
        d = orjson.loads(state)
        stamp = d["timestamp"]
        if (type(stamp) is not dict or len(stamp) != 2 or stamp.get("_type_") != "datetime_iso"
                or type(stamp.get("_data_")) is not str or "class_version" in d):
            return None
        oid = n.originator_id
        aggregate_id = self.ids.get(oid)
        if aggregate_id is None:
            aggregate_id = str(find_id_convertor(kind, cast(Hashable, type(oid)))(oid))
            if len(self.ids) >= self.remember:
                self.ids.clear()
            self.ids[oid] = aggregate_id
        type_, version, payload = d["type"], d["version"], d["payload"]
        if not as_stored:
            version, payload = upcast(type_, version, payload)
        return Envelope(type_, version, d["event_id"], aggregate_id, n.originator_version, d["occurred_at"],
                        recorded_iso(stamp["_data_"]), d["province"], d["county"], d["actor"], d["exercise"],
                        payload, n.id, d["chain"])
