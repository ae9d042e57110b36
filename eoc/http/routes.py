"""Every command's endpoint, in one table: its path, its body, its tag and its status.

A command's endpoint is always the same thing — the ids in its path, its body (the command's
model) and the caller (a verified token) handed to the service method of the command's name —
so the endpoints are made from this table, not written out one by one (one copy of each
concept). The table is also what the simulator and the docs could read a command's path from.

Each made endpoint has a real signature (path ids as UUIDs, the body, the caller), so FastAPI
documents it exactly as a hand-written one: the OpenAPI document is the same
(tests/integration/test_api_routes.py). It is served by a lean route (``CommandRoute``), not by
FastAPI's per-request dependency solving, which cost about a third of a command's CPU: the
route reads the body, validates it with the model's ``model_validate_json``, checks the caller
with the API's own dependency and runs the service's method on the event loop, awaiting the
group-commit writer (``eoc.app.writer.on_loop``). Each refusal is raised as the framework would
raise it, in the same order (malformed JSON, then an undeclared query parameter, a committed
Idempotency-Key, the token, then the ids and the body), so the API's handlers answer it in the
one error shape (eoc/http/errors.py).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, HTTPException
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from eoc.app import commands as c
from eoc.app import workspace_commands as w
from eoc.app.auth import Claims
from eoc.app.idempotency import answer_committed
from eoc.app.writer import on_loop
from eoc.http import answers as a
from eoc.http.errors import known_query_only

_IDS = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Route:
    command: str  # the service's method of this name runs it (and events.policy names it so)
    path: str  # under /api/v1; ``{…_id}`` are the ids the method takes first
    model: type[BaseModel]
    tag: str
    status: int = 200
    doc: str | None = None

    @property
    def ids(self) -> list[str]:
        return _IDS.findall(self.path)


# The command API's core: the line, incidents, teams, centres and stays.
CORE: tuple[Route, ...] = (
    # calls (تماس)
    Route("receive_call", "/calls", c.ReceiveCall, "line 123", 201),
    Route("take_call", "/calls/intake", c.TakeCall, "line 123", 201,
          doc="The intake in one request: the call received and classified, then escalated, counselled or "
              "referred; all of it stored in one transaction, or nothing."),
    Route("classify_call", "/calls/{call_id}/classify", c.ClassifyCall, "line 123"),
    Route("counsel_call", "/calls/{call_id}/counsel", c.CounselCall, "line 123"),
    Route("refer_call", "/calls/{call_id}/refer", c.ReferCall, "line 123"),
    Route("escalate_call", "/calls/{call_id}/escalate", c.EscalateCall, "line 123", 201),
    # incidents (حادثه)
    Route("open_incident", "/incidents", c.OpenIncident, "incidents", 201),
    Route("close_incident", "/incidents/{incident_id}/close", c.CloseIncident, "incidents"),
    # teams (گروه سیار)
    Route("register_team", "/teams", c.RegisterTeam, "teams", 201),
    Route("start_shift", "/teams/{team_id}/shift/start", c.StartShift, "teams"),
    Route("end_shift", "/teams/{team_id}/shift/end", c.EndShift, "teams"),
    Route("dispatch_team", "/teams/{team_id}/dispatch", c.DispatchTeam, "teams"),
    Route("change_team_status", "/teams/{team_id}/status", c.ChangeTeamStatus, "teams"),
    Route("report_position", "/teams/{team_id}/position", c.ReportPosition, "teams", 202),
    Route("report_positions", "/teams/positions", c.ReportPositions, "teams", 202,
          doc="A batch of position reports (a gateway's or a tablet connection's second of them, up to "
              f"{c.MAX_REPORTS:,}): each checked and thinned as a single report and answered in order; a "
              "report refused by a rule (an unknown team or another province's, another team than a team "
              "account's own, a report from the future) is answered with its error, and the others go on."),
    Route("check_in", "/teams/{team_id}/check-in", c.CheckIn, "teams"),
    Route("record_missed_check_in", "/teams/{team_id}/check-in-missed", c.RecordMissedCheckIn, "teams"),
    # centres and stays (مراکز، پذیرش)
    Route("register_centre", "/centres", c.RegisterCentre, "centres", 201),
    Route("change_capacity", "/centres/{centre_id}/capacity", c.ChangeCapacity, "centres"),
    Route("close_centre", "/centres/{centre_id}/close", c.CloseCentre, "centres"),
    Route("admit_client", "/centres/{centre_id}/admissions", c.AdmitClient, "stays", 201),
    Route("start_holding", "/centres/{centre_id}/holding", c.StartHolding, "stays"),
    Route("transfer_client", "/centres/{centre_id}/transfers", c.TransferClient, "stays"),
    Route("discharge_client", "/centres/{centre_id}/discharges", c.DischargeClient, "stays"),
)

# The workspaces' commands: duplicates, danger to staff, call-backs, duress, held places.
WORKSPACE: tuple[Route, ...] = (
    Route("link_call", "/calls/{call_id}/link", w.LinkCall, "line 123",
          doc="Link the call to an incident already open instead of opening a duplicate."),
    Route("record_team_conflict", "/incidents/{incident_id}/conflicts", w.RecordTeamConflict, "incidents"),
    Route("record_danger_flag", "/danger-flags", w.RecordDangerFlag, "danger to staff", 201),
    Route("review_danger_flag", "/danger-flags/{flag_id}/review", w.ReviewDangerFlag, "danger to staff"),
    Route("schedule_follow_up", "/follow-ups", w.ScheduleFollowUp, "call-backs", 201),
    Route("complete_follow_up", "/follow-ups/{follow_up_id}/done", w.CompleteFollowUp, "call-backs"),
    Route("raise_duress", "/teams/{team_id}/duress", w.RaiseDuress, "teams",
          doc="SOS: an immediate alarm at the province and the national EOC with the last position."),
    Route("clear_duress", "/teams/{team_id}/duress/clear", w.ClearDuress, "teams"),
    Route("hold_place", "/centres/{centre_id}/holds", w.HoldPlace, "stays", 201,
          doc="Hold a place for a client on the way; it frees itself when the time is up."),
    Route("release_place_hold", "/centres/{centre_id}/holds/{hold_id}/release", w.ReleasePlaceHold, "stays"),
)

ROUTES: tuple[Route, ...] = CORE + WORKSPACE

# What each command answers when it is stored (eoc.http.answers): the service's dict, key for key.
ANSWERS: dict[str, type[BaseModel]] = {
    "receive_call": a.CallReceived, "take_call": a.CallTaken, "classify_call": a.CallStored,
    "counsel_call": a.CallStored, "refer_call": a.CallStored, "escalate_call": a.CallEscalated,
    "open_incident": a.IncidentStored, "close_incident": a.IncidentStored,
    "register_team": a.TeamRegistered, "start_shift": a.TeamStored, "end_shift": a.TeamStored,
    "dispatch_team": a.TeamStored, "change_team_status": a.TeamStored, "report_position": a.PositionReported,
    "report_positions": a.PositionsReported,
    "check_in": a.TeamStored, "record_missed_check_in": a.TeamStored,
    "register_centre": a.CentreRegistered, "change_capacity": a.CentreStored, "close_centre": a.CentreStored,
    "admit_client": a.ClientAdmitted, "start_holding": a.HoldingStarted, "transfer_client": a.ClientTransferred,
    "discharge_client": a.ClientDischarged,
    "link_call": a.CallLinked, "record_team_conflict": a.IncidentStored,
    "record_danger_flag": a.DangerFlagStored, "review_danger_flag": a.DangerFlagStored,
    "schedule_follow_up": a.FollowUpsScheduled, "complete_follow_up": a.FollowUpDone,
    "raise_duress": a.TeamStored, "clear_duress": a.TeamStored,
    "hold_place": a.PlaceHeld, "release_place_hold": a.CentreStored,
}


def path_of(command: str, *ids: object) -> str:
    """The path of a command under /api/v1 with its ids filled in (``/teams/<id>/check-in``)."""
    route = next(r for r in ROUTES if r.command == command)
    names = route.ids
    if len(ids) != len(names):
        raise TypeError(f"{command} takes {len(names)} ids, not {len(ids)}")
    values = iter(ids)
    return _IDS.sub(lambda _: str(next(values)), route.path)


# The caller's dependency: ``(request, bearer credentials) -> Claims`` (eoc/http/api.py).
Caller = Callable[..., Awaitable[Claims]]
bearer = HTTPBearer(auto_error=False)
_UUID = TypeAdapter(UUID)
_NO_BODY = object()


@dataclass(frozen=True)
class Lean:
    """What a command's lean route needs: its row of the table, its handler, its caller check."""

    route: Route
    handler: Callable[..., dict[str, Any]]
    caller: Caller


