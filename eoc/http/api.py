"""The command API: HTTP + JSON, one endpoint per command, documented by OpenAPI (/docs).

Every answer to a refused command is ``{"error": <code>, "reason": <sentence>, ...}`` with a
4xx status: 400 malformed JSON, 401 no or bad token, 403 wrong role or province, 404 unknown
id, 405 wrong method, 409 a rule of the service (over capacity, illegal transition, team
busy), 413 body too large, 415 not JSON, 422 a field out of range (a position outside Iran,
an unknown category), 431 headers too large. Limits are checked before the body is read
(http_limits.py); the shape is the same for the framework's refusals (http_errors.py).
"""


from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from eoc.app import commands as c
from eoc.app.access_log import record_secret_reads
from eoc.app.auth import Claims
from eoc.app.idempotency import Committed, Idempotent, answer_committed
from eoc.app.system import System
from eoc.domain.errors import Refused, Unauthorized
from eoc.http.docs import mount_docs
from eoc.http.errors import STATUS, install, known_query_only
from eoc.http.exchange import exchange_router
from eoc.http.identity import identity_router
from eoc.http.limits import Limits
from eoc.http.metrics import install_metrics
from eoc.http.personal import personal_router
from eoc.http.publish import publish_router
from eoc.http.reports import add_report_routes
from eoc.http.rosters import add_roster_routes
from eoc.http.transport import install_transport_guards
from eoc.http.workspace import install_workspaces
from events.envelope import iso
from projections import as_of
from projections.views import summary
from projections.visibility import visible_rows

_bearer = HTTPBearer(auto_error=False)


def _answer_committed(request: Request) -> None:
    """A retried Idempotency-Key whose command was committed (its answer lost with a killed
    process) is answered from the committed outcome: the command is not run again."""
    answer_committed(request.scope)


