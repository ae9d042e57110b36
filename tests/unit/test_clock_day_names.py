"""``local_day_hour`` writes the day as strftime does (it replaced strftime for speed): every
runner and every stored board names days alike, year 999 included."""

from datetime import datetime

import pytest

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
