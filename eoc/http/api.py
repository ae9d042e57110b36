"""The command API: HTTP + JSON, one endpoint per command, documented by OpenAPI (/docs).

Every answer to a refused command is ``{"error": <code>, "reason": <sentence>, ...}`` with a
4xx status: 400 malformed JSON, 401 no or bad token, 403 wrong role or province, 404 unknown
id, 405 wrong method, 409 a rule of the service (over capacity, illegal transition, team
busy), 413 body too large, 415 not JSON, 422 a field out of range (a position outside Iran,
an unknown category), 431 headers too large. Limits are checked before the body is read
(http_limits.py); the shape is the same for the framework's refusals (http_errors.py).
"""


from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute, serialize_response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from eoc.app.access_log import record_secret_reads
from eoc.app.auth import Authenticator, Claims
from eoc.app.idempotency import Committed, answer_committed
from eoc.app.system import System
from eoc.domain.errors import Refused, Unauthorized
from eoc.http.answers import Boards, BoardSummary, Health
from eoc.http.docs import mount_docs
from eoc.http.errors import STATUS, install, known_query_only
from eoc.http.exchange import exchange_router
from eoc.http.guards import Guards
from eoc.http.identity import identity_router
from eoc.http.metrics import install_metrics
from eoc.http.personal import personal_router
from eoc.http.publish import publish_router
from eoc.http.reports import add_report_routes
from eoc.http.rosters import add_roster_routes
from eoc.http.routes import CORE, CommandRoute
from eoc.http.routes import mount as mount_commands
from eoc.http.workspace import install_workspaces
from events.envelope import iso
from projections import as_of, views
from projections.views import summary
from projections.visibility import visible_rows

_bearer = HTTPBearer(auto_error=False)


async def _answer_committed(request: Request) -> None:
    """A retried Idempotency-Key whose command was committed (its answer lost with a killed
    process) is answered from the committed outcome: the command is not run again.
    (The commands' lean routes run these two dependencies themselves: eoc/http/routes.py.)"""
    answer_committed(request.scope)


