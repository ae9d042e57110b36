"""The command API: HTTP + JSON, one endpoint per command, documented by OpenAPI (/docs).

Every answer to a refused command is ``{"error": <code>, "reason": <sentence>, ...}`` with a
4xx status: 400 malformed JSON, 401 no or bad token, 403 wrong role or province, 404 unknown
id, 409 a rule of the service (over capacity, illegal transition, team busy), 422 a field out
of range (a position outside Iran, an unknown category).
"""


from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from events.envelope import iso
from projections.views import summary
from projections.visibility import visible_rows

from . import commands as c
from .auth import Claims
from .bootstrap import System
from .errors import Refused, Unauthorized
from .exchange.api import exchange_router
from .publish.api import publish_router

STATUS = {"invalid": 422, "unauthorized": 401, "forbidden": 403, "not_found": 404, "conflict": 409}

_bearer = HTTPBearer(auto_error=False)


def create_api(system: System) -> FastAPI:
    api = FastAPI(
        title="Social emergency EOC — command API (اورژانس اجتماعی)",
        version="1.0",
        description=__doc__,
    )
    svc = system.service

    def claims(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Claims:
        if creds is None:
            raise Unauthorized("a bearer token is needed (eoc token --role ... --province ...)")
        return system.signer.verify(creds.credentials)

    Who = Annotated[Claims, Depends(claims)]

    @api.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=STATUS[exc.kind])

    @api.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"error": "malformed_json", "reason": "the body is not valid JSON"}, 400)
        problems = []
        for e in errors:
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            problems.append(f"{where or 'body'}: {e.get('msg')}")
        return JSONResponse(
            {"error": "invalid_command", "reason": "; ".join(problems), "fields": problems}, 422
        )

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

    @api.get("/api/v1/boards", tags=["boards"])
    def boards(who: Who) -> dict[str, Any]:
        """Every board row this token may see, with the sequence number of the last delta."""
        sequence, rows = system.follower.snapshot()
        return {"sequence": sequence, "position": system.follower.position,
                "rows": visible_rows(rows, str(who.role), who.province, system.unseal_place)}

    @api.get("/api/v1/boards/summary", tags=["boards"])
    def board_summary(who: Who, drill: bool = False) -> dict[str, Any]:
        """The boards as an operator reads them now: ages, rollups, alerts."""
        _, rows = system.follower.snapshot()
        seen = visible_rows(rows, str(who.role), who.province, system.unseal_place)
        return summary(seen, iso(datetime.now(UTC)), drill=drill)

    api.include_router(exchange_router(system, claims))
    api.include_router(publish_router(system, claims))

    @api.get("/health", tags=["system"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "store": system.settings.store, "position": system.follower.position}

    return api
