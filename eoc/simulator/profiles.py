"""The simulated provinces: their counties, places, teams and volumes, from DOMAIN.md.

Figures quoted by the provincial welfare directors calibrate the rates:

- Qazvin: 1,883 calls, 1,717 mobile dispatches and 546 admissions in four months (122
  days); 14 mobile teams on morning and evening shifts in every county and a night shift
  in Qazvin city only; one residential centre in the capital and eight outpatient ones.
- Alborz: Karaj (level 1, 12 places) and Savojbolagh (level 2, 4 places); centres in Fardis
  and Nazarabad; mobile bases in Nazarabad, Savojbolagh and Fardis. No call figure was
  given: the rates are Qazvin's scaled by population (about 2.1 times).
- Kermanshah: 81,541 calls in a year, 10% of them leading to an intervention; a
  residential centre, two safe houses and a health house; 130 staff around the clock.
- Mazandaran: more than 45,000 calls a year; 19 centres, Amol at level 2; new centres being
  built in Savadkuh-e Shomali, Kelardasht and Simorgh (they open during the run).

The other 27 provinces are scaled from these by population (``nation.py``: the 2016
census), for ``--provinces all``. Coordinates are the county seats (WGS84), rounded; all
lie inside Iran.
"""

from __future__ import annotations

from eoc.simulator.nation import profile
from eoc.simulator.shape import DAY_SHIFTS, ROUND_THE_CLOCK, County, K, PlaceSpec, ProvinceProfile, TeamSpec
from events.places import PROVINCES


def _teams(prefix: str, county: str, n: int, *, night: int = 0, start: int = 1) -> tuple[TeamSpec, ...]:
    """``n`` teams of a county; the first ``night`` of them also work the night shift."""
    return tuple(
        TeamSpec(f"{prefix}-{start + i:02d} {county}", county, ROUND_THE_CLOCK if i < night else DAY_SHIFTS,
                 crew=3 if i < night else 2)
        for i in range(n)
    )


def _numbered(prefix: str, groups: list[tuple[str, int, int]]) -> tuple[TeamSpec, ...]:
    out: list[TeamSpec] = []
    for county, n, night in groups:
        out.extend(_teams(prefix, county, n, night=night, start=len(out) + 1))
    return tuple(out)


QAZVIN = ProvinceProfile(
    code="QZV",
    counties=(
        County("Qazvin", 36.27, 50.00, weight=6.0, radius_km=7),
        County("Takestan", 36.07, 49.70, weight=1.3),
        County("Buin Zahra", 35.77, 50.06, weight=1.2, radius_km=8),
        County("Abyek", 36.04, 50.53, weight=0.8),
        County("Alborz", 36.19, 50.06, weight=1.5),
        County("Avaj", 35.58, 49.22, weight=0.4, radius_km=8),
        County("Mohammadiyeh", 36.22, 50.19, weight=0.7, radius_km=4, official="Alborz"),
        County("Alamut", 36.45, 50.48, weight=0.3, radius_km=10, official="Qazvin"),
    ),
    places=(
        PlaceSpec("Qazvin crisis intervention centre", K.RESIDENTIAL_LEVEL_1, "Qazvin", 10),
        PlaceSpec("Qazvin outpatient centre", K.OUTPATIENT, "Qazvin"),
        PlaceSpec("Takestan outpatient centre", K.OUTPATIENT, "Takestan"),
        PlaceSpec("Buin Zahra outpatient centre", K.OUTPATIENT, "Buin Zahra"),
        PlaceSpec("Abyek outpatient centre", K.OUTPATIENT, "Abyek"),
        PlaceSpec("Alborz outpatient centre", K.OUTPATIENT, "Alborz"),
        PlaceSpec("Avaj outpatient centre", K.OUTPATIENT, "Avaj"),
        PlaceSpec("Mohammadiyeh outpatient centre", K.OUTPATIENT, "Mohammadiyeh"),
        PlaceSpec("Alamut outpatient centre", K.OUTPATIENT, "Alamut"),
        PlaceSpec("Qazvin safe house", K.SAFE_HOUSE, "Qazvin", 6),
        PlaceSpec("Qazvin health house", K.HEALTH_HOUSE, "Qazvin", 5),
    ),
    # 14 teams; the capital's first two also cover the night (the only night shift).
    teams=_numbered("QZV", [("Qazvin", 4, 2), ("Takestan", 2, 0), ("Buin Zahra", 2, 0), ("Abyek", 1, 0),
                            ("Alborz", 2, 0), ("Avaj", 1, 0), ("Mohammadiyeh", 1, 0), ("Alamut", 1, 0)]),
    calls_per_day=1883 / 122,
    # Dispatches (1,717) come close to calls: most incidents start outside line 123.
    other_incidents_per_day=1717 / 122 - 0.10 * 1883 / 122,
    direct_admissions_per_day=1.4,  # with 22% of 14 call-outs a day: ~4.5 admissions a day (546/122)
    source="Qazvin welfare: 1,883 calls, 1,717 dispatches, 546 admissions in 4 months",
)