def create_api(system: System) -> FastAPI:
    api = FastAPI(
        title="Social emergency EOC — command API (اورژانس اجتماعی)",
        version="1.0",
        description=__doc__,
        dependencies=[Depends(known_query_only), Depends(_answer_committed)],
        docs_url=None,  # /docs is served offline by api_docs, not from a CDN
        redoc_url=None,
        # No OpenTelemetry here: off, FastAPI stops asking for its providers on every request
        # (about a twentieth of the process under the command mix, bench/route_cost.py).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    mount_docs(api)
    # One pass of guards (eoc/http/guards.py): short references, security headers, command
    # counts (what the limits refuse too), limits before anything is read, Idempotency-Key replays.
    # The token check of every request (the route's and the Idempotency-Key's): the directory's
    # look-up never blocks the loop, and is skipped when it already knows the token live.
    if isinstance(system.signer, Authenticator):
        verify = system.signer.verify_on_loop
    else:  # a bare signer (tests, tools): the signature is all there is, no I/O

        async def verify(token: str) -> Claims:
            return system.signer.verify(token)

    api.add_middleware(Guards, system=system, metrics=system.metrics, keys=lambda: system.idempotency,
                       verify=verify, fault_kill_before_answer=system.settings.fault_kill_before_answer)
    if system.metrics is not None:
        install_metrics(api, system.metrics)
    svc = system.service

    async def claims(request: Request,
                     creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Claims:
        where = request.client.host if request.client else "?"
        assert system.limits is not None  # the bootstrap sets them beside the directory
        try:
            if creds is None:
                raise Unauthorized("a bearer token is needed: sign in (/signin.html or /api/v1/auth/sign-in)")
            who = await verify(creds.credentials)
        except Unauthorized:
            system.limits.unauthenticated.take(where, "requests without a valid token from this address")
            raise
        if request.method != "GET":  # commands: per user and per address
            system.limits.commands_user.take(who.sub, "commands from this user")
            system.limits.commands_address.take(where, "commands from this address")
        request.state.claims = who
        return who

    Who = Annotated[Claims, Depends(claims)]

    def refused(request: Request, exc: Refused) -> None:
        who = getattr(request.state, "claims", None)
        if who is not None and exc.kind in ("forbidden", "unauthorized") and system.access_log is not None:
            # Refused commands are facts for auditors (the reason is the one the caller saw).
            system.access_log.record(user=who.sub, role=str(who.role), province=who.province, action="refused",
                                     channel="api", subject=request.url.path, error=exc.code, reason=exc.reason)

    # ---------------------------------------------------------------- commands (eoc.http.routes)

    mount_commands(api, "/api/v1", CORE, svc, claims)

    # ---------------------------------------------------------------- boards (read)

    def board_read(who: Claims, what: str, rows: dict[str, Any] | None = None) -> dict[str, Any]:
        if rows is None:
            _, rows = system.follower.snapshot()
        seen = visible_rows(rows, str(who.role), who.province, system.unseal_place)
        record_secret_reads(system.access_log, who.sub, str(who.role), who.province, "api", seen, what=what)
        return seen

    @api.get("/api/v1/boards", tags=["boards"], response_model=Boards)
    def boards(who: Who) -> dict[str, Any]:
        """Every board row this token may see, with the sequence number of the last delta."""
        sequence, rows = system.follower.snapshot()
        seen = board_read(who, "boards", rows)
        # As of the rows themselves (per province), never a position read apart from them.
        mark = as_of(seen)
        return {"sequence": sequence, "position": mark["position"], "as_of": mark, "rows": seen}

    @api.get("/api/v1/boards/summary", tags=["boards"], response_model=BoardSummary)
    def board_summary(who: Who, drill: bool = False) -> views.BoardSummary:
        """The boards as an operator reads them now: ages, rollups, alerts."""
        return summary(board_read(who, "summary"), iso(system.service.clock()), drill=drill)  # the system's clock (a demo's is simulated)

    api.include_router(identity_router(system, claims))
    api.include_router(personal_router(system, claims))  # unsealing a caller's or client's details
    install_workspaces(api, system, claims)  # workspace_api.py: its commands, queries, short references
    api.include_router(exchange_router(system, claims))
    api.include_router(publish_router(system, claims))

    add_report_routes(api, system, claims)
    add_roster_routes(api, system, claims)

    @api.get("/health", tags=["system"], response_model=Health)
    def health() -> dict[str, Any]:
        return {"status": "ok", "store": system.settings.store, "position": system.follower.position}

    install(api, on_refused=refused)

    @api.exception_handler(Committed)
    async def committed(request: Request, exc: Committed) -> Response:
        """A retry of a committed command: its answer rendered from the outcome as its route
        rendered it the first time (its answer model: the same fields, in the same order)."""
        route = request.scope.get("route")
        try:
            result = svc.answer_of(getattr(route, "name", ""), exc.outcome["result"])
        except Refused as refusal:
            return JSONResponse(refusal.to_dict(), status_code=STATUS[refusal.kind])
        status = getattr(route, "status_code", None) or 200
        if isinstance(route, CommandRoute):
            return Response(route.rendered(result), status_code=status, media_type="application/json")
        if isinstance(route, APIRoute) and route.response_field is not None:  # the framework's own serializer
            body = await serialize_response(
                field=route.response_field, response_content=result, include=route.response_model_include,
                exclude=route.response_model_exclude, by_alias=route.response_model_by_alias,
                exclude_unset=route.response_model_exclude_unset, exclude_defaults=route.response_model_exclude_defaults,
                exclude_none=route.response_model_exclude_none, dump_json=True)
            return Response(body, status_code=status, media_type="application/json")
        return JSONResponse(result, status_code=status)

    return api
