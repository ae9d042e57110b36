"""The Persian names the simulator registers its places and teams under (نام فارسی).

Operators read Persian: a simulated centre is «مرکز مداخله در بحران قزوین», a team
«سیار ۰۱ قزوین». The profiles keep their English names as stable keys (random seeds,
statistics, pseudonymous user ids); the county's Persian name comes from the reference
table (events/data/counties.json), and the few simulated areas that are towns of a county
rather than counties are named here.
"""

from __future__ import annotations

import re

from eoc.simulator.profiles import PlaceSpec, ProvinceProfile, TeamSpec
from events import reference
from events.vocabulary import CentreKind

# Simulated areas that are towns or districts, not counties of the reference table.
AREAS_FA = {"Mohammadiyeh": "محمدیه", "Alamut": "الموت"}

PLACE_FA = {
    CentreKind.RESIDENTIAL_LEVEL_1: "مرکز مداخله در بحران",
    CentreKind.RESIDENTIAL_LEVEL_2: "مرکز مداخله در بحران",
    CentreKind.OUTPATIENT: "مرکز سرپایی",
    CentreKind.SAFE_HOUSE: "خانه امن",
    CentreKind.HEALTH_HOUSE: "خانه سلامت",
    CentreKind.SOCIAL_SERVICE_BASE: "پایگاه خدمات اجتماعی",
    CentreKind.MOBILE_BASE: "پایگاه اورژانس سیار",
}
TEAM_FA = "سیار"
_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def county_fa(profile: ProvinceProfile, name: str) -> str:
    if name in AREAS_FA:
        return AREAS_FA[name]
    found = reference.county(profile.code, profile.county(name).official_name)
    return found.name_fa if found else name


def persian_names(profile: ProvinceProfile) -> dict[str, str]:
    """English spec name -> the Persian name to register, unique within the province."""
    out: dict[str, str] = {}
    taken: set[str] = set()

    def unique(name: str) -> str:
        candidate, n = name, 2
        while candidate in taken:
            candidate, n = f"{name} {str(n).translate(_DIGITS)}", n + 1
        taken.add(candidate)
        return candidate

    for place in profile.places:
        out[place.name] = unique(_place(profile, place))
    for team in profile.teams:
        out[team.name] = unique(_team(profile, team))
    return out


def _place(profile: ProvinceProfile, spec: PlaceSpec) -> str:
    number = re.search(r"\s(\d+)$", spec.name)
    name = f"{PLACE_FA[spec.kind]} {county_fa(profile, spec.county)}"
    return f"{name} {number.group(1).translate(_DIGITS)}" if number else name


def _team(profile: ProvinceProfile, spec: TeamSpec) -> str:
    number = re.search(r"-(\d+)", spec.name)
    digits = number.group(1).translate(_DIGITS) if number else ""
    return f"{TEAM_FA} {digits} {county_fa(profile, spec.county)}".replace("  ", " ")
