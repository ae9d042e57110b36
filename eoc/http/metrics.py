"""The API's side of ``eoc.app.metrics``: every command counted by kind and outcome, and the
operators' endpoints /metrics, /healthz (alive) and /readyz (its dependencies answer)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eoc.app.metrics import Metrics, health_answer, outcome_of

COMMAND_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class CountCommands:
    """Counts each command (a write to /api/) once, by its endpoint's name and its answer."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope.get("method") not in COMMAND_METHODS
                or not scope.get("path", "").startswith("/api/")):
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route: Any = scope.get("route")
            kind = getattr(route, "name", None) or "unrouted"
            self.metrics.commands.labels(kind, outcome_of(status)).inc()


def install_metrics(api: FastAPI, metrics: Metrics) -> None:
    api.add_middleware(CountCommands, metrics=metrics)

    def answer(path: str) -> Response:
        status, body, ctype = health_answer(metrics, path)  # type: ignore[misc]
        return Response(body, status_code=status, media_type=ctype)

    @api.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return answer("/metrics")

    @api.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        return answer("/healthz")

    @api.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        return answer("/readyz")
