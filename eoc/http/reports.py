"""Reports over HTTP (گزارش دوره‌ای): the directors' figures for any period, for the
provincial supervisors (their own province), the national EOC and auditors.

The answer is what ``eoc report --format json`` prints for the same period and province: the
same replay of the event store (audit/reports.py), the same check against the key-figures
board folded from it. Periods: ``period=1403-06`` (a Jalali month, season or year), or
``from`` and ``to`` (days, Jalali or ISO: ``from=1 Mehr 1403&to=10 Azar 1403``).
"""


from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query

from eoc.app.auth import Claims
from eoc.app.system import System
from eoc.audit.reports import (
    GROUPINGS,
    report_document,
    report_period,
    report_with_check,
)
from eoc.audit.sources import StoreSource
from eoc.domain.errors import Forbidden, InvalidCommand, WrongProvince
from eoc.http.answers import Report
from events.jalali import BadMoment
from events.vocabulary import NATIONAL, Role

REPORT_READERS = frozenset({Role.PROVINCIAL_SUPERVISOR, Role.NATIONAL_EOC, Role.AUDITOR})


def report_for(system: System, who: Claims, period: str | None, first: str | None, last: str | None,
               province: str | None) -> dict[str, Any]:
    if who.role not in REPORT_READERS:
        raise Forbidden("reports are read by provincial supervisors, the national EOC and auditors",
                        role=str(who.role))
    if who.province != NATIONAL:  # a provincial supervisor reads their own province
        if province not in (None, who.province):
            raise WrongProvince(f"your token is for {who.province}, not {province}", province=province)
        province = who.province
    try:
        span = report_period(period, first, last)
    except BadMoment as exc:
        raise InvalidCommand(str(exc)) from None
    source = StoreSource(system.app)
    report, check = report_with_check(source.envelopes(), span, source.describe(), province=province)
    log = getattr(system, "access_log", None)
    if log is not None:  # every export leaves a trace for the auditors
        log.record(user=who.sub, role=str(who.role), province=who.province, action="export",
                                 channel="export", subject="reports", period=period or "", report_province=province or "")
    return report_document(report, check)


def add_report_routes(api: FastAPI, system: System, claims: Callable[..., Awaitable[Claims]]) -> None:
    Who = Annotated[Claims, Depends(claims)]

    @api.get("/api/v1/reports", tags=["reports"], response_model=Report)
    def report(
        who: Who,
        period: Annotated[str | None, Query(
            max_length=80, description="1403-06 | Shahrivar 1403 | 1403-S2 | 1403 | 1403-07-01..1403-09-10")] = None,
        first: Annotated[str | None, Query(alias="from", max_length=40, description="first day, Jalali or ISO")] = None,
        last: Annotated[str | None, Query(alias="to", max_length=40, description="last day, Jalali or ISO")] = None,
        province: Annotated[str | None, Query(
            min_length=2, max_length=3, description="one province (default: the nation)")] = None,
    ) -> dict[str, Any]:
        """Calls, interventions and their share, dispatches, admissions, declined admissions,
        call-to-dispatch and dispatch-to-scene times — by nation, province, county and category
        (``by_*``), drills excluded, counted by when things happened."""
        return report_for(system, who, period, first, last, province)


__all__ = ["GROUPINGS", "REPORT_READERS", "add_report_routes"]
