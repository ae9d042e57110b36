"""Points, distances and straight-line travel, always inside Iran."""

from __future__ import annotations

import math
import random
from typing import NamedTuple

from events.places import in_iran

EARTH_KM = 6371.0


class Point(NamedTuple):
    lat: float
    lon: float

    def to_json(self) -> dict[str, float]:
        return {"lat": round(self.lat, 5), "lon": round(self.lon, 5)}

    @classmethod
    def from_json(cls, data: dict[str, float]) -> Point:
        return cls(float(data["lat"]), float(data["lon"]))


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance (haversine)."""
    la1, lo1, la2, lo2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(min(1.0, h)))


def heading(a: Point, b: Point) -> float:
    """Initial bearing from a to b, degrees clockwise from north, in [0, 360)."""
    la1, la2 = math.radians(a.lat), math.radians(b.lat)
    dlon = math.radians(b.lon - a.lon)
    y = math.sin(dlon) * math.cos(la2)
    x = math.cos(la1) * math.sin(la2) - math.sin(la1) * math.cos(la2) * math.cos(dlon)
    return round(math.degrees(math.atan2(y, x)) % 360.0, 1) % 360.0


def along(a: Point, b: Point, fraction: float) -> Point:
    """The point a given fraction of the way along the straight line from a to b."""
    f = min(1.0, max(0.0, fraction))
    return Point(a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f)


def scatter(rng: random.Random, centre: Point, radius_km: float) -> Point:
    """A random point within ``radius_km`` of ``centre`` (uniform over the disc), inside Iran."""
    r = radius_km * math.sqrt(rng.random())
    theta = rng.uniform(0, 2 * math.pi)
    lat = centre.lat + (r * math.cos(theta)) / 111.0
    lon = centre.lon + (r * math.sin(theta)) / (111.0 * math.cos(math.radians(centre.lat)))
    if not in_iran(lat, lon):  # off the coast or over a border: the seat itself is inside
        return centre
    return Point(lat, lon)
