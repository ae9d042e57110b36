"""Limits checked before anything is read or parsed: body size, headers, content type.

A 40 MB body must not be read, parsed and only then refused for its token. These checks
run first, in the API's one pass of guards (eoc/http/guards.py): they answer 431 for too many or too large headers, 422 for a query
parameter given twice (the framework would keep the last one silently), 415 for a command
body that is not JSON, 413 for a body over ``max_body`` (``BATCH_BODIES`` for a path that takes a
batch: a gateway's second of position reports) — from ``Content-Length`` before a
byte of the body is read, or while a chunked body streams in — all in the project's error
shape, before the token is looked at.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import parse_qsl

from fastapi import HTTPException
from starlette.types import Message, Receive, Scope, Send

MAX_BODY = 64 * 1024  # a command is a few hundred bytes; the largest (a shift, a note) a few KB
# Batches: a position report is about 200 bytes, a batch at most 5,000 of them (eoc/app/commands.py).
BATCH_BODIES = {"/api/v1/teams/positions": 1024 * 1024}
MAX_HEADERS = 64
MAX_HEADER_BYTES = 8 * 1024  # one header's name and value
MAX_ALL_HEADERS = 16 * 1024
BODY_METHODS = {"POST", "PUT", "PATCH"}


class TooLarge(HTTPException):
    """Raised from ``receive``: FastAPI lets its own HTTPException through body parsing."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"a command is at most {limit} bytes")
        self.limit = limit


async def answer(send: Send, status: int, code: str, reason: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": code, "reason": reason}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": body})


def _repeated_query_key(query: bytes) -> str | None:
    """A query parameter given more than once (``?limit=true&limit=5``), or None. No endpoint
    takes a list in its query, and the framework would read only the last value."""
    seen: set[str] = set()
    for key, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if key in seen:
            return key
        seen.add(key)
    return None


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class Limits:
    """The request limits; see the module's docstring."""

    def __init__(self, *, max_body: int = MAX_BODY, max_headers: int = MAX_HEADERS,
                 max_header_bytes: int = MAX_HEADER_BYTES, max_all_headers: int = MAX_ALL_HEADERS,
                 batch_bodies: dict[str, int] | None = None) -> None:
        self.max_body = max_body
        self.batch_bodies = BATCH_BODIES if batch_bodies is None else batch_bodies
        self.max_headers = max_headers
        self.max_header_bytes = max_header_bytes
        self.max_all_headers = max_all_headers

    def body_limit(self, scope: Scope) -> int:
        return self.batch_bodies.get(scope.get("path", ""), self.max_body)

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """What an HTTP request is refused with before anything of it is read (status, code,
        reason), or None."""
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        total = sum(len(k) + len(v) for k, v in headers)
        if (len(headers) > self.max_headers or total > self.max_all_headers
                or any(len(k) + len(v) > self.max_header_bytes for k, v in headers)):
            return (431, "headers_too_large", f"at most {self.max_headers} headers, {self.max_header_bytes} bytes "
                                              f"each, {self.max_all_headers} in all")
        twice = _repeated_query_key(scope.get("query_string", b""))
        if twice is not None:  # the framework would keep the last silently: refused, as any bad input
            return 422, "invalid_command", f"query.{twice[:40]}: given more than once"
        if scope.get("method") not in BODY_METHODS:
            return None
        limit = self.body_limit(scope)
        length = content_type = None
        for k, v in headers:
            if k == b"content-length":
                length = v
            elif k == b"content-type":
                content_type = v.decode("latin-1")
        if length is not None:
            if not length.isdigit() or len(length) > 12:
                return 400, "malformed_request", "Content-Length is not a number"
            if int(length) > limit:
                return 413, "body_too_large", f"the body is {int(length)} bytes; a command is at most {limit}"
        if length != b"0" and (content_type is None or not _is_json(content_type)):
            return (415, "unsupported_media_type",
                    f"commands are application/json, not {(content_type or 'without a type')[:80]!r}")
        return None

    def counted(self, receive: Receive, limit: int) -> Receive:
        """``receive``, refusing a body (chunked: without Content-Length) once it is over ``limit``."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(limit)
            return message

        return counted
