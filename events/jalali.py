"""Solar Hijri (Jalali, هجری شمسی) dates: conversion, parsing and formatting of moments.

Operators, inspectors and the provincial reports read dates as ``7 Shahrivar 1403``; the
system stores UTC ISO text. This module is the bridge both ways, without I/O. The calendar
itself is ``jdatetime``'s (one conversion for the whole system; the pages use the browser's
own Persian calendar, ``Intl.DateTimeFormat`` with ``ca-persian``, checked against this one
day by day in the tests).

Local time is Iran Standard Time, UTC+03:30 — the same fixed offset the boards use to cut
days (projections/clock.py; Iran has kept no daylight saving time since 1401), so that a
report's "7 Shahrivar" is exactly the key-figures day ``figures/<province>/2024-08-28``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

import jdatetime

IRST = timezone(timedelta(hours=3, minutes=30), "IRST")

MONTHS_EN = ("Farvardin", "Ordibehesht", "Khordad", "Tir", "Mordad", "Shahrivar",
             "Mehr", "Aban", "Azar", "Dey", "Bahman", "Esfand")
MONTHS_FA = ("فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور",
             "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند")
SEASONS_EN = ("Spring", "Summer", "Autumn", "Winter")
SEASONS_FA = ("بهار", "تابستان", "پاییز", "زمستان")

# Other spellings met in English texts and transliterations.
_MONTH_ALIASES = {
    "amordad": 5, "mordaad": 5, "shahrivar": 6, "shahriwar": 6, "farvardin": 1, "ordibehesht": 2,
    "khordad": 3, "khordaad": 3, "tir": 4, "mehr": 7, "aban": 8, "abaan": 8, "azar": 9, "aazar": 9,
    "dey": 10, "dei": 10, "bahman": 11, "esfand": 12, "mordad": 5,
}
_SEASON_ALIASES = {"spring": 1, "bahar": 1, "summer": 2, "tabestan": 2, "autumn": 3, "fall": 3,
                   "paeez": 3, "paiz": 3, "payiz": 3, "winter": 4, "zemestan": 4}
for _i, _name in enumerate(MONTHS_FA):
    _MONTH_ALIASES[_name] = _i + 1
_MONTH_ALIASES["امرداد"] = 5
for _i, _name in enumerate(SEASONS_FA):
    _SEASON_ALIASES[_name] = _i + 1
_SEASON_ALIASES["پائیز"] = 3

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")



class BadMoment(ValueError):
    """A text that is not a moment or period this module understands; says what it expected."""


# ---------------------------------------------------------------------- the calendar


def _year(jy: int) -> int:
    if not jdatetime.MINYEAR <= jy <= jdatetime.MAXYEAR:
        raise BadMoment(f"Jalali year {jy} is outside {jdatetime.MINYEAR}..{jdatetime.MAXYEAR}")
    return jy


def is_leap(jy: int) -> bool:
    return bool(jdatetime.date(_year(jy), 1, 1).isleap())


def month_length(jy: int, jm: int) -> int:
    if not 1 <= jm <= 12:
        raise BadMoment(f"month {jm} is not 1..12")
    return 30 if jm == 12 and is_leap(jy) else int(jdatetime.j_days_in_month[jm - 1])


def to_gregorian(jy: int, jm: int, jd: int) -> date:
    """The Gregorian date of a Jalali date (raises BadMoment for a day that does not exist)."""
    if not 1 <= jm <= 12 or not 1 <= jd <= month_length(jy, jm):
        raise BadMoment(f"{jy}-{jm:02d}-{jd:02d} is not a Jalali date")
    g = jdatetime.date(jy, jm, jd).togregorian()
    return date(g.year, g.month, g.day)


def to_jalali(d: date) -> tuple[int, int, int]:
    """(year, month, day) of a Gregorian date."""
    j = jdatetime.date.fromgregorian(date=d)
    return int(j.year), int(j.month), int(j.day)


# ---------------------------------------------------------------------- moments


def local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise BadMoment("a naive datetime: give it a time zone")
    return moment.astimezone(IRST)


def iso_utc(moment: datetime) -> str:
    """The system's canonical text of a moment (UTC, milliseconds, Z)."""
    return local(moment).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_jalali(moment: datetime, *, seconds: bool = False) -> str:
    """``1403-06-07 02:13`` in Iran time."""
    t = local(moment)
    jy, jm, jd = to_jalali(t.date())
    clock = t.strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{jy:04d}-{jm:02d}-{jd:02d} {clock}"


def format_long(moment: datetime, *, persian: bool = False) -> str:
    """``7 Shahrivar 1403, 02:13 IRST`` or ``۷ شهریور ۱۴۰۳، ساعت ۰۲:۱۳``."""
    t = local(moment)
    jy, jm, jd = to_jalali(t.date())
    if persian:
        return f"{jd} {MONTHS_FA[jm - 1]} {jy}، ساعت {t:%H:%M}".translate(_FA_DIGITS)
    return f"{jd} {MONTHS_EN[jm - 1]} {jy}, {t:%H:%M} IRST"


