"""The audit sources decode a record's value with orjson, and leave to ``json`` what orjson
refuses: every value and every error is what ``json.loads`` gives (eoc/audit/sources.py)."""

from __future__ import annotations

import json

import pytest

from eoc.audit.sources import loads_object

ODD = [
    b'{"a": 1, "a": 2}',  # a repeated key: the last one
    b'{"n": NaN, "i": Infinity}',  # json's extensions
    b'{"big": 123456789012345678901234567890}',  # past 64 bits: orjson would make a float of it
    b'{"i": -9223372036854775809, "j": 18446744073709551616, "k": 9223372036854775807}',
    b'{"f": 1e400, "g": 0.1, "h": -0.0, "e": 1.7976931348623157e308}',
    b'{"s": "\\ud800"}',  # a lone surrogate
    '{"u": "شب"}'.encode("utf-16"),  # json detects UTF-16
    b'{"t": "\\u0000\\t"}',
    b"[1, 2]",  # not an object
    b'"text"',
    b"\xff\xfe\xfa",  # not UTF-8
    b'{"a": ',  # cut short
    b"",
    None,
]


@pytest.mark.parametrize("data", ODD)
def test_every_value_and_error_is_jsons(data: bytes | None) -> None:
    got = loads_object(data)
    try:
        expected = json.loads(data)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:  # a UnicodeDecodeError is a ValueError
        assert got == (None, f"the record is not an envelope: {exc}")
        return
    if isinstance(expected, dict):
        assert repr(got) == repr((expected, None))  # repr: NaN != NaN, and -0.0 == 0.0 otherwise
    else:
        assert got == (None, "the record is not an envelope: not a JSON object")
