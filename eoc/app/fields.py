"""The field types of the command models: strict, bounded and clean, checked at the edge.

An emergency line is fed by tired people, buggy tablets and sometimes attackers. What a
command model accepts is what the history will hold for ever, so every field here is:

- strict: no coercion (``"1000"`` is not a number, ``true`` is not 1, ``"yes"`` is not a
  boolean, a Unix number is not a moment);
- bounded: every string and list has a maximum length;
- clean: names and free text refuse control characters and the bidi overrides that can make
  a name read differently on screen (the zero-width non-joiner of Persian, نیم‌فاصله, stays);
- in range: every moment (``Moment``) lies between the start of the service (1 Farvardin
  1378, 1999-03-21 in Tehran) and now plus a small clock-skew allowance.

Other modules (the occurred-at of any command, the simulator) reuse these types.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

# The 123 social emergency line began in 1378; nothing it records happened before that.
SERVICE_START = datetime(1999, 3, 21, tzinfo=timezone(timedelta(hours=3, minutes=30)))
# A device clock may run a little ahead of the server's.
CLOCK_SKEW = timedelta(minutes=5)

# Bidi embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069): they reorder what
# an operator reads. Marks (LRM, RLM, ALM) and the ZWNJ stay: Persian text needs them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_NEWLINES = frozenset("\n\t")  # in free text only


def _refuse_unprintable(text: str, *, multiline: bool) -> str:
    for ch in text:
        if ch in _BIDI_CONTROLS:
            raise ValueError(f"bidi control character U+{ord(ch):04X} is not allowed")
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs") and not (multiline and ch in _NEWLINES):
            raise ValueError(f"control character U+{ord(ch):04X} is not allowed")
    return text


def _name(text: str) -> str:
    _refuse_unprintable(text, multiline=False)
    if text != text.strip():
        raise ValueError("leading or trailing spaces are not allowed")
    return text


def _free_text(text: str) -> str:
    return _refuse_unprintable(text, multiline=True)


# The same rules, written for OpenAPI (the validators above are what is enforced).
_CHAR = "[^\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069\\ud800-\\udfff]"
_EDGE = "[^\\s\\x00-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069\\ud800-\\udfff]"
NAME_PATTERN = f"^{_EDGE}({_CHAR}*{_EDGE})?$"
TEXT_PATTERN = "^[^\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069\\ud800-\\udfff]*$"


def Name(max_length: int) -> Any:  # noqa: N802  (a type factory, read as a type)
    """A name on one line: 1..max_length characters, no control or bidi characters."""
    return Annotated[str, StringConstraints(strict=True, min_length=1, max_length=max_length),
                     AfterValidator(_name), Field(json_schema_extra={"pattern": NAME_PATTERN})]


def FreeText(max_length: int) -> Any:  # noqa: N802
    """Free text (a note, a reason): line breaks allowed, no other control or bidi characters."""
    return Annotated[str, StringConstraints(strict=True, min_length=1, max_length=max_length),
                     AfterValidator(_free_text), Field(json_schema_extra={"pattern": TEXT_PATTERN})]


# A pseudonymous id chosen by a client or the service (callers, clients): plain ASCII.
SubjectId = Annotated[str, StringConstraints(strict=True, min_length=3, max_length=64,
                                             pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")]


def _moment_text(value: Any) -> Any:
    if not isinstance(value, (str, datetime)):
        raise ValueError("a moment is ISO-8601 text with its offset, e.g. 2024-08-28T02:13:00+03:30")
    if isinstance(value, str) and len(value) > 40:
        raise ValueError("a moment is at most 40 characters")
    return value


def _moment_bounds(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a moment must carry its offset (Z or +03:30)")
    # The year is checked before any arithmetic: 0001-01-01T00:00+01:00 in UTC is before year 1.
    if value.year < SERVICE_START.year or value.year > 9000:
        raise ValueError("the moment is before the service existed (1378 / 1999)"
                         if value.year < SERVICE_START.year else "the moment is in the future")
    if value < SERVICE_START:
        raise ValueError("the moment is before the service existed (1378 / 1999)")
    if value > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError("the moment is in the future; check the device clock")
    return value


Moment = Annotated[datetime, BeforeValidator(_moment_text), AfterValidator(_moment_bounds),
                   Field(description="ISO-8601 with offset; from 1378 (1999-03-21) until now plus 5 minutes",
                         examples=["2024-08-28T02:13:00+03:30"])]


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("a number is expected (not text, not true/false)")
    return value


# A finite number given as a JSON number; an integer is a number too, text and booleans are not.
Number = Annotated[float, BeforeValidator(_number), Field(allow_inf_nan=False)]
Count = StrictInt
Flag = StrictBool
