"""The envelope every event travels in, and its wire forms (JSON, CloudEvents headers).

Times are UTC ISO-8601 strings ending in ``Z`` everywhere on the wire and in the boards:
they sort as text, slice into hours and days without parsing, and compare equal across
runners byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from events.catalogue import CATALOGUE, InvalidPayload, UnknownEventType, upcast

CE_SPECVERSION = "1.0"
CE_TYPE_PREFIX = "ir.behzisti.eoc."


def iso(dt: datetime) -> str:
    """The canonical text of a moment: UTC, milliseconds, ``Z``."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: every moment in the system is timezone-aware")
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def canonical_json(obj: Any) -> bytes:
    """Deterministic bytes of a JSON value (sorted keys, no spaces), for hashing and equality."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# orjson as the standard library's encoder would write it: keys that are not text are written as
# text; a moment or a dataclass is refused (the standard library refuses them) — not written in
# orjson's own way.
_AS_JSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def compact_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON of a value, for the wire and for files (not for hashing: keys keep
    their order): orjson, several times faster than the standard library; what it does not take
    (an integer beyond 64 bits) goes to the standard library. NaN and infinities are written as
    ``null`` (the standard library's ``NaN`` is not JSON: a browser cannot read it)."""
    try:
        return orjson.dumps(obj, option=_AS_JSON)
    except TypeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Envelope:
    type: str
    version: int
    id: str
    aggregate_id: str
    aggregate_version: int
    occurred_at: str
    recorded_at: str
    province: str
    county: str
    actor: dict[str, str]  # {"role": ..., "user": pseudonymous id}
    exercise: bool
    payload: dict[str, Any]
    # Place in the event store's ordered log; for telemetry (not stored there), its place in
    # the bounded position track (eoc/app/track.py), or None before it is kept.
    position: int | None = None
    # Link to the previous event of the same aggregate (events/chain.py); None for telemetry.
    chain: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {
            "type": self.type,
            "version": self.version,
            "id": self.id,
            "aggregate_id": self.aggregate_id,
            "aggregate_version": self.aggregate_version,
            "occurred_at": self.occurred_at,
            "recorded_at": self.recorded_at,
            "province": self.province,
            "county": self.county,
            "actor": self.actor,
            "exercise": self.exercise,
            "payload": self.payload,
            "position": self.position,
            "chain": self.chain,
        }
        if self.extra:
            d["extra"] = self.extra
        return d

    def to_json(self) -> bytes:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Envelope:
        """Decode (and upcast) an envelope; raises ValueError with a reason on a bad one."""
        try:
            type_ = d["type"]
            version, payload = upcast(type_, int(d["version"]), dict(d["payload"]))
            return cls(
                type=type_,
                version=version,
                id=str(d["id"]),
                aggregate_id=str(d["aggregate_id"]),
                aggregate_version=int(d["aggregate_version"]),
                occurred_at=str(d["occurred_at"]),
                recorded_at=str(d["recorded_at"]),
                province=str(d["province"]),
                county=str(d["county"]),
                actor=dict(d["actor"]),
                exercise=bool(d["exercise"]),
                payload=payload,
                position=d.get("position"),
                chain=d.get("chain"),
                extra=dict(d.get("extra") or {}),
            )
        except (UnknownEventType, InvalidPayload):
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidPayload(f"malformed envelope: {exc!r}") from None

    @classmethod
    def from_json(cls, data: bytes | str) -> Envelope:
        try:
            d = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidPayload(f"not JSON: {exc}") from None
        if not isinstance(d, dict):
            raise InvalidPayload("an envelope must be a JSON object")
        return cls.from_dict(d)

    @property
    def is_telemetry(self) -> bool:
        return CATALOGUE[self.type].TELEMETRY

    def cloudevent_headers(self) -> list[tuple[str, bytes]]:
        """CloudEvents 1.0 binary content mode headers for a Kafka record."""
        return [
            ("ce_specversion", CE_SPECVERSION.encode()),
            ("ce_id", self.id.encode()),
            ("ce_type", f"{CE_TYPE_PREFIX}{self.type}.v{self.version}".encode()),
            ("ce_source", f"/eoc/{self.province}/{CATALOGUE[self.type].AGGREGATE}".encode()),
            ("ce_time", self.occurred_at.encode()),
            ("ce_subject", self.aggregate_id.encode()),
            ("content-type", b"application/json"),
        ]
