"""The reference table of provinces and counties, and the "inside Iran" boundary test."""

from __future__ import annotations

import pytest

from eoc.simulator.profiles import PROFILES
from events.places import PROVINCES
from events.reference import counties_of, county, inside_iran, provinces

# Cities the issue found accepted by the old box, all outside Iran.
ABROAD = {
    "Doha": (25.29, 51.53), "Baghdad": (33.31, 44.36), "Basra": (30.51, 47.81),
    "Erbil": (36.19, 44.01), "Kuwait City": (29.37, 47.98), "Dubai": (25.20, 55.27),
    "Ashgabat": (37.95, 58.38), "Herat": (34.35, 62.20),
}
# Border towns, ports and islands that must be inside.
AT_THE_EDGE = {
    "Bandar Abbas": (27.18, 56.27), "Chabahar": (25.29, 60.64), "Khorramshahr": (30.44, 48.17),
    "Astara": (38.43, 48.87), "Qasr-e Shirin": (34.52, 45.58), "Kish": (26.53, 53.98),
    "Qeshm": (26.85, 55.90), "Sarakhs": (36.54, 61.16), "Jolfa": (38.94, 45.63),
}


def test_the_table_has_31_provinces_keyed_by_the_project_codes():
    table = provinces()
    assert set(table) == set(PROVINCES)
    for code, p in table.items():
        assert p.name_fa == PROVINCES[code].name_fa
        assert p.counties, code
        assert all(c.name and c.name_fa and c.official_code // 100 == p.official_code for c in p.counties)
    assert sum(len(p.counties) for p in table.values()) == 448


def test_a_county_is_found_by_english_persian_or_alias_name_in_its_own_province_only():
    assert county("QZV", "Takestan").name_fa == "تاکستان"
    assert county("QZV", "تاکستان").name == "Takestan"
    assert county("QZV", "buin-zahra").name == "Buin Zahra"
    assert county("QZV", "بويين زهرا").name == "Buin Zahra"  # Arabic yeh typed for Persian yeh
    assert county("KBA", "Yasuj").name == "Boyer-Ahmad"
    assert county("THR", "Takestan") is None
    assert county("QZV", "[/]") is None
    assert county("XXX", "Qazvin") is None
    assert counties_of("XXX") == ()


def test_every_capital_and_every_simulated_county_is_in_the_table():
    for code, p in PROVINCES.items():
        assert county(code, p.capital) is not None, (code, p.capital)
    for code, profile in PROFILES.items():
        for c in profile.counties:
            assert county(code, c.official_name) is not None, (code, c.official_name)


@pytest.mark.parametrize("city", sorted(ABROAD))
def test_cities_abroad_are_outside_iran(city):
    assert not inside_iran(*ABROAD[city])


@pytest.mark.parametrize("city", sorted(AT_THE_EDGE))
def test_border_towns_ports_and_islands_are_inside_iran(city):
    assert inside_iran(*AT_THE_EDGE[city])


def test_every_capital_and_simulated_seat_is_inside_iran():
    for p in PROVINCES.values():
        assert inside_iran(p.lat, p.lon), p.code
    for profile in PROFILES.values():
        for c in profile.counties:
            assert inside_iran(c.lat, c.lon), c.name


def test_not_a_number_is_never_inside():
    assert not inside_iran(float("nan"), 51.0)
    assert not inside_iran(35.0, float("inf"))
