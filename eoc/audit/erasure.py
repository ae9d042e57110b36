"""Erasing a person (crypto-shredding): delete their key, keep the history.

A caller's or client's details travel only sealed with their own key (events/sealing.py);
the events name them by a pseudonymous id. Erasure deletes the key from the keyring: the
sealed tokens stay in the store and on the topics byte for byte — so every chain link and
every signed checkpoint still verifies, and every board still replays the same, because no
board ever held the details — but nobody can open them again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from events.sealing import Unreadable, unseal

# payload field holding a subject's id -> the field holding what was sealed with their key
SEALED_FIELDS = {"caller": "caller_sealed", "client": "client_sealed"}


@dataclass(frozen=True)
class SealedValue:
    event_id: str
    type: str
    where: str
    field: str
    token: str


def sealed_values(records: Iterable[Any], subject: str) -> list[SealedValue]:
    """Every sealed value of ``subject`` in a stream (eoc.audit.sources.StoredRecord)."""
    found = []
    for r in records:
        v = r.value
        if v is None:
            continue
        payload = v.get("payload") or {}
        for id_field, sealed_field in SEALED_FIELDS.items():
            if payload.get(id_field) == subject and payload.get(sealed_field):
                found.append(SealedValue(v["id"], v["type"], r.where, sealed_field, payload[sealed_field]))
    return found


def readable(keyring: Any, subject: str, values: Iterable[SealedValue]) -> list[SealedValue]:
    """The values that can still be opened with the keyring."""
    key = keyring.get(subject)
    out = []
    for value in values:
        try:
            unseal(key, value.token)
            out.append(value)
        except Unreadable:
            pass
    return out


def erase(keyring: Any, subject: str) -> bool:
    """Delete the subject's key. True if there was one."""
    return bool(keyring.erase(subject))
