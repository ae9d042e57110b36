"""Jalali ⇄ Gregorian: the calendar walks day by day and meets the official dates; moments and periods
are read in every form an operator writes them and shown in both calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from events.jalali import (
    IRST,
    BadMoment,
    describe,
    format_jalali,
    format_long,
    is_leap,
    month_length,
    parse_moment,
    parse_period,
    period_of,
    to_gregorian,
    to_jalali,
)


def test_the_calendar_walks_day_by_day_and_back() -> None:
    """Every day of 1350..1449 follows the day before it in both calendars, and converts back:
    six months of 31 days, five of 30, Esfand of 29 or, in a leap year, 30."""
    day, j = date(1971, 3, 21), (1350, 1, 1)
    while day < date(2071, 3, 21):
        assert to_jalali(day) == j and to_gregorian(*j) == day, (day, j)
        y, m, d = j
        assert month_length(y, m) == (31 if m <= 6 else 30 if m <= 11 else 30 if is_leap(y) else 29)
        j = (y, m, d + 1) if d < month_length(y, m) else (y, m + 1, 1) if m < 12 else (y + 1, 1, 1)
        day += timedelta(days=1)


def test_nowruz_and_the_leap_years_are_the_official_ones() -> None:
    # The first of Farvardin as Iran's calendar gives it, and the years with an Esfand 30.
    nowruz = {1395: date(2016, 3, 20), 1396: date(2017, 3, 21), 1397: date(2018, 3, 21), 1398: date(2019, 3, 21),
              1399: date(2020, 3, 20), 1400: date(2021, 3, 21), 1401: date(2022, 3, 21), 1402: date(2023, 3, 21),
              1403: date(2024, 3, 20), 1404: date(2025, 3, 21), 1405: date(2026, 3, 21)}
    assert {y: to_gregorian(y, 1, 1) for y in nowruz} == nowruz
    assert [y for y in range(1370, 1410) if is_leap(y)] == [1370, 1375, 1379, 1383, 1387, 1391, 1395, 1399,
                                                             1403, 1408]


def test_known_dates() -> None:
    assert to_gregorian(1403, 6, 7) == date(2024, 8, 28)  # the Qazvin report's date
    assert to_gregorian(1399, 10, 16) == date(2021, 1, 5)  # the Kermanshah report's
    assert to_jalali(date(2025, 3, 21)) == (1404, 1, 1)  # Nowruz
    assert is_leap(1403) and month_length(1403, 12) == 30 and month_length(1402, 12) == 29
    with pytest.raises(BadMoment):
        to_gregorian(1402, 12, 30)


@pytest.mark.parametrize("text", [
    "1403-06-07 02:13", "1403/06/07 02:13", "1403/6/7 2:13", "۱۴۰۳/۰۶/۰۷ ۰۲:۱۳", "7 Shahrivar 1403 02:13",
    "7 shahrivar 1403, 02:13", "Shahrivar 7, 1403 02:13", "۷ شهریور ۱۴۰۳ ساعت ۰۲:۱۳", "1403-06-07T02:13 IRST",
    "2024-08-27T22:43:00Z", "2024-08-28T02:13:00+03:30", "2024-08-28 02:13", "1403-06-06 22:43 Z",
])
def test_one_moment_in_many_forms(text: str) -> None:
    assert parse_moment(text) == datetime(2024, 8, 27, 22, 43, tzinfo=UTC)


def test_moments_are_shown_in_both_calendars() -> None:
    moment = datetime(2024, 8, 27, 22, 43, tzinfo=UTC)
    assert format_jalali(moment) == "1403-06-07 02:13"
    assert format_long(moment) == "7 Shahrivar 1403, 02:13 IRST"
    assert format_long(moment, persian=True) == "۷ شهریور ۱۴۰۳، ساعت ۰۲:۱۳"
    assert describe(moment) == "7 Shahrivar 1403, 02:13 IRST (1403-06-07 02:13; 2024-08-27T22:43:00.000Z)"
    assert parse_moment(format_jalali(moment, seconds=True)) == moment
    assert parse_moment("1403-06-07").tzinfo is IRST  # a date alone: its start, Iran time


@pytest.mark.parametrize("text", ["", "yesterday", "1403-13-01", "32 Shahrivar 1403", "7 Shahrivar 2024",
                                  "1403-06-07 25:00", "7 Brumaire 1403"])
def test_what_is_not_a_moment_says_so(text: str) -> None:
    with pytest.raises(BadMoment):
        parse_moment(text)


def test_periods() -> None:
    month = parse_period("Shahrivar 1403")
    assert month == parse_period("1403-06") == parse_period("شهریور ۱۴۰۳") == parse_period("۱۴۰۳/۶")
    assert (month.first_day, month.last_day, len(month.days())) == (date(2024, 8, 22), date(2024, 9, 21), 31)
    assert month.start == datetime(2024, 8, 21, 20, 30, tzinfo=UTC) and month.end == datetime(2024, 9, 21, 20, 30, tzinfo=UTC)
    assert (month.code, month.label, month.label_fa) == ("1403-06", "Shahrivar 1403", "شهریور ۱۴۰۳")
    summer = parse_period("summer 1403")
    assert summer == parse_period("تابستان ۱۴۰۳") == parse_period("1403-S2") == parse_period("1403-q2")
    assert (summer.first_day, summer.last_day, len(summer.days())) == (date(2024, 6, 21), date(2024, 9, 21), 93)
    year = parse_period("1403")
    assert (year.first_day, year.last_day, len(year.days())) == (date(2024, 3, 20), date(2025, 3, 20), 366)
    assert len(parse_period("Esfand 1402").days()) == 29
    assert period_of(datetime(2024, 8, 21, 20, 31, tzinfo=UTC)) == month  # 00:01 on 1 Shahrivar, Tehran
    assert period_of(datetime(2024, 8, 21, 20, 29, tzinfo=UTC)) == parse_period("Mordad 1403")
    for bad in ("2024-08", "1403-13", "Brumaire 1403", "next month"):
        with pytest.raises(BadMoment):
            parse_period(bad)
