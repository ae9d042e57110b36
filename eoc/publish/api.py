"""GET /api/v1/publish/report: the directors' figures for any period and place, as JSON or a file.

``from`` and ``to`` are local days (YYYY-MM-DD, Gregorian, as the boards name days);
``province`` (a national token may leave it out: the whole country) and ``county`` narrow
the place; ``format`` is json, csv, xlsx or pdf. Every answer is meant for publication:
small cells are suppressed. A provincial token reports only on its own province.
"""

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from consumers.audit_sources import StoreSource
from events.places import PROVINCES

from ..auth import Claims
from ..errors import Forbidden, InvalidCommand, WrongProvince
from . import exports
from .figures import Span, directors_report

REPORT_READERS = frozenset({"national_eoc", "provincial_supervisor", "auditor"})
MAX_DAYS = 3 * 366
MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "pdf": "application/pdf"}


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidCommand(f"{name} must be a day as YYYY-MM-DD, not {text!r}", field=name) from None


def publish_router(system: Any, claims: Callable[..., Claims]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/publish", tags=["reports"])
    Who = Annotated[Claims, Depends(claims)]

    @router.get("/report")
    def report(who: Who, first: Annotated[str, Query(alias="from")], last: Annotated[str, Query(alias="to")],
               province: str | None = None, county: str | None = None, format: str = "json") -> Any:
        if str(who.role) not in REPORT_READERS:
            raise Forbidden(f"a {who.role} may not read published reports", allowed=sorted(REPORT_READERS))
        if format not in ("json", *MEDIA):
            raise InvalidCommand(f"format must be json, csv, xlsx or pdf, not {format!r}", field="format")
        start, end = _day(first, "from"), _day(last, "to")
        if end < start:
            raise InvalidCommand("the period ends before it starts", field="to")
        if (end - start).days >= MAX_DAYS:
            raise InvalidCommand(f"a report covers at most {MAX_DAYS} days", field="to")
        if who.province != "IR":
            if province not in (None, who.province):
                raise WrongProvince(f"this token is for province {who.province}", token_province=who.province,
                                    target_province=province)
            province = who.province
        if province is not None and province != "IR" and province not in PROVINCES:
            raise InvalidCommand(f"unknown province {province!r}", field="province")
        body = directors_report(StoreSource(system.app).envelopes(), Span(start, end), province=province,
                                county=county or None)
        if format == "json":
            return body
        render = {"csv": exports.to_csv, "xlsx": exports.to_xlsx, "pdf": exports.to_pdf}[format]
        name = f"eoc-report-{province or 'IR'}-{start.isoformat()}-{end.isoformat()}.{format}"
        return Response(render(body), media_type=MEDIA[format],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return router
