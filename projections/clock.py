"""Moments as the operators read them: Iran Standard Time (UTC+03:30, no daylight saving since 1401)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from events.jalali import IRST

__all__ = ["IRST", "LATE_AFTER_S", "is_late", "local", "local_day_hour", "seconds_between"]

# A fact recorded more than this after it happened is a late entry (ثبت با تأخیر): boards and
# reports still count it when it happened, and show it as late.
LATE_AFTER_S = 600.0


def local(moment: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(IRST)


@lru_cache(maxsize=256)  # a fold asks several times for the same moment (its figures, its day clock)
def local_day_hour(moment: str) -> tuple[str, str]:
    """The local day (YYYY-MM-DD) and hour (HH) a UTC moment falls in.

    Written as ``strftime("%Y-%m-%d")`` writes it (about four times faster): the year unpadded,
    so a stored moment of year 999 names the day ``999-12-31``, which the key figures cannot
    place — that event stays poison, a dead letter (tests/integration/test_poison.py)."""
    t = local(moment)
    return f"{t.year}-{t.month:02d}-{t.day:02d}", f"{t.hour:02d}"


def seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def is_late(occurred_at: str, recorded_at: str) -> bool:
    return seconds_between(occurred_at, recorded_at) > LATE_AFTER_S
