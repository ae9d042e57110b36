"""The wire's and the checkpoint's JSON (events.envelope.compact_json): orjson, read back as the
standard library's encoder would have written it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.envelope import compact_json
from events.vocabulary import Role

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def standard(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@given(json_values)
def test_any_json_value_reads_back_as_the_standard_librarys_text_does(value):
    assert json.loads(compact_json(value)) == json.loads(standard(value))


def test_a_board_row_is_the_same_text_persian_unescaped():
    row = {"centre/QZV-C1": {"name": "خانهٔ امن قزوین", "role": Role.DISPATCHER, "beds": (3, 4),
                             "open": True, "lat": 36.27, "note": None, 7: "seven"}}
    assert compact_json(row).decode() == standard(row)
    assert "خانهٔ امن" in compact_json(row).decode()


def test_what_orjson_does_not_take_goes_to_the_standard_library_and_what_neither_takes_is_refused():
    huge = {"n": 2**70}
    assert compact_json(huge).decode() == standard(huge)

    @dataclass
    class Point:
        lat: float

    for value in ({"at": datetime(2026, 12, 5, tzinfo=UTC)}, {"p": Point(1.0)}):
        with pytest.raises(TypeError):
            compact_json(value)  # as json.dumps: never written in a form of orjson's own
