"""A stored row that is not an event, as the relay sends it to Kafka.

The embedded follower turns such a row (written by hand, of a type no catalogue knows) into a
dead-letter row and goes on (``projections.undecodable``). In a cluster the relay does not stop
on it either: it sends a record that says so, with the row's log position and the reason, and
a header ``eoc_undecodable``; the Faust workers and a replay from Kafka make of it the same
dead-letter row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

UNDECODABLE_HEADER = "eoc_undecodable"


def undecodable_record(position: int, reason: str) -> bytes:
    """The value the relay sends for a stored row that is not an event (a row written by hand,
    a type no catalogue knows): its place in the log and why, so that every runner makes of it
    the same dead-letter row as the embedded follower (``projections.undecodable``) and the
    stream goes on. Sent with the relay's headers and ``eoc_undecodable``."""
    return json.dumps({"undecodable": True, "position": position, "reason": reason},
                      separators=(",", ":")).encode()


def undecodable_of(headers: Iterable[tuple[str, bytes]] | None, value: bytes | None) -> tuple[int, str] | None:
    """(position, reason) of the relay's record of an undecodable stored row; None otherwise."""
    if not any(k == UNDECODABLE_HEADER for k, _ in headers or ()) or value is None:
        return None
    try:
        body = json.loads(value)
        return int(body["position"]), str(body["reason"])
    except (ValueError, TypeError, KeyError):
        return None