def describe(moment: datetime) -> str:
    """Both calendars at once, as the audit commands print a moment."""
    return f"{format_long(moment)} ({format_jalali(moment)}; {iso_utc(moment)})"


_TIME = r"(?:[ T,]+(?:at\s+|ساعت\s*)?(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?)?)?"
_ZONE = r"\s*(?P<z>Z|UTC|IRST|[+-]\d{2}:?\d{2})?"
_NUMERIC = re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + _TIME + _ZONE + r"$", re.I)
_NAMED_DMY = re.compile(r"^(?P<d>\d{1,2})\s+(?P<mn>[^\d\s,]+)\s*,?\s*(?P<y>\d{4})" + _TIME + _ZONE + r"$", re.I)
_NAMED_MDY = re.compile(r"^(?P<mn>[^\d\s,]+)\s+(?P<d>\d{1,2})\s*,\s*(?P<y>\d{4})" + _TIME + _ZONE + r"$", re.I)


def _normalise(text: str) -> str:
    text = text.translate(_DIGITS).replace("\u200c", " ").replace("،", ",").strip()
    return re.sub(r"\s+", " ", text)


def _zone(z: str | None) -> timezone:
    if not z or z.upper() == "IRST":
        return IRST
    if z.upper() in ("Z", "UTC"):
        return UTC
    sign = 1 if z[0] == "+" else -1
    digits = z[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _month_number(name: str) -> int:
    key = name.strip().lower().rstrip(".")
    if key in _MONTH_ALIASES:
        return _MONTH_ALIASES[key]
    raise BadMoment(f"unknown Jalali month {name!r} (e.g. {', '.join(MONTHS_EN[:3])}... or {MONTHS_FA[5]})")


def _build(y: int, m: int, d: int, g: re.Match[str]) -> datetime:
    hour, minute = int(g["h"] or 0), int(g["mi"] or 0)
    second = int(g["s"] or 0)
    micro = int((g["f"] or "0").ljust(6, "0"))
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 59):
        raise BadMoment(f"{hour:02d}:{minute:02d}:{second:02d} is not a time of day")
    day = to_gregorian(y, m, d) if y < 1700 else date(y, m, d)
    return datetime.combine(day, time(hour, minute, second, micro), tzinfo=_zone(g["z"]))


def parse_moment(text: str) -> datetime:
    """A moment from Jalali or ISO text; without a zone it is Iran time.

    Accepted: ``1403-06-07 02:13``, ``1403/06/07``, ``۱۴۰۳/۰۶/۰۷ ۰۲:۱۳``, ``7 Shahrivar 1403 02:13``,
    ``Shahrivar 7, 1403``, ``۷ شهریور ۱۴۰۳ ساعت ۰۲:۱۳``, and ISO 8601 (``2024-08-27T22:43:00Z``,
    ``2024-08-28 02:13``). A year below 1700 is read as Jalali, above as Gregorian. A date
    without a time is the start of that day.
    """
    norm = _normalise(text)
    if not norm:
        raise BadMoment("an empty moment")
    g = _NUMERIC.match(norm)
    if g:
        return _build(int(g["y"]), int(g["m"]), int(g["d"]), g)
    g = _NAMED_DMY.match(norm) or _NAMED_MDY.match(norm)
    if g:
        y = int(g["y"])
        if y >= 1700:
            raise BadMoment(f"{text!r}: a month name is read as Jalali, but {y} is a Gregorian year")
        return _build(y, _month_number(g["mn"]), int(g["d"]), g)
    try:
        moment = datetime.fromisoformat(norm)
    except ValueError:
        raise BadMoment(
            f"{text!r} is not a moment: try 1403-06-07 02:13, 7 Shahrivar 1403 02:13 or 2024-08-27T22:43:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=IRST)


# ---------------------------------------------------------------------- periods (for reports)


@dataclass(frozen=True)
class Period:
    """A Jalali month, season or year: the span the provincial reports cover; or any range
    of days (``Period.between``: "Mehr 1 to Azar 10", a four-month report)."""

    kind: str  # month | season | year | range
    year: int
    index: int  # month 1..12, season 1..4, 1 for a year or a range
    first: date | None = None  # a range's first and last local days
    last: date | None = None

    @classmethod
    def between(cls, first: date, last: date) -> Period:
        if last < first:
            raise BadMoment(f"the period ends ({last}) before it starts ({first})")
        return cls("range", to_jalali(first)[0], 1, first, last)

    @property
    def months(self) -> tuple[int, int]:
        if self.kind == "month":
            return self.index, self.index
        if self.kind == "season":
            return 3 * self.index - 2, 3 * self.index
        return 1, 12

    @property
    def first_day(self) -> date:
        if self.first is not None:
            return self.first
        return to_gregorian(self.year, self.months[0], 1)

    @property
    def last_day(self) -> date:
        if self.last is not None:
            return self.last
        m = self.months[1]
        return to_gregorian(self.year, m, month_length(self.year, m))

    def days(self) -> list[str]:
        """The Gregorian local days (YYYY-MM-DD), as the key-figures rows are named."""
        first, last = self.first_day, self.last_day
        return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]

    @property
    def start(self) -> datetime:
        """Midnight, Iran time, at the start of the period."""
        return datetime.combine(self.first_day, time(0), tzinfo=IRST)

    @property
    def end(self) -> datetime:
        """Midnight, Iran time, after the last day (exclusive)."""
        return datetime.combine(self.last_day + timedelta(days=1), time(0), tzinfo=IRST)

    @property
    def label(self) -> str:
        if self.kind == "range":
            return f"{_jalali_day(self.first_day)} to {_jalali_day(self.last_day)}"
        if self.kind == "month":
            return f"{MONTHS_EN[self.index - 1]} {self.year}"
        if self.kind == "season":
            return f"{SEASONS_EN[self.index - 1]} {self.year}"
        return f"Year {self.year}"

    @property
    def label_fa(self) -> str:
        if self.kind == "range":
            return f"{_jalali_day(self.first_day, persian=True)} تا {_jalali_day(self.last_day, persian=True)}"
        if self.kind == "month":
            text = f"{MONTHS_FA[self.index - 1]} {self.year}"
        elif self.kind == "season":
            text = f"{SEASONS_FA[self.index - 1]} {self.year}"
        else:
            text = f"سال {self.year}"
        return text.translate(_FA_DIGITS)

    @property
    def code(self) -> str:
        if self.kind == "range":
            return "{}_{}".format(*("{:04d}-{:02d}-{:02d}".format(*to_jalali(d)) for d in (self.first_day, self.last_day)))
        if self.kind == "month":
            return f"{self.year}-{self.index:02d}"
        if self.kind == "season":
            return f"{self.year}-S{self.index}"
        return str(self.year)

    def contains_day(self, day: str) -> bool:
        return self.first_day.isoformat() <= day <= self.last_day.isoformat()