ALBORZ = ProvinceProfile(
    code="ALB",
    counties=(
        County("Karaj", 35.83, 50.99, weight=7.0, radius_km=8),
        County("Fardis", 35.72, 50.98, weight=2.5, radius_km=4),
        County("Nazarabad", 35.95, 50.61, weight=1.2),
        County("Savojbolagh", 35.96, 50.68, weight=1.2),
        County("Eshtehard", 35.73, 50.37, weight=0.4),
        County("Taleqan", 36.17, 50.77, weight=0.2, radius_km=10),
    ),
    places=(
        PlaceSpec("Karaj crisis intervention centre", K.RESIDENTIAL_LEVEL_1, "Karaj", 12),
        PlaceSpec("Savojbolagh crisis intervention centre", K.RESIDENTIAL_LEVEL_2, "Savojbolagh", 4),
        PlaceSpec("Fardis crisis intervention centre", K.OUTPATIENT, "Fardis"),
        PlaceSpec("Nazarabad crisis intervention centre", K.OUTPATIENT, "Nazarabad"),
        PlaceSpec("Nazarabad mobile base", K.MOBILE_BASE, "Nazarabad"),
        PlaceSpec("Savojbolagh mobile base", K.MOBILE_BASE, "Savojbolagh"),
        PlaceSpec("Fardis mobile base", K.MOBILE_BASE, "Fardis"),
        PlaceSpec("Alborz safe house", K.SAFE_HOUSE, "Karaj", 10),
    ),
    teams=_numbered("ALB", [("Karaj", 4, 2), ("Fardis", 2, 0), ("Nazarabad", 2, 0), ("Savojbolagh", 2, 0),
                            ("Eshtehard", 1, 0)]),
    calls_per_day=2.1 * 1883 / 122,
    other_incidents_per_day=2.1 * (1717 / 122 - 0.10 * 1883 / 122),
    direct_admissions_per_day=2.5,
    source="Alborz welfare (places); rates: Qazvin's scaled by population",
)

KERMANSHAH = ProvinceProfile(
    code="KSH",
    counties=(
        County("Kermanshah", 34.31, 47.07, weight=10.0, radius_km=8),
        County("Eslamabad-e Gharb", 34.11, 46.53, weight=1.4),
        County("Harsin", 34.27, 47.59, weight=0.6),
        County("Kangavar", 34.50, 47.96, weight=0.9),
        County("Sonqor", 34.78, 47.60, weight=0.8),
        County("Sahneh", 34.48, 47.69, weight=0.8),
        County("Javanrud", 34.80, 46.49, weight=0.8),
        County("Paveh", 35.04, 46.36, weight=0.5),
        County("Sarpol-e Zahab", 34.46, 45.86, weight=0.8),
        County("Qasr-e Shirin", 34.52, 45.58, weight=0.3),
        County("Gilan-e Gharb", 34.14, 45.92, weight=0.6),
        County("Ravansar", 34.71, 46.65, weight=0.5),
    ),
    places=(
        PlaceSpec("Kermanshah crisis intervention centre", K.RESIDENTIAL_LEVEL_1, "Kermanshah", 15),
        PlaceSpec("Kermanshah safe house 1", K.SAFE_HOUSE, "Kermanshah", 6),
        PlaceSpec("Kermanshah safe house 2", K.SAFE_HOUSE, "Kermanshah", 6),
        PlaceSpec("Kermanshah health house", K.HEALTH_HOUSE, "Kermanshah", 6),
    ),
    # 130 staff in several shifts, around the clock: the capital's teams work all three shifts.
    teams=_numbered("KSH", [("Kermanshah", 5, 3), ("Eslamabad-e Gharb", 1, 0), ("Kangavar", 1, 0),
                            ("Sonqor", 1, 0), ("Sahneh", 1, 0), ("Javanrud", 1, 0), ("Sarpol-e Zahab", 1, 0),
                            ("Gilan-e Gharb", 1, 0)]),
    calls_per_day=81_541 / 365,
    other_incidents_per_day=6.0,
    direct_admissions_per_day=1.5,
    admit_share=0.18,
    source="Kermanshah welfare: 81,541 served by line 123 in a year, 10% led to an intervention",
)

