"""The command API's guards in one ASGI pass, in the order they were five middleware layers:

1. short references in the path become ids (``ShortReferences``; an unknown one is answered
   404 before anything else, without the headers below and without being counted);
2. the security headers are added to every answer (``eoc.http.transport``);
3. every command (a write to /api/) is counted by its route and its answer (``eoc.http.metrics``);
4. the limits refuse what must not be read (headers, query, size, type) and count a chunked
   body as it streams in (``eoc.http.limits``);
5. a POST with an ``Idempotency-Key`` is answered or remembered (``eoc.app.idempotency``).

One pass, one wrapper of ``send``: under the command mix the five layers and their three
wrappers of ``send`` cost more than the route itself (bench/route_cost.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eoc.app.auth import Claims
from eoc.app.idempotency import Idempotent, KeyStore
from eoc.app.metrics import Metrics
from eoc.http.limits import BODY_METHODS, Limits, TooLarge, answer
from eoc.http.metrics import count, counted
from eoc.http.transport import extra_headers, with_headers
from eoc.http.workspace import ShortReferences


class Guards:
    """ASGI middleware of the command API; see the module's docstring."""

    def __init__(self, app: ASGIApp, *, system: Any, metrics: Metrics | None,
                 keys: Callable[[], KeyStore | None], verify: Callable[[str], Awaitable[Claims]],
                 fault_kill_before_answer: str = "") -> None:
        self.app = Idempotent(app, keys=keys, verify=verify, fault_kill_before_answer=fault_kill_before_answer)
        self.references = ShortReferences(system, verify)
        self.metrics = metrics
        self.limits = Limits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # none of the guards is for a websocket (Idempotent passes it on)
            return
        resolved = await self.references.rewrite(scope, send)
        if resolved is None:
            return
        scope = resolved
        extra = extra_headers(scope)
        status = 500
        started = False

        async def sending(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                message = with_headers(message, extra)
            await send(message)

        try:
            refused = self.limits.refusal(scope)
            if refused is not None:
                await answer(sending, *refused)
                return
            if scope.get("method") not in BODY_METHODS:
                await self.app(scope, receive, sending)
                return
            limit = self.limits.body_limit(scope)
            try:
                await self.app(scope, self.limits.counted(receive, limit), sending)
            except TooLarge:
                if not started:
                    await answer(sending, 413, "body_too_large", f"a command is at most {limit} bytes")
        finally:
            if self.metrics is not None and counted(scope):
                count(self.metrics, scope, status)