def _jalali_day(d: date, *, persian: bool = False) -> str:
    jy, jm, jd = to_jalali(d)
    if persian:
        return f"{jd} {MONTHS_FA[jm - 1]} {jy}".translate(_FA_DIGITS)
    return f"{jd} {MONTHS_EN[jm - 1]} {jy}"


def parse_day(text: str) -> date:
    """A local day, Jalali or Gregorian: ``1403-07-01``, ``1 Mehr 1403``, ``۱ مهر ۱۴۰۳``, ``2024-09-22``."""
    moment = parse_moment(text)
    return local(moment).date()


def parse_range(first: str, last: str) -> Period:
    """The days from ``first`` to ``last``, both included (Jalali or ISO)."""
    return Period.between(parse_day(first), parse_day(last))


_P_MONTH = re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})$")
_P_SEASON = re.compile(r"^(?P<y>\d{4})[-/.]?[SQ](?P<s>[1-4])$", re.I)
_P_YEAR = re.compile(r"^(?:year\s+|سال\s*)?(?P<y>\d{4})$", re.I)
_P_NAMED = re.compile(r"^(?P<n>[^\d\s]+)\s+(?P<y>\d{4})$")


def parse_period(text: str) -> Period:
    """``1403-06`` / ``Shahrivar 1403`` / ``شهریور ۱۴۰۳`` (month), ``1403-S2`` / ``summer 1403`` /
    ``تابستان ۱۴۰۳`` (season), ``1403`` (year)."""
    norm = _normalise(text)
    if g := _P_MONTH.match(norm):
        period = Period("month", int(g["y"]), int(g["m"]))
    elif g := _P_SEASON.match(norm):
        period = Period("season", int(g["y"]), int(g["s"]))
    elif g := _P_YEAR.match(norm):
        period = Period("year", int(g["y"]), 1)
    elif g := _P_NAMED.match(norm):
        name = g["n"].lower()
        if name in _SEASON_ALIASES:
            period = Period("season", int(g["y"]), _SEASON_ALIASES[name])
        else:
            period = Period("month", int(g["y"]), _month_number(name))
    else:
        raise BadMoment(f"{text!r} is not a period: try 1403-06, Shahrivar 1403, summer 1403 or 1403")
    if period.kind == "month" and not 1 <= period.index <= 12:
        raise BadMoment(f"month {period.index} is not 1..12")
    if period.year >= 1700:
        raise BadMoment(f"{period.year} looks Gregorian: reports are by Jalali month, season or year")
    _year(period.year)  # range check
    return period


def period_of(moment: datetime, kind: str = "month") -> Period:
    """The Jalali month (season, year) a moment falls in, Iran time."""
    jy, jm, _ = to_jalali(local(moment).date())
    if kind == "month":
        return Period("month", jy, jm)
    if kind == "season":
        return Period("season", jy, (jm - 1) // 3 + 1)
    return Period("year", jy, 1)
