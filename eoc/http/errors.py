"""One shape for every refusal of the HTTP API, the framework's own included.

Every 4xx answers ``{"error": <code>, "reason": <sentence>, ...}``: the named refusals of the
service (eoc/domain/errors.py), the malformed or invalid bodies, and what the framework would
otherwise answer as ``{"detail": ...}`` — an unknown ``/api/`` path (404), a wrong method on a
command (405 with the command's own ``Allow``, not the static dashboard's), a body that is
not JSON (415) or too large (413, see http_limits.py), too many or too large headers (431).
OpenAPI documents this shape (``ErrorAnswer``) for every status a command can answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from eoc.app.idempotency import KEY_PATTERN
from eoc.domain.errors import Refused

log = logging.getLogger(__name__)

STATUS = {"invalid": 422, "unauthorized": 401, "forbidden": 403, "not_found": 404, "conflict": 409,
          "too_many": 429, "unavailable": 503}

# The framework's statuses, named in the project's words.
FRAMEWORK_CODES = {
    400: "malformed_json", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "body_too_large", 415: "unsupported_media_type",
    422: "invalid_command", 429: "too_many_requests", 431: "headers_too_large",
}


class ErrorAnswer(BaseModel):
    """A refused command or request: nothing was stored (except a declined admission)."""

    model_config = ConfigDict(extra="allow")
    error: str = Field(description="a stable code, e.g. over_capacity, wrong_province, invalid_command")
    reason: str = Field(description="what was wrong, in words an operator can act on")


def error(status: int, code: str, reason: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "reason": reason, **extra}, status_code=status, headers=headers)


# The statuses every command may answer, documented with the real schema.
COMMAND_REFUSALS: dict[int, str] = {
    status: text
    for status, text in {
        400: "malformed JSON",
        401: "no, malformed or expired token",
        403: "the token's role or province may not give this command (or read this)",
        404: "an unknown id (or one in another province)",
        409: "a rule of the service: over capacity, illegal transition, team busy, a reused "
             "Idempotency-Key with another body",
        413: "the body is over the size limit",
        415: "the body is not application/json",
        422: "a field is invalid: type, length, range, county, position outside Iran",
        429: "too many sign-ins, commands or requests without a valid token (Retry-After says when)",
        431: "too many or too large headers",
        503: "a dependency the command needs is down (a cluster's position reports while Kafka "
             "is down and its buffer is full; Retry-After says when to try again)",
    }.items()
}
READ_REFUSALS: dict[int, str] = {s: COMMAND_REFUSALS[s] for s in (401, 403, 404, 422, 429, 431)}
ANY_REFUSALS: dict[int, str] = {s: COMMAND_REFUSALS[s] for s in (422, 431)}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "a retry with the same key returns the first answer and stores nothing new "
                   "(per user, kept 24 hours; another command with the same key is refused with 409)",
    "schema": {"type": "string", "minLength": 8, "maxLength": 128, "pattern": KEY_PATTERN},
}


def _document(api: FastAPI) -> None:
    """OpenAPI names every refusal an operation can answer, with ``ErrorAnswer`` as its schema."""

    def openapi() -> dict[str, Any]:
        if api.openapi_schema:
            return api.openapi_schema
        schema = get_openapi(title=api.title, version=api.version, description=api.description,
                             routes=api.routes)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorAnswer"] = ErrorAnswer.model_json_schema()
        ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorAnswer"}}}
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                statuses = (COMMAND_REFUSALS if method != "get" and path.startswith("/api/")
                            else READ_REFUSALS if path.startswith("/api/") else ANY_REFUSALS)
                operation["responses"].pop("422", None)  # the framework's shape, never answered
                if method == "post" and path.startswith("/api/"):
                    operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
                for status, text in statuses.items():
                    operation["responses"][str(status)] = {"description": text, "content": ref}
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        api.openapi_schema = schema
        return schema

    api.openapi = openapi  # type: ignore[method-assign]


async def known_query_only(request: Request) -> None:
    """A query parameter the operation does not declare is refused, not silently ignored."""
    if not request.scope.get("query_string"):  # most requests: no query to parse (QueryParams costs)
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    declared = {p.alias for p in dependant.query_params}
    for d in dependant.dependencies:
        declared |= {p.alias for p in d.query_params}
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        raise RequestValidationError([{"loc": ("query", unknown[0][:40]), "msg": "unknown query parameter",
                                       "type": "extra_forbidden"}])


def install(api: FastAPI, on_refused: Callable[[Request, Refused], None] | None = None) -> None:
    """Answer every refusal in the project's shape; call after the routes are declared.

    ``on_refused`` sees each named refusal first (the access log records refused commands)."""
    _document(api)

    @api.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        if on_refused is not None:
            on_refused(request, exc)
        headers = ({"Retry-After": str(int(cast(float, exc.details.get("retry_after", 1))) + 1)}
                   if exc.kind in ("too_many", "unavailable") else None)
        return JSONResponse(exc.to_dict(), status_code=STATUS[exc.kind], headers=headers)

    @api.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error(400, "malformed_json", "the body is not valid JSON")
        problems = []
        for e in errors[:20]:
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            problems.append(f"{where or 'body'}: {e.get('msg')}"[:300])
        return error(422, "invalid_command", "; ".join(problems), fields=problems)

    @api.exception_handler(StarletteHTTPException)
    async def framework(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        code = FRAMEWORK_CODES.get(status, "refused" if status < 500 else "internal_error")
        reason = {400: "the body could not be read as JSON", 404: "no such path",
                  405: "this path does not take this method"}.get(status, str(exc.detail))
        return error(status, code, reason, headers=getattr(exc, "headers", None))

    @api.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug must not leak a trace (or personal data in it) to the client.
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error(500, "internal_error", "the service failed; the command may not have been stored")

    _answer_wrong_methods(api)

    async def unknown_path(request: Request) -> JSONResponse:
        return error(404, "not_found", f"no such path: {request.url.path[:200]}")

    # Before the dashboard's static mount at "/": an unknown /api/ path is the API's 404.
    api.router.routes.append(Route("/api/{rest:path}", unknown_path,
                                   methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                                   include_in_schema=False))


def _answer_wrong_methods(api: FastAPI) -> None:
    """A command path asked with another method answers 405 with its own Allow header."""
    allowed: dict[str, set[str]] = {}
    for route in api.router.routes:
        if isinstance(route, Route) and route.path.startswith("/api/") and route.methods:
            allowed.setdefault(route.path, set()).update(route.methods)
    # Routes of included routers sit behind the framework's own wrappers: their paths and
    # methods are read from the schema, which names every one of them.
    for path, operations in api.openapi().get("paths", {}).items():
        if path.startswith("/api/"):
            methods = {m.upper() for m in operations}
            allowed.setdefault(path, set()).update(methods | ({"HEAD"} if "GET" in methods else set()))
    every = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
    for path, methods in allowed.items():
        allow = ", ".join(sorted(methods))

        async def wrong_method(request: Request, allow: str = allow) -> JSONResponse:
            return error(405, "method_not_allowed", f"{request.url.path[:200]} takes {allow}",
                         headers={"Allow": allow})

        api.router.routes.append(Route(path, wrong_method, methods=sorted(every - methods),
                                       include_in_schema=False))
