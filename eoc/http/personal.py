"""Unsealing personal details (گشودن مشخصات): a caller's or a client's sealed details, read
by the roles the policy allows, each read written to the access log.

The events hold a person's details only sealed with the person's own key (events/sealing.py,
eoc/app/keyring.py). ``GET /api/v1/calls/{call}/caller`` opens the caller's details of a call and
``GET /api/v1/centres/{centre}/clients/{client}`` a client's, for the roles of
events/policy.py with ``personal_data`` in their own province (a centre's account bound to a
centre: that centre's clients only); a call or centre takes its short reference (``QZV-0142``)
as well as its id. Every answer that opens details is one access-log entry (who, role,
subject, when, channel ``api``); a refusal is the standard error shape and carries no
personal text. An erased person (``eoc erase``) answers ``erased`` and no details.
"""


from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import Field

from eoc.app.auth import Claims
from eoc.domain.call import Call
from eoc.domain.centre import Centre
from eoc.domain.errors import Forbidden, NotFound
from eoc.http.answers import ANSWER_AS_GIVEN, Answer
from events.policy import POLICY, may_see_calls
from events.sealing import Unreadable, unseal


class PersonalDetails(Answer):
    subject: str = Field(description="the person's pseudonymous id")
    details: dict[str, Any] | None = Field(description="the unsealed details (none: erased or never given)")
    erased: bool | None = Field(None, description="given with no details: true when the person was erased")


def may_open_personal(claims: Claims) -> None:
    rule = POLICY.get(claims.role)
    if rule is None or not rule.personal_data or rule.national:
        raise Forbidden(f"a {claims.role} may not open personal details", role=str(claims.role))


def _events(system: Any, aggregate_id: UUID) -> Iterator[Any]:
    yield from system.app.repository.event_store.get(aggregate_id)


def _open(system: Any, subject: str, sealed: str | None) -> dict[str, Any] | None:
    if not sealed:
        return None
    key = system.keyring.get(subject)
    if key is None:
        return None
    try:
        return unseal(key, sealed)
    except Unreadable:
        return None


def personal_router(system: Any, who: Callable[..., Awaitable[Claims]]) -> APIRouter:
    r = APIRouter(prefix="/api/v1", tags=["personal details"])
    Who = Annotated[Claims, Depends(who)]
    svc = system.service

    def answer(claims: Claims, subject: str, sealed: str | None, what: str, **where: str) -> dict[str, Any]:
        details = _open(system, subject, sealed)
        if system.access_log is not None:
            system.access_log.record(user=claims.sub, role=str(claims.role), province=claims.province,
                                     action="read_personal", channel="api", subject=subject, what=what,
                                     opened=details is not None, **where)
        out: dict[str, Any] = {"subject": subject, "details": details}
        if details is None:
            out["erased"] = bool(sealed)  # sealed once, its key gone: erased (else nothing was given)
        return out

    @r.get("/calls/{call_id}/caller", response_model=PersonalDetails, **ANSWER_AS_GIVEN)
    def caller_details(call_id: UUID, claims: Who) -> dict[str, Any]:
        """The caller's details of this call (call-takers, centre staff, the supervisor)."""
        may_open_personal(claims)
        if not may_see_calls(claims.role):
            raise Forbidden(f"a {claims.role} does not see calls", role=str(claims.role))
        call = svc._get(Call, call_id, "call", claims.province)
        for e in _events(system, call.id):
            if e.type == "CallReceived":
                return answer(claims, e.payload["caller"], e.payload.get("caller_sealed"), "caller",
                              call=str(call.id))
        raise NotFound(f"no call with id {call_id}", id=str(call_id))

    @r.get("/centres/{centre_id}/clients/{client_id}", response_model=PersonalDetails, **ANSWER_AS_GIVEN)
    def client_details(centre_id: UUID, client_id: str, claims: Who) -> dict[str, Any]:
        """A client's details, at the centre where the client stays or stayed (centre staff of
        that centre, the supervisor)."""
        may_open_personal(claims)
        centre = svc._get(Centre, centre_id, "centre", claims.province)
        if claims.centre and claims.centre != str(centre.id):
            raise Forbidden("a centre's account opens its own clients' details only", centre=claims.centre)
        seen: set[UUID] = set()
        place: UUID | None = centre.id
        while place is not None and place not in seen:  # a transfer: sealed where first admitted
            seen.add(place)
            nxt = None
            for e in _events(system, place):
                p = e.payload
                if p.get("client") != client_id:
                    continue
                if e.type == "ClientAdmitted":
                    return answer(claims, client_id, p.get("client_sealed"), "client", centre=str(centre.id))
                if e.type == "ClientTransferredIn":
                    nxt = UUID(str(p["from_centre_id"]))
            place = nxt
        raise NotFound(f"no client {client_id} at this centre", client=client_id)

    return r
