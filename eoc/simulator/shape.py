"""The shape of a simulated province (شکل استان شبیه‌سازی‌شده): its counties, places, teams and
rates. The hand-made profiles (``profiles``) and the census-scaled ones (``nation``) both use it."""

from __future__ import annotations

from dataclasses import dataclass

from events.vocabulary import CentreKind, ShiftKind

K = CentreKind
DAY_SHIFTS = (ShiftKind.MORNING, ShiftKind.EVENING)
ROUND_THE_CLOCK = (ShiftKind.MORNING, ShiftKind.EVENING, ShiftKind.NIGHT)


@dataclass(frozen=True, slots=True)
class County:
    """A county (شهرستان): its seat, how far around it cases happen, its share of callers."""

    name: str
    lat: float
    lon: float
    weight: float = 1.0  # relative share of the province's calls and cases (population)
    radius_km: float = 6.0
    # The county (شهرستان) of the reference table (events/data) this area belongs to, when the
    # area is a town or district of it (Mohammadiyeh is in Alborz county, Alamut in Qazvin).
    official: str = ""

    @property
    def official_name(self) -> str:
        """The county's name as the API knows it."""
        return self.official or self.name


@dataclass(frozen=True, slots=True)
class PlaceSpec:
    name: str
    kind: CentreKind
    county: str
    capacity: int = 0
    opens_after_days: float = 0.0  # a centre being built: registered this many simulated days in


@dataclass(frozen=True, slots=True)
class TeamSpec:
    name: str
    county: str
    shifts: tuple[ShiftKind, ...] = DAY_SHIFTS
    crew: int = 2


@dataclass(frozen=True)
class ProvinceProfile:
    code: str
    counties: tuple[County, ...]
    places: tuple[PlaceSpec, ...]
    teams: tuple[TeamSpec, ...]
    calls_per_day: float
    other_incidents_per_day: float  # opened from police, judiciary, self, other centres...
    direct_admissions_per_day: float  # people brought straight to a residential centre
    admit_share: float = 0.22  # share of team call-outs that end in an admission
    intervention_share: float = 0.10  # share of calls escalated to an incident
    source: str = ""

    def county(self, name: str) -> County:
        for c in self.counties:
            if c.name == name:
                return c
        raise KeyError(f"{self.code} has no county {name!r}")

    @property
    def capital(self) -> County:
        return self.counties[0]
