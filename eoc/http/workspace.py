"""The workspaces' part of the command API: their commands, their queries (the intake
look-up, the team recommendation, call-backs due) and short references in paths.

Short references (``QZV-0142``) are accepted wherever a path takes an id: the
``ShortReferences`` guard puts the thing's id in their place before routing, for a token
of the reference's province only (another province's reference is answered like an unknown
one: it never tells an id).
"""


import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, FastAPI, Query
from pydantic import Field
from starlette.types import Scope, Send

from eoc.app import workspace_commands as w
from eoc.app.auth import Claims
from eoc.domain.errors import Forbidden, NotFound
from eoc.http.answers import ANSWER_AS_GIVEN, Answer
from eoc.http.routes import WORKSPACE
from eoc.http.routes import mount as mount_commands
from events.envelope import iso
from events.policy import may_see_calls, policy
from events.reference import counties_of
from events.vocabulary import vocabulary as service_words
from projections.recommend import recommend
from projections.visibility import visible_rows
from projections.workspace_views import active_danger_flags, follow_ups, open_at_address

REF = re.compile(r"^(?P<province>[A-Z]{3})-X?[A-Z]?[0-9]{4,}$")
PATH = re.compile(r"^(/api/v1/(?:calls|incidents|teams|centres|danger-flags|follow-ups)/)([^/]+)(.*)$")
KIND_OF_PATH = {"calls": "call", "incidents": "incident", "teams": "team", "centres": "centre"}


class IntakeFound(Answer):
    caller_id: str | None = Field(description="the caller's id, when the number is known")
    calls: list[dict[str, Any]]
    open_incidents: list[dict[str, Any]]
    at_address: list[dict[str, Any]]
    danger: list[dict[str, Any]]
    totals: dict[str, int] = Field(description="how many of each list there are before ``limit``")


class Recommendation(Answer):
    incident_id: str
    open: bool
    needs: list[str]
    teams: list[dict[str, Any]]
    danger: list[dict[str, Any]]
    estimate: dict[str, Any] | None = Field(None, description="how distances become times (an open incident)")


class FollowUpsDue(Answer):
    at: str
    total: int
    offset: int
    limit: int
    follow_ups: list[dict[str, Any]]


class Workspace(Answer):
    user: str
    role: str
    province: str
    team: str | None
    centre: str | None
    now: str
    commands: list[str]
    manages: str | None


class Vocabulary(Answer):
    words: dict[str, list[str]]
    counties: list[list[str]] | None = Field(None, description="the province's counties, [name, Persian name]")


class Reference(Answer):
    ref: str
    kind: str
    id: str


def resolve_ref(rows: dict[str, Any], kind: str, ref: str) -> str | None:
    """The id of the thing of this kind with this short reference on these boards."""
    prefix = f"drill/{kind}/" if "-X" in ref else f"{kind}/"
    for key, row in rows.items():
        if key.startswith(prefix) and isinstance(row, dict) and row.get("ref") == ref:
            return row["id"]
    if kind == "call":  # a handled call is out of the open list: its caller's history has it
        for key, row in rows.items():
            if key.startswith("caller/") or key.startswith("drill/caller/"):
                for c in row["calls"]:
                    if c.get("ref") == ref:
                        return c["call_id"]
    return None


