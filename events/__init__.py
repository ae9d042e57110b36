"""The event catalogue: the contract every part of the system shares."""

from events.catalogue import (
    CATALOGUE,
    InvalidPayload,
    UnknownEventType,
    upcast,
    validate,
)
from events.envelope import Envelope, canonical_json, iso, parse_iso

__all__ = [
    "CATALOGUE",
    "Envelope",
    "InvalidPayload",
    "UnknownEventType",
    "canonical_json",
    "iso",
    "parse_iso",
    "upcast",
    "validate",
]
