"""A province's roster (برنامه نوبت‌کاری): which shifts run in which county, with how many teams.

Qazvin, for example: morning and evening shifts in every county, a night shift only in the
provincial capital. The supervisor sets each county's pattern (``*``: every county without a
pattern of its own); a shift started where the roster does not run it is refused, so the
board's planned-versus-actual figures mean something. A province with no roster yet refuses
nothing: rosters are adopted province by province.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eoc.domain.base import Context, EOCAggregate, Recorded
from eoc.domain.errors import OutsideRoster
from events import catalogue as ev

EVERY_COUNTY = "*"


def roster_id(province: str) -> UUID:
    """One roster per province, found by its province alone."""
    return uuid5(NAMESPACE_URL, f"eoc:roster:{province}")


class Roster(EOCAggregate):
    patterns: dict[str, dict[str, int]]  # county (or "*") -> shift -> planned teams

    def __init__(self) -> None:  # state comes only from events
        pass

    @classmethod
    def create(cls, payload: ev.RosterSet, ctx: Context, province: str) -> Roster:
        return cls.start(payload, ctx, province, payload.county, id=roster_id(province))

    def set(self, payload: ev.RosterSet, ctx: Context) -> None:
        self.record(payload, ctx)

    def pattern(self, county: str) -> dict[str, int] | None:
        return self.patterns.get(county, self.patterns.get(EVERY_COUNTY))

    def must_run(self, county: str, shift: str) -> None:
        pattern = self.pattern(county)
        if pattern is None or pattern.get(shift, 0) > 0:
            return
        running = [s for s, n in pattern.items() if n > 0]
        raise OutsideRoster(
            f"the roster of {self.province} runs no {shift} shift in {county} "
            f"(there: {', '.join(running) or 'no shift'}); the provincial supervisor sets the roster",
            county=county, shift=shift, roster=pattern)

    # --- state changes

    def when_RosterSet(self, p: dict[str, Any], e: Recorded) -> None:
        if not hasattr(self, "patterns"):
            self.place(e)
            self.patterns = {}
        self.patterns = {**self.patterns, p["county"]: dict(p["shifts"])}