def endpoint(route: Route, handler: Callable[..., dict[str, Any]],
             caller: Caller) -> Callable[..., Awaitable[dict[str, Any]]]:
    """The endpoint of one command: ``handler(*ids, cmd, who)`` with a signature FastAPI reads
    (for the OpenAPI document), and what its lean route serves it with (``lean``)."""
    names = route.ids

    async def run(**kw: Any) -> dict[str, Any]:
        return await on_loop(handler, *(kw[n] for n in names), kw["cmd"], kw["who"])

    param = inspect.Parameter
    run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [param(n, param.KEYWORD_ONLY, annotation=UUID) for n in names]
        + [param("cmd", param.KEYWORD_ONLY, annotation=route.model),
           param("who", param.KEYWORD_ONLY, annotation=Annotated[Claims, Depends(caller)])],
        return_annotation=dict[str, Any])
    run.__name__ = run.__qualname__ = route.command
    run.__doc__ = route.doc
    run.lean = Lean(route, handler, caller)  # type: ignore[attr-defined]
    return run


class CommandRoute(APIRoute):
    """A command's route: documented by FastAPI from its endpoint's signature, served lean."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kw: Any) -> None:
        super().__init__(path, endpoint, **kw)
        self.lean: Lean = endpoint.lean  # type: ignore[attr-defined]
        self.answer = ANSWERS[self.lean.route.command]
        self.app = self.serve

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        lean = self.lean
        route = lean.route
        request = Request(scope, receive)
        body = await _body(receive)
        cmd: BaseModel | None = None
        data: Any = _NO_BODY
        if body:
            try:
                cmd = route.model.model_validate_json(body)
            except ValidationError:
                data = _json(body)  # the framework's reading: its JSON errors, its values
        # The app's dependencies (eoc/http/api.py), in their order, then the caller's.
        await known_query_only(request)
        answer_committed(scope)
        who = await lean.caller(request, await bearer(request))
        params = scope.get("path_params", {})
        ids: list[UUID] = []
        errors: list[Any] = []
        for name in route.ids:
            try:
                ids.append(_UUID.validate_python(params[name]))
            except ValidationError as exc:
                errors += _located(exc, ("path", name))
        if cmd is None:
            if data is _NO_BODY:
                errors.append({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
            else:
                try:
                    cmd = route.model.model_validate(data, from_attributes=True)
                except ValidationError as exc:
                    errors += _located(exc, ("body",))
        if errors:
            raise RequestValidationError(errors, body=data if data is not _NO_BODY else None)
        result = await on_loop(lean.handler, *ids, cmd, who)
        try:
            answer = self.answer.model_validate(result, from_attributes=True)
        except ValidationError as exc:
            raise ResponseValidationError(_located(exc, ("response",)), body=result) from None
        await Response(_answer_json(answer), status_code=route.status, media_type="application/json")(scope, receive, send)

    def rendered(self, result: Any) -> bytes:
        """A committed command's answer from its result, as ``serve`` wrote it the first time (a
        retry with its Idempotency-Key gets the same bytes)."""
        return _answer_json(self.answer.model_validate(result, from_attributes=True))


def _answer_json(answer: BaseModel) -> bytes:
    return answer.model_dump_json(exclude_unset=True, by_alias=True).encode()


async def _body(receive: Receive) -> bytes:
    """The whole body, as the framework reads it (a disconnect before its end is a 400)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise HTTPException(status_code=400, detail="There was an error parsing the body")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
                                       "input": {}, "ctx": {"error": exc.msg}}], body=exc.doc) from exc
    except Exception as exc:
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


def _located(exc: ValidationError, where: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{**e, "loc": where + tuple(e.get("loc", ()))} for e in exc.errors(include_url=False)]


def mount(app: Any, prefix: str, routes: Iterable[Route], service: Any, caller: Caller) -> None:
    """Add each route's POST endpoint to ``app`` (a FastAPI app), served by a ``CommandRoute``."""
    for route in routes:
        app.router.add_api_route(
            prefix + route.path, endpoint(route, getattr(service, route.command), caller),
            methods=["POST"], status_code=route.status, tags=[route.tag], response_model=ANSWERS[route.command],
            route_class_override=CommandRoute, **a.ANSWER_AS_GIVEN)
