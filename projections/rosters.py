"""Rosters (برنامه نوبت‌کاری): planned teams per shift and county, beside the teams actually on
shift. The planned side is folded from ``RosterSet``; the actual side is read from the team
board at the moment asked (``planned_vs_actual``), so a replay to a moment shows both then."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict  # pydantic reads typing.TypedDict only from Python 3.12

from events.envelope import Envelope
from projections.board import Board
from projections.rows import RosterRow, TeamRow

EVERY_COUNTY = "*"


@with_config(ConfigDict(extra="forbid"))
class RosterLine(TypedDict):
    """A shift of a county: teams planned (None: no pattern) and on shift now, and the gap."""

    province: str
    county: str
    shift: str
    planned: int | None
    actual: int
    gap: int | None


def apply_roster(board: Board, ns: str, e: Envelope) -> None:
    p = e.payload
    board.put(f"{ns}roster/{e.province}/{p['county']}", {
        "province": e.province, "county": p["county"], "shifts": dict(p["shifts"]), "since": e.occurred_at})


def planned_vs_actual(rosters: Sequence[RosterRow], teams: Sequence[TeamRow]) -> list[RosterLine]:
    """One row per province, county and shift that is planned or staffed: planned teams (from
    the county's pattern, or the province's ``*`` pattern) and teams on that shift now."""
    patterns = {(r["province"], r["county"]): r["shifts"] for r in rosters}
    on_shift: Counter[tuple[str, str, str]] = Counter()
    for t in teams:
        shift = t["shift"]
        if shift and t["status"] != "off_duty":
            on_shift[(t["province"], t["county"], shift)] += 1
    counties = {(t["province"], t["county"]) for t in teams} | {k for k in patterns if k[1] != EVERY_COUNTY}
    out = []
    for province, county in sorted(counties):
        pattern = patterns.get((province, county), patterns.get((province, EVERY_COUNTY)))
        if pattern is None and not any(k[:2] == (province, county) for k in on_shift):
            continue
        shifts = set(pattern or {}) | {k[2] for k in on_shift if k[:2] == (province, county)}
        for shift in sorted(shifts):
            planned = (pattern or {}).get(shift, 0) if pattern is not None else None
            actual = on_shift.get((province, county, shift), 0)
            out.append(RosterLine(province=province, county=county, shift=shift, planned=planned,
                                  actual=actual, gap=None if planned is None else actual - planned))
    return out