def create_api(system: System) -> FastAPI:
    api = FastAPI(
        title="Social emergency EOC — command API (اورژانس اجتماعی)",
        version="1.0",
        description=__doc__,
        dependencies=[Depends(known_query_only), Depends(_answer_committed)],
        docs_url=None,  # /docs is served offline by api_docs, not from a CDN
        redoc_url=None,
    )
    mount_docs(api)
    # Added last, runs first: limits before anything is read, then Idempotency-Key replays.
    api.add_middleware(Idempotent, keys=lambda: system.idempotency, verify=system.signer.verify,
                       fault_kill_before_answer=system.settings.fault_kill_before_answer)
    api.add_middleware(Limits)
    if system.metrics is not None:  # added last of all: counts what the limits refuse too
        install_metrics(api, system.metrics)
    svc = system.service

    def claims(request: Request,
               creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Claims:
        where = request.client.host if request.client else "?"
        assert system.limits is not None  # the bootstrap sets them beside the directory
        try:
            if creds is None:
                raise Unauthorized("a bearer token is needed: sign in (/signin.html or /api/v1/auth/sign-in)")
            who = system.signer.verify(creds.credentials)
        except Unauthorized:
            system.limits.unauthenticated.take(where, "requests without a valid token from this address")
            raise
        if request.method != "GET":  # commands: per user and per address
            system.limits.commands_user.take(who.sub, "commands from this user")
            system.limits.commands_address.take(where, "commands from this address")
        request.state.claims = who
        return who

    Who = Annotated[Claims, Depends(claims)]

    install_transport_guards(api)

    def refused(request: Request, exc: Refused) -> None:
        who = getattr(request.state, "claims", None)
        if who is not None and exc.kind in ("forbidden", "unauthorized") and system.access_log is not None:
            # Refused commands are facts for auditors (the reason is the one the caller saw).
            system.access_log.record(user=who.sub, role=str(who.role), province=who.province, action="refused",
                                     channel="api", subject=request.url.path, error=exc.code, reason=exc.reason)

    # ---------------------------------------------------------------- calls (تماس)

    @api.post("/api/v1/calls", status_code=201, tags=["line 123"])
    def receive_call(cmd: c.ReceiveCall, who: Who) -> dict[str, Any]:
        return svc.receive_call(cmd, who)

    @api.post("/api/v1/calls/{call_id}/classify", tags=["line 123"])
    def classify_call(call_id: UUID, cmd: c.ClassifyCall, who: Who) -> dict[str, Any]:
        return svc.classify_call(call_id, cmd, who)

    @api.post("/api/v1/calls/{call_id}/counsel", tags=["line 123"])
    def counsel_call(call_id: UUID, cmd: c.CounselCall, who: Who) -> dict[str, Any]:
        return svc.counsel_call(call_id, cmd, who)

    @api.post("/api/v1/calls/{call_id}/refer", tags=["line 123"])
    def refer_call(call_id: UUID, cmd: c.ReferCall, who: Who) -> dict[str, Any]:
        return svc.refer_call(call_id, cmd, who)

    @api.post("/api/v1/calls/{call_id}/escalate", status_code=201, tags=["line 123"])
    def escalate_call(call_id: UUID, cmd: c.EscalateCall, who: Who) -> dict[str, Any]:
        return svc.escalate_call(call_id, cmd, who)

    # ---------------------------------------------------------------- incidents

    @api.post("/api/v1/incidents", status_code=201, tags=["incidents"])
    def open_incident(cmd: c.OpenIncident, who: Who) -> dict[str, Any]:
        return svc.open_incident(cmd, who)

    @api.post("/api/v1/incidents/{incident_id}/close", tags=["incidents"])
    def close_incident(incident_id: UUID, cmd: c.CloseIncident, who: Who) -> dict[str, Any]:
        return svc.close_incident(incident_id, cmd, who)

    # ---------------------------------------------------------------- teams (گروه سیار)

    @api.post("/api/v1/teams", status_code=201, tags=["teams"])
    def register_team(cmd: c.RegisterTeam, who: Who) -> dict[str, Any]:
        return svc.register_team(cmd, who)

    @api.post("/api/v1/teams/{team_id}/shift/start", tags=["teams"])
    def start_shift(team_id: UUID, cmd: c.StartShift, who: Who) -> dict[str, Any]:
        return svc.start_shift(team_id, cmd, who)

    @api.post("/api/v1/teams/{team_id}/shift/end", tags=["teams"])
    def end_shift(team_id: UUID, cmd: c.EndShift, who: Who) -> dict[str, Any]:
        return svc.end_shift(team_id, cmd, who)

    @api.post("/api/v1/teams/{team_id}/dispatch", tags=["teams"])
    def dispatch_team(team_id: UUID, cmd: c.DispatchTeam, who: Who) -> dict[str, Any]:
        return svc.dispatch_team(team_id, cmd, who)

    @api.post("/api/v1/teams/{team_id}/status", tags=["teams"])
    def change_team_status(team_id: UUID, cmd: c.ChangeTeamStatus, who: Who) -> dict[str, Any]:
        return svc.change_team_status(team_id, cmd, who)

    @api.post("/api/v1/teams/{team_id}/position", status_code=202, tags=["teams"])
    def report_position(team_id: UUID, cmd: c.ReportPosition, who: Who) -> dict[str, Any]:
        return svc.report_position(team_id, cmd, who)

    @api.post("/api/v1/teams/{team_id}/check-in", tags=["teams"])
    def check_in(team_id: UUID, cmd: c.CheckIn, who: Who) -> dict[str, Any]:
        return svc.check_in(team_id, cmd, who)

    @api.post("/api/v1/teams/{team_id}/check-in-missed", tags=["teams"])
    def record_missed_check_in(team_id: UUID, cmd: c.RecordMissedCheckIn, who: Who) -> dict[str, Any]:
        return svc.record_missed_check_in(team_id, cmd, who)

    # ---------------------------------------------------------------- centres and stays (مراکز)

    @api.post("/api/v1/centres", status_code=201, tags=["centres"])
    def register_centre(cmd: c.RegisterCentre, who: Who) -> dict[str, Any]:
        return svc.register_centre(cmd, who)

    @api.post("/api/v1/centres/{centre_id}/capacity", tags=["centres"])
    def change_capacity(centre_id: UUID, cmd: c.ChangeCapacity, who: Who) -> dict[str, Any]:
        return svc.change_capacity(centre_id, cmd, who)

    @api.post("/api/v1/centres/{centre_id}/close", tags=["centres"])
    def close_centre(centre_id: UUID, cmd: c.CloseCentre, who: Who) -> dict[str, Any]:
        return svc.close_centre(centre_id, cmd, who)

    @api.post("/api/v1/centres/{centre_id}/admissions", status_code=201, tags=["stays"])
    def admit_client(centre_id: UUID, cmd: c.AdmitClient, who: Who) -> dict[str, Any]:
        return svc.admit_client(centre_id, cmd, who)

    @api.post("/api/v1/centres/{centre_id}/holding", tags=["stays"])
    def start_holding(centre_id: UUID, cmd: c.StartHolding, who: Who) -> dict[str, Any]:
        return svc.start_holding(centre_id, cmd, who)

    @api.post("/api/v1/centres/{centre_id}/transfers", tags=["stays"])
    def transfer_client(centre_id: UUID, cmd: c.TransferClient, who: Who) -> dict[str, Any]:
        return svc.transfer_client(centre_id, cmd, who)

    @api.post("/api/v1/centres/{centre_id}/discharges", tags=["stays"])
    def discharge_client(centre_id: UUID, cmd: c.DischargeClient, who: Who) -> dict[str, Any]:
        return svc.discharge_client(centre_id, cmd, who)

    # ---------------------------------------------------------------- boards (read)

    def board_read(who: Claims, what: str, rows: dict[str, Any] | None = None) -> dict[str, Any]:
        if rows is None:
            _, rows = system.follower.snapshot()
        seen = visible_rows(rows, str(who.role), who.province, system.unseal_place)
        record_secret_reads(system.access_log, who.sub, str(who.role), who.province, "api", seen, what=what)
        return seen

    @api.get("/api/v1/boards", tags=["boards"])
    def boards(who: Who) -> dict[str, Any]:
        """Every board row this token may see, with the sequence number of the last delta."""
        sequence, rows = system.follower.snapshot()
        seen = board_read(who, "boards", rows)
        # As of the rows themselves (per province), never a position read apart from them.
        mark = as_of(seen)
        return {"sequence": sequence, "position": mark["position"], "as_of": mark, "rows": seen}

    @api.get("/api/v1/boards/summary", tags=["boards"])
    def board_summary(who: Who, drill: bool = False) -> dict[str, Any]:
        """The boards as an operator reads them now: ages, rollups, alerts."""
        return summary(board_read(who, "summary"), iso(system.service.clock()), drill=drill)  # the system's clock (a demo's is simulated)

    api.include_router(identity_router(system, claims))
    api.include_router(personal_router(system, claims))  # unsealing a caller's or client's details
    install_workspaces(api, system, claims)  # workspace_api.py: its commands, queries, short references
    api.include_router(exchange_router(system, claims))
    api.include_router(publish_router(system, claims))

    add_report_routes(api, system, claims)
    add_roster_routes(api, system, claims)

    @api.get("/health", tags=["system"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "store": system.settings.store, "position": system.follower.position}

    install(api, on_refused=refused)

    @api.exception_handler(Committed)
    async def committed(request: Request, exc: Committed) -> JSONResponse:
        route = request.scope.get("route")
        try:
            result = svc.answer_of(getattr(route, "name", ""), exc.outcome["result"])
        except Refused as refusal:
            return JSONResponse(refusal.to_dict(), status_code=STATUS[refusal.kind])
        return JSONResponse(result, status_code=getattr(route, "status_code", None) or 200)

    return api
