"""Moments as the operators read them: Iran Standard Time (UTC+03:30, no daylight saving since 1401)."""

from __future__ import annotations

from datetime import datetime

from events.jalali import IRST

__all__ = ["IRST", "local", "local_day_hour", "seconds_between"]


def local(moment: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(IRST)


def local_day_hour(moment: str) -> tuple[str, str]:
    """The local day (YYYY-MM-DD) and hour (HH) a UTC moment falls in."""
    t = local(moment)
    return t.strftime("%Y-%m-%d"), t.strftime("%H")


def seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
