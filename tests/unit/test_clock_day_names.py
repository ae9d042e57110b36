"""``local_day_hour`` writes the day as strftime does (it replaced strftime for speed): every
runner and every stored board names days alike, year 999 included."""

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.clock import IRST, local_day_hour


@pytest.mark.parametrize("moment", ["1999-03-20T20:30:00.000Z", "2026-11-23T20:29:59.999Z",
                                    "2026-11-23T20:30:00.000Z", "2025-03-20T20:30:00+00:00",
                                    "0999-12-31T00:00:00.000Z", "1000-01-01T00:00:00+03:30"])
def test_the_day_and_hour_are_what_strftime_writes(moment: str) -> None:
    t = datetime.fromisoformat(moment).astimezone(IRST)
    assert local_day_hour(moment) == (t.strftime("%Y-%m-%d"), t.strftime("%H"))


def test_the_local_day_turns_at_half_past_eight_utc() -> None:
    assert local_day_hour("2026-11-23T20:29:59.999Z") == ("2026-11-23", "23")
    assert local_day_hour("2026-11-23T20:30:00.000Z") == ("2026-11-24", "00")


def _as_strftime(moment: str) -> tuple[str, str] | tuple[str, type]:
    try:
        t = datetime.fromisoformat(moment).astimezone(IRST)
    except (ValueError, OverflowError) as exc:
        return ("refused", type(exc))
    return t.strftime("%Y-%m-%d"), t.strftime("%H")


def _answer(moment: str) -> tuple[str, str] | tuple[str, type]:
    try:
        return local_day_hour(moment)
    except (ValueError, OverflowError) as exc:
        return ("refused", type(exc))


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 20, 29, 59)),
       st.sampled_from(["", "0", "1", "۵", "x"]), st.integers(0, 2))
def test_moments_of_one_half_hour_share_its_answer_and_nothing_else(moment: datetime, odd: str, where: int) -> None:
    """The answer is kept per half hour of UTC for moments in ``iso``'s form: every moment
    still gets what strftime writes, and a moment that is not a real one is still refused."""
    text = moment.isoformat(timespec="milliseconds") + "Z"
    assert _answer(text) == _as_strftime(text)
    spoilt = {0: text[:17] + odd + text[18:], 1: text[:18] + odd + text[19:], 2: text[:23] + odd}[where]
    assert _answer(spoilt) == _as_strftime(spoilt)


@pytest.mark.parametrize("moment", ["2026-11-23T24:00:00.000Z", "2026-02-30T08:00:00.000Z", "0000-01-01T00:00:00.000Z",
                                    "9999-12-31T20:30:00.000Z", "2026-11-23T08:00:60.000Z", "2026-11-23T08:60:00.000Z",
                                    "2026-11-23T08:00:0٥.000Z", "2026-11-23T08:00:00.000+", "2026-11-23 08:00:00.000Z"])
def test_what_is_not_a_moment_stays_refused_or_read_as_before(moment: str) -> None:
    _answer(moment[:14] + "00:00.000Z")  # its half hour asked first
    assert _answer(moment) == _as_strftime(moment)
