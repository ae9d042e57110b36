"""Tamper evidence: each event is linked to the one before it in its aggregate's stream.

``chain = sha256(previous chain + "\\n" + canonical bytes of the event as stored)``. The
canonical bytes cover what the event says and where it stands (type, stored version, id,
aggregate id and version, time, province, county, actor, drill flag, payload); the time of
recording and the log position are the store's, not the event's, and are left out.
A modified, deleted, inserted or reordered event breaks the link at that event or the next.
"""

from __future__ import annotations

import hashlib
from typing import Any

from events.envelope import canonical_json

GENESIS = "0" * 64
CHAINED = ("type", "version", "id", "aggregate_id", "aggregate_version", "occurred_at",
           "province", "county", "actor", "exercise", "payload")


def link(previous: str, fields: dict[str, Any], chained: tuple[str, ...] = CHAINED) -> str:
    """The chain hash after ``previous`` of these fields (events by default; the access log
    chains its entries with the same hash over its own fields)."""
    body = canonical_json({k: fields[k] for k in chained})
    return hashlib.sha256(previous.encode() + b"\n" + body).hexdigest()
