"""The API's side of ``eoc.app.metrics``: every command counted by kind and outcome, and the
operators' endpoints /metrics, /healthz (alive) and /readyz (its dependencies answer)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.types import Scope

from eoc.app.metrics import Metrics, health_answer, outcome_of

COMMAND_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def counted(scope: Scope) -> bool:
    """Whether the request is a command: a write to /api/."""
    return scope.get("method") in COMMAND_METHODS and scope.get("path", "").startswith("/api/")


def count(metrics: Metrics, scope: Scope, status: int) -> None:
    """Count a command answered ``status``, by the name of the route it went to."""
    route: Any = scope.get("route")
    kind = getattr(route, "name", None) or "unrouted"
    metrics.commands.labels(kind, outcome_of(status)).inc()


def install_metrics(api: FastAPI, metrics: Metrics) -> None:
    """The operators' endpoints (the API counts its commands in its one pass of guards,
    eoc/http/guards.py)."""

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
