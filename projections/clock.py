"""Moments as the operators read them: Iran Standard Time (UTC+03:30, no daylight saving since 1401)."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from events.jalali import IRST

__all__ = ["IRST", "LATE_AFTER_S", "is_late", "local", "local_day_hour", "seconds_between"]

# A fact recorded more than this after it happened is a late entry (ثبت با تأخیر): boards and
# reports still count it when it happened, and show it as late.
LATE_AFTER_S = 600.0


def local(moment: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(IRST)


def local_day_hour(moment: str) -> tuple[str, str]:
    """The local day (YYYY-MM-DD) and hour (HH) a UTC moment falls in.

    Written as ``strftime("%Y-%m-%d")`` writes it (about four times faster): the year unpadded,
    so a stored moment of year 999 names the day ``999-12-31``, which the key figures cannot
    place — that event stays poison, a dead letter (tests/integration/test_poison.py).

    A fold asks for every event's moments, each one new. IRST is a fixed offset of 3:30, so
    every moment of one half hour of UTC falls in the same local hour: a moment in the
    canonical form (``iso``'s, with minutes and seconds in range) is answered from its half
    hour's first answer, which was worked out, or refused, on a moment of its own."""
    if len(moment) == 24 and _CANONICAL.fullmatch(moment):
        half_hour = moment[:14] + ("3" if moment[14] >= "3" else "0")
        answer = _HALF_HOURS.get(half_hour)
        if answer is None:
            answer = _local_day_hour(moment)
            if len(_HALF_HOURS) >= 100_000:
                _HALF_HOURS.clear()
            _HALF_HOURS[half_hour] = answer
        return answer
    return _local_day_hour(moment)


# ``iso``'s form of a moment: whether its date and hour are real is the half hour's to say.
_CANONICAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z")
_HALF_HOURS: dict[str, tuple[str, str]] = {}  # "YYYY-MM-DDTHH:0" / ":3" -> (day, hour)


@lru_cache(maxsize=256)  # a fold asks several times for the same moment (its figures, its day clock)
def _local_day_hour(moment: str) -> tuple[str, str]:
    t = local(moment)
    return f"{t.year}-{t.month:02d}-{t.day:02d}", f"{t.hour:02d}"


def seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


def is_late(occurred_at: str, recorded_at: str) -> bool:
    if occurred_at == recorded_at:  # most facts: no time between them, if it is a moment at all
        datetime.fromisoformat(recorded_at)
        return False
    return seconds_between(occurred_at, recorded_at) > LATE_AFTER_S
