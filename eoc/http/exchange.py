"""The exchange over HTTP: the outbound feed for partner organizations and inbound referrals.

GET  /api/v1/exchange/incidents        open incidents as NENA EIDO JSON
GET  /api/v1/exchange/availability     centres' places as OASIS EDXL-HAVE 1.0 XML
GET  /api/v1/exchange/alerts           alerts as OASIS CAP 1.2 XML, one message each (JSON index)
GET  /api/v1/exchange/alerts/{id}      one CAP message
POST /api/v1/exchange/referrals        an EIDO from a partner: opens an incident (route from the agency)

Readers: ``partner``, ``provincial_supervisor``, ``national_eoc`` — each sees what the
visibility policy gives their role and province, and no secret place ever leaves.
"""


from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import Response
from pydantic import Field

from eoc.app.auth import Claims, authorize
from eoc.domain.errors import Forbidden, NotFound
from eoc.exchange import cap, eido, have
from eoc.exchange.policy import FEED_READERS, exportable_rows
from eoc.http.answers import Answer, ReferralOpened
from events.envelope import iso

REFERRERS = frozenset({"partner", "provincial_supervisor"})


class EidoFeed(Answer):
    eido: list[dict[str, Any]] = Field(description="one NENA EIDO message per open incident")


class CapAlert(Answer):
    id: str = Field(description="the CAP identifier (GET /api/v1/exchange/alerts/{id})")
    key: str
    kind: str
    cap: str = Field(description="the CAP 1.2 message, XML text")


class CapAlerts(Answer):
    alerts: list[CapAlert]


def _xml(media_type: str, what: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": what, "content": {media_type: {"schema": {"type": "string"}}}}}


def exchange_router(system: Any, claims: Callable[..., Awaitable[Claims]]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/exchange", tags=["exchange"])
    Who = Annotated[Claims, Depends(claims)]

    def rows_for(who: Claims, feed: str | None = None) -> dict[str, Any]:
        if str(who.role) not in FEED_READERS:
            raise Forbidden(f"a {who.role} may not read the exchange feed", allowed=sorted(FEED_READERS))
        _, rows = system.follower.snapshot()
        out = exportable_rows(rows, str(who.role), who.province)
        if feed is not None and getattr(system, "access_log", None) is not None:
            # Every export leaves a trace for the auditors: who took which feed, how many rows.
            system.access_log.record(user=who.sub, role=str(who.role), province=who.province, action="export",
                                     channel="export", subject=f"exchange/{feed}", rows=len(out))
        return out

    def now() -> str:
        return iso(datetime.now(UTC))

    @router.get("/incidents", response_model=EidoFeed)
    def incidents(who: Who) -> dict[str, Any]:
        """Open incidents as NENA EIDO JSON messages."""
        return {"eido": eido.feed(rows_for(who, "incidents"), now())}

    @router.get("/availability", response_class=Response,
                responses=_xml("application/xml", "an EDXL-HAVE 1.0 HospitalStatus document"))
    def availability(who: Who) -> Response:
        """Centres' free places as one EDXL-HAVE HospitalStatus document."""
        return Response(have.have_status(rows_for(who, "availability"), now()), media_type="application/xml")

    @router.get("/alerts", response_model=CapAlerts)
    def alerts(who: Who) -> dict[str, Any]:
        """Every current alert as a CAP 1.2 message."""
        sent = now()
        return {"alerts": [{"id": cap.identifier(k, r), "key": k, "kind": r["kind"],
                            "cap": cap.cap_alert(k, r, sent).decode()}
                           for k, r in cap.alert_rows(rows_for(who, "alerts")).items()]}

    @router.get("/alerts/{identifier}", response_class=Response,
                responses=_xml("application/cap+xml", "one CAP 1.2 alert message"))
    def one_alert(identifier: str, who: Who) -> Response:
        for k, r in cap.alert_rows(rows_for(who, "alert")).items():
            if cap.identifier(k, r) == identifier:
                return Response(cap.cap_alert(k, r, now()), media_type="application/cap+xml")
        raise NotFound(f"no current alert {identifier}", identifier=identifier)

    @router.post("/referrals", status_code=201, response_model=ReferralOpened)
    def referral(who: Who, doc: Annotated[Any, Body()], province: str | None = None,
                 county: str | None = None) -> dict[str, Any]:
        """An inbound EIDO referral from a partner becomes an incident (route: police, judiciary, other)."""
        target = province or who.province
        if str(who.role) not in REFERRERS:
            raise Forbidden(f"a {who.role} may not send a referral through the exchange", allowed=sorted(REFERRERS))
        authorize(who, "open_incident", target)  # who may refer, before reading what they sent
        cmd = eido.referral_command(doc, target, county)
        return system.service.open_incident(cmd, who, answer={"route": str(cmd.route), "category": str(cmd.category)})

    return router
