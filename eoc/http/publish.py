"""GET /api/v1/publish/report: the directors' figures for any period and place, as JSON or a file;
GET /api/v1/publish/prevention: calls and call-outs per county and week beside the social-service bases.

``from`` and ``to`` are local days (YYYY-MM-DD, Gregorian, as the boards name days);
``province`` (a national token may leave it out: the whole country) and ``county`` narrow
the place; ``format`` is json, csv, xlsx or pdf. Every answer is meant for publication:
small cells are suppressed. A provincial token reports only on its own province.
"""

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import Field

from eoc.app.auth import Claims
from eoc.audit.sources import StoreSource
from eoc.domain.errors import Forbidden, InvalidCommand, NotFound, WrongProvince
from eoc.http.answers import Answer
from eoc.publish import exports
from eoc.publish.figures import Span, directors_report
from eoc.publish.prevention import prevention_view
from events.places import PROVINCES
from projections.emerging import series_key

REPORT_READERS = frozenset({"national_eoc", "provincial_supervisor", "auditor"})
MAX_DAYS = 3 * 366
MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "pdf": "application/pdf"}


class Prevention(Answer):
    period: dict[str, Any]
    province: str
    counties: list[dict[str, Any]] = Field(description="per county: weeks of calls and call-outs beside its bases")


class HarmSeries(Answer):
    """One emerging-harm series as its board row holds it."""

    province: str
    category: str
    county: str
    days: list[int] = Field(description="recent daily counts, oldest first")
    week: int
    weeks: list[int] = Field(description="weekly counts, oldest first")
    open: int = Field(description="the count of the day still open")
    last_day: str | None
    dow: list[Any]
    model: dict[str, Any] | None
    verdict: dict[str, Any] | None


class DirectorsReport(Answer):
    """Every cell meant for publication: small counts suppressed."""

    period: dict[str, Any]
    place: dict[str, Any]
    published: bool
    small_cells: str | None
    totals: dict[str, Any]
    by_category: list[dict[str, Any]]
    by_county: list[dict[str, Any]]
    compare: dict[str, Any]
    unclassified: str


def _files() -> dict[int | str, dict[str, Any]]:
    return {200: {"description": "the report as JSON, or as a file with format=csv, xlsx or pdf",
                  "content": {media: {"schema": {"type": "string", "format": "binary"}}
                              for media in MEDIA.values()}}}


EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)  # the service's records: 1378 (1999) on


def _day(text: str, name: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidCommand(f"{name} must be a day as YYYY-MM-DD, not {text!r}", field=name) from None
    if not EARLIEST <= day <= LATEST:
        raise InvalidCommand(f"{name} must be between {EARLIEST} and {LATEST}", field=name)
    return day


def publish_router(system: Any, claims: Callable[..., Awaitable[Claims]]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/publish", tags=["reports"])
    Who = Annotated[Claims, Depends(claims)]

    def scope(who: Claims, first: str, last: str, province: str | None) -> tuple[Span, str | None]:
        if str(who.role) not in REPORT_READERS:
            raise Forbidden(f"a {who.role} may not read published reports", allowed=sorted(REPORT_READERS))
        start, end = _day(first, "from"), _day(last, "to")
        if end < start:
            raise InvalidCommand("the period ends before it starts", field="to")
        if (end - start).days >= MAX_DAYS:
            raise InvalidCommand(f"a report covers at most {MAX_DAYS} days", field="to")
        if who.province != "IR":
            if province not in (None, "", who.province):
                raise WrongProvince(f"this token is for province {who.province}", token_province=who.province,
                                    target_province=province)
            province = who.province
        if province and province != "IR" and province not in PROVINCES:
            raise InvalidCommand(f"unknown province {province!r}", field="province")
        return Span(start, end), province or None

    @router.get("/prevention", response_model=Prevention)
    def prevention(who: Who, first: Annotated[str, Query(alias="from")], last: Annotated[str, Query(alias="to")],
                   province: str | None = None) -> dict[str, Any]:
        """Per county and week: calls and mobile call-outs beside the social-service bases open there."""
        span, province = scope(who, first, last, province)
        return prevention_view(StoreSource(system.app).envelopes(), span, province=province)

    @router.get("/harm/{province}/{category}/{county}", response_model=HarmSeries)
    def harm_series(province: str, category: str, county: str, who: Who) -> dict[str, Any]:
        """The weekly and recent daily counts of one emerging-harm series, with its model and
        last verdict (the chart an emerging-harm alert links to). County ``*``: the province."""
        if str(who.role) not in REPORT_READERS | {"partner"}:
            raise Forbidden(f"a {who.role} may not read harm series", allowed=sorted(REPORT_READERS | {"partner"}))
        if who.province not in ("IR", province):
            raise WrongProvince(f"this token is for province {who.province}", token_province=who.province,
                                target_province=province)
        _, rows = system.follower.snapshot()
        row = rows.get(series_key(province, category, county))
        if row is None:
            raise NotFound(f"no series of {category} in {county}, {province}", province=province,
                           category=category, county=county)
        return row

    @router.get("/report", response_model=DirectorsReport, responses=_files())
    def report(who: Who, first: Annotated[str, Query(alias="from")], last: Annotated[str, Query(alias="to")],
               province: str | None = None, county: str | None = None, format: str = "json") -> Any:
        """The directors' figures: JSON (this schema), or a csv, xlsx or pdf file of the same."""
        if format not in ("json", *MEDIA):
            raise InvalidCommand(f"format must be json, csv, xlsx or pdf, not {format!r}", field="format")
        span, province = scope(who, first, last, province)
        start, end = span.first_day, span.last_day
        body = directors_report(StoreSource(system.app).envelopes(), span, province=province,
                                county=county or None)
        if format == "json":
            return body
        render = {"csv": exports.to_csv, "xlsx": exports.to_xlsx, "pdf": exports.to_pdf}[format]
        name = f"eoc-report-{province or 'IR'}-{start.isoformat()}-{end.isoformat()}.{format}"
        return Response(render(body), media_type=MEDIA[format],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return router
