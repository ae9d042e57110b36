"""Sealing personal data and secret places: each subject has its own key.

A sealed value is a Fernet token (AES-128-CBC + HMAC-SHA256) over the JSON of the details,
made with the subject's own key. Deleting that key (erasure) leaves the token in the history,
unreadable for ever, while every event and hash around it stays as it was.
"""

from __future__ import annotations

import json
from typing import Any, cast

from cryptography.fernet import Fernet, InvalidToken


def new_key() -> bytes:
    return Fernet.generate_key()


def seal(key: bytes, details: dict[str, Any]) -> str:
    return Fernet(key).encrypt(json.dumps(details, sort_keys=True).encode()).decode()


class Unreadable(Exception):
    """The sealed value cannot be opened: wrong key, erased key, or tampered token."""


def unseal(key: bytes | None, token: str) -> dict[str, Any]:
    if key is None:
        raise Unreadable("the subject's key was erased")
    try:
        return cast(dict[str, Any], json.loads(Fernet(key).decrypt(token.encode())))
    except InvalidToken:
        raise Unreadable("wrong key or tampered token") from None