MAZANDARAN = ProvinceProfile(
    code="MZN",
    counties=(
        County("Sari", 36.56, 53.06, weight=5.0, radius_km=7),
        County("Amol", 36.47, 52.35, weight=4.0, radius_km=6),
        County("Babol", 36.54, 52.68, weight=4.0, radius_km=6),
        County("Qaemshahr", 36.46, 52.86, weight=2.5),
        County("Behshahr", 36.69, 53.55, weight=1.3),
        County("Neka", 36.65, 53.30, weight=0.9),
        County("Juybar", 36.64, 52.91, weight=0.6),
        County("Babolsar", 36.70, 52.65, weight=0.9),
        County("Fereydunkenar", 36.68, 52.52, weight=0.5),
        County("Mahmudabad", 36.63, 52.26, weight=0.7),
        County("Nur", 36.57, 52.01, weight=0.9),
        County("Nowshahr", 36.65, 51.50, weight=1.0),
        County("Chalus", 36.65, 51.42, weight=1.0),
        County("Tonekabon", 36.82, 50.87, weight=1.2),
        County("Ramsar", 36.92, 50.64, weight=0.5),
        County("Abbasabad", 36.72, 51.11, weight=0.4),
        County("Galugah", 36.73, 53.81, weight=0.3),
        County("Miandorud", 36.60, 53.20, weight=0.4),
        County("Savadkuh", 36.12, 53.06, weight=0.4, radius_km=10),
        County("Savadkuh-e Shomali", 36.30, 52.89, weight=0.3, radius_km=8),
        County("Kelardasht", 36.50, 51.14, weight=0.3, radius_km=8),
        County("Simorgh", 36.57, 52.80, weight=0.3),
    ),
    places=(
        PlaceSpec("Sari crisis intervention centre", K.RESIDENTIAL_LEVEL_1, "Sari", 10),
        PlaceSpec("Amol crisis intervention centre", K.RESIDENTIAL_LEVEL_2, "Amol", 4),
        *(PlaceSpec(f"{c} social emergency centre", K.OUTPATIENT, c) for c in (
            "Babol", "Qaemshahr", "Behshahr", "Neka", "Juybar", "Babolsar", "Fereydunkenar", "Mahmudabad",
            "Nur", "Nowshahr", "Chalus", "Tonekabon", "Ramsar", "Abbasabad", "Galugah", "Miandorud",
            "Savadkuh")),
        PlaceSpec("Mazandaran safe house", K.SAFE_HOUSE, "Sari", 8),
        PlaceSpec("Mazandaran health house", K.HEALTH_HOUSE, "Sari", 6),
        # Being built (DOMAIN.md): they open during the run.
        PlaceSpec("Savadkuh-e Shomali social emergency centre", K.OUTPATIENT, "Savadkuh-e Shomali",
                  opens_after_days=3),
        PlaceSpec("Kelardasht social emergency centre", K.OUTPATIENT, "Kelardasht", opens_after_days=5),
        PlaceSpec("Simorgh social emergency centre", K.OUTPATIENT, "Simorgh", opens_after_days=8),
    ),
    teams=_numbered("MZN", [("Sari", 3, 2), ("Amol", 2, 0), ("Babol", 2, 0), ("Qaemshahr", 1, 0),
                            ("Behshahr", 1, 0), ("Neka", 1, 0), ("Juybar", 1, 0), ("Babolsar", 1, 0),
                            ("Mahmudabad", 1, 0), ("Nowshahr", 1, 0), ("Chalus", 1, 0), ("Tonekabon", 1, 0)]),
    calls_per_day=45_000 / 365,
    other_incidents_per_day=10.0,
    direct_admissions_per_day=1.5,
    admit_share=0.2,
    source="Mazandaran welfare: more than 45,000 calls to line 123 in a year; 19 centres",
)

PROFILES: dict[str, ProvinceProfile] = {p.code: p for p in (QAZVIN, ALBORZ, KERMANSHAH, MAZANDARAN)}


def generic(code: str) -> ProvinceProfile:
    """A province the reports say nothing about: scaled by population (``nation``)."""

    return profile(code)


ALL = "all"


def scaled(p: ProvinceProfile, volume: float) -> ProvinceProfile:
    """The province with ``volume`` times its calls, cases and direct admissions (same ratios)."""
    if volume == 1.0:
        return p
    from dataclasses import replace

    return replace(p, calls_per_day=p.calls_per_day * volume, other_incidents_per_day=p.other_incidents_per_day * volume,
                   direct_admissions_per_day=p.direct_admissions_per_day * volume)


def expand(provinces: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Province codes as given, with ``all`` standing for the 31 (the reported ones first)."""
    out: list[str] = []
    for code in provinces:
        for c in ((*PROFILES, *sorted(set(PROVINCES) - set(PROFILES))) if code.lower() == ALL else (code,)):
            if c not in out:
                out.append(c)
    return tuple(out)


def expected_ratios(p: ProvinceProfile) -> dict[str, float]:
    """What the profile's rates mean per call: interventions, dispatches and admissions.

    Dispatches: every incident gets a team (the few cancelled for want of one are within the
    tolerance). Admissions: a share of the call-outs, plus those brought straight in."""
    incidents = p.calls_per_day * p.intervention_share + p.other_incidents_per_day
    admissions = incidents * p.admit_share + p.direct_admissions_per_day
    return {"interventions": p.intervention_share, "dispatches": incidents / p.calls_per_day,
            "admissions": admissions / p.calls_per_day}


def profile_for(code: str) -> ProvinceProfile:
    if code in PROFILES:
        return PROFILES[code]
    if code not in PROVINCES:
        raise ValueError(f"unknown province {code!r}; one of {', '.join(sorted(PROVINCES))}")
    return generic(code)