class ShortReferences:
    """``/api/v1/incidents/QZV-0142/close`` -> ``/api/v1/incidents/<id>/close``, before routing
    (in the API's one pass of guards, eoc/http/guards.py)."""

    def __init__(self, system: Any, verify: Callable[[str], Awaitable[Claims]]) -> None:
        self.system = system
        self.verify = verify  # the API's token check (eoc/http/api.py): never blocks the loop

    async def rewrite(self, scope: Scope, send: Send) -> Scope | None:
        """The HTTP request's scope with the reference in its path replaced by the id, or None
        when it was answered 404 (a reference unknown, or of another province)."""
        m = PATH.match(scope["path"])
        if m and REF.match(m.group(2)):
            resolved = await self._resolve(scope, m.group(1), m.group(2))
            if resolved is None:
                body = json.dumps({"error": "not_found", "reason": f"no such reference {m.group(2)}",
                                   "ref": m.group(2)}).encode()
                await send({"type": "http.response.start", "status": 404,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return None
            path = m.group(1) + resolved + m.group(3)
            scope = {**scope, "path": path, "raw_path": path.encode()}
        return scope

    async def _resolve(self, scope: Scope, base: str, ref: str) -> str | None:
        kind = KIND_OF_PATH.get(base.split("/")[3])
        token = dict(scope.get("headers") or []).get(b"authorization", b"").decode()
        if kind is None or not token.lower().startswith("bearer "):
            return None
        try:
            claims = await self.verify(token[7:].strip())
        except Exception:  # noqa: BLE001  (the route refuses the token itself, in the one shape)
            return ref
        if claims.province != REF.match(ref).group("province"):  # type: ignore[union-attr]
            return None
        _, rows = self.system.follower.snapshot()
        return resolve_ref(rows, kind, ref)


def workspace_router(system: Any, who: Callable[..., Awaitable[Claims]]) -> APIRouter:

    from fastapi import Depends

    Who = Annotated[Claims, Depends(who)]
    r = APIRouter(prefix="/api/v1")
    svc = system.service

    # ---------------------------------------------------------------- queries

    def rows_for(claims: Claims) -> dict[str, Any]:
        _, rows = system.follower.snapshot()
        return visible_rows(rows, str(claims.role), claims.province, system.unseal_place)

    def now() -> str:
        return iso(system.service.clock() if hasattr(system.service, "clock") else datetime.now(UTC))

    @r.post("/intake/lookup", tags=["line 123"], response_model=IntakeFound)
    def intake_lookup(cmd: w.IntakeLookup, who: Who) -> dict[str, Any]:
        """While the intake form is filled: the caller's earlier calls and incidents (by the
        keyed hash of the number; nothing is stored), open incidents at the same address and
        the danger flags there. A query: POST keeps the number out of addresses and logs."""
        if not may_see_calls(who.role) or who.province == "IR":
            raise Forbidden(f"a {who.role} does not take calls", role=str(who.role))
        rows = rows_for(who)
        out: dict[str, Any] = {"caller_id": None, "calls": [], "open_incidents": [], "at_address": [],
                               "danger": []}
        at = now()
        if cmd.phone and svc.callers is not None:
            subject = svc.callers.match(cmd.phone)
            if subject is not None:
                out["caller_id"] = subject
                history = rows.get(f"caller/{subject}") or {"calls": []}
                open_calls = [r for k, r in rows.items() if k.startswith("call/") and r["caller"] == subject]
                out["calls"] = [{**{k: r.get(k) for k in ("ref", "received_at", "category", "priority", "county")},
                                 "call_id": r["id"], "outcome": r["status"], "incident_id": None}
                                for r in open_calls] + history["calls"]
                incidents = {c["incident_id"] for c in out["calls"] if c.get("incident_id")}
                out["open_incidents"] = [rows[f"incident/{i}"] for i in incidents if f"incident/{i}" in rows]
                out["danger"] += active_danger_flags(rows, at, person=subject, province=who.province)
        if cmd.location is not None:
            loc = cmd.location.model_dump()
            out["at_address"] = open_at_address(rows, loc, who.province)
            seen = {f["id"] for f in out["danger"]}
            out["danger"] += [f for f in active_danger_flags(rows, at, location=loc, province=who.province)
                              if f["id"] not in seen]
        # every list bounded: the newest calls, the nearest incidents, the newest flags first
        out["calls"].sort(key=lambda c: c.get("received_at") or "", reverse=True)
        out["danger"].sort(key=lambda f: f.get("recorded_at") or "", reverse=True)
        lists = ("calls", "open_incidents", "at_address", "danger")
        out["totals"] = {k: len(out[k]) for k in lists}
        for k in lists:
            out[k] = out[k][:cmd.limit]
        return out

    @r.get("/incidents/{incident_id}/recommendation", tags=["incidents"], response_model=Recommendation,
           **ANSWER_AS_GIVEN)
    def recommendation(incident_id: UUID, who: Who) -> dict[str, Any]:
        """Teams ranked for this incident (distance, availability, shift, skills, exclusions),
        each with its reasons; the danger flags in force there."""
        if who.role not in ("dispatcher", "provincial_supervisor"):
            raise Forbidden("only dispatchers and supervisors send teams", role=str(who.role))
        return recommend(rows_for(who), str(incident_id), now())

    @r.get("/follow-ups", tags=["call-backs"], response_model=FollowUpsDue)
    def due_follow_ups(who: Who, state: Literal["scheduled", "due", "overdue"] | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100,
                       offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        """Call-backs not yet made, each scheduled, due or overdue at this moment, soonest first;
        a page of ``limit`` from ``offset`` (``total``: how many there are), optionally of one state."""
        if not may_see_calls(who.role):
            raise Forbidden(f"a {who.role} makes no call-backs", role=str(who.role))
        at = now()
        listed = [f for f in follow_ups(rows_for(who), at, who.province) if state is None or f["state"] == state]
        return {"at": at, "total": len(listed), "offset": offset, "limit": limit,
                "follow_ups": listed[offset:offset + limit]}

    @r.get("/workspace/me", tags=["boards"], response_model=Workspace)
    def workspace_me(who: Who) -> dict[str, Any]:
        """Who is signed in, and so which workspace opens: role, province, bound team or centre."""

        rules = policy(who.role)  # what the page offers: only what the policy table lets this role do
        return {"user": who.sub, "role": str(who.role), "province": who.province, "team": who.team,
                "centre": who.centre, "now": now(), "commands": sorted(rules.commands), "manages": rules.manages}

    @r.get("/vocabulary", tags=["boards"], response_model=Vocabulary, **ANSWER_AS_GIVEN)
    def vocabulary(province: str | None = None) -> dict[str, Any]:
        """The service's words in Persian and English (one catalogue with the server's
        ``events/vocabulary.py``), and the counties of a province for the intake form."""

        out: dict[str, Any] = {"words": service_words()}
        if province:
            out["counties"] = [[c.name, c.name_fa] for c in counties_of(province)]
        return out

    @r.get("/refs/{ref}", tags=["boards"], response_model=Reference)
    def lookup_ref(ref: str, who: Who) -> dict[str, Any]:
        """The id and kind of a short reference (one of the token's province)."""
        m = REF.match(ref)
        rows = rows_for(who)
        if m and m.group("province") == who.province:
            for kind in ("incident", "call", "team", "centre"):
                found = resolve_ref(rows, kind, ref)
                if found:
                    return {"ref": ref, "kind": kind, "id": found}

        raise NotFound(f"no such reference {ref}", ref=ref)

    return r


def install_workspaces(api: FastAPI, system: Any, who: Callable[..., Awaitable[Claims]]) -> None:
    # The commands on the app itself (their lean routes, eoc.http.routes), then the queries.
    mount_commands(api, "/api/v1", WORKSPACE, system.service, who)
    api.include_router(workspace_router(system, who))  # short references: in eoc/http/guards.py
