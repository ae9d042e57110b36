"""The reference table of Iran's provinces (استان) and counties (شهرستان), and Iran's boundary.

Both are shipped as data in ``events/data/`` (made by ``scripts/reference/build.py`` from
registry packages; sources and licences in ``events/data/SOURCES.md``). A county is known by
its English name, its Persian name or an alias (a county seat's name such as Yasuj), compared
without case, spacing, hyphens or the Arabic/Persian letter variants a keyboard brings.

"Inside Iran" is a ray-casting point-in-polygon test over the simplified boundary, with a
margin of ``COAST_MARGIN_KM`` around it: the 1:10m coastline is coarse, and a port such as
Bandar Abbas lies just off it (the territorial sea reaches 22 km anyway). A point in Doha,
Basra (20 km from the border) or Herat is outside; a point on Qeshm inside.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, cast

import numpy as np

_FOLD = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "أ": "ا", "إ": "ا", "ۀ": "ه",
                       "\u200c": "", " ": "", "-": "", "'": "", "’": "", "_": ""})


def fold(name: str) -> str:
    """A name as compared: case, spaces, hyphens, apostrophes and letter variants ignored."""
    return name.casefold().translate(_FOLD)


@dataclass(frozen=True, slots=True)
class County:
    """A county (شهرستان) of a province, with its official code."""

    province: str
    name: str
    name_fa: str
    official_code: int
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProvinceCounties:
    code: str
    name: str
    name_fa: str
    official_code: int
    counties: tuple[County, ...]


def _read(name: str) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(resources.files("events").joinpath("data", name).read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def provinces() -> dict[str, ProvinceCounties]:
    """Every province by its project code (THR, QZV, ...), with its counties."""
    out = {}
    for p in _read("counties.json")["provinces"]:
        counties = tuple(County(p["code"], c["name"], c["name_fa"], c["official_code"], tuple(c["aliases"]))
                         for c in p["counties"])
        out[p["code"]] = ProvinceCounties(p["code"], p["name"], p["name_fa"], p["official_code"], counties)
    return out


@lru_cache(maxsize=1)
def _county_index() -> dict[tuple[str, str], County]:
    index: dict[tuple[str, str], County] = {}
    for code, p in provinces().items():
        for c in p.counties:
            for name in (c.name, c.name_fa, *c.aliases):
                index.setdefault((code, fold(name)), c)
    return index


def county(province: str, name: str) -> County | None:
    """The county of ``province`` called ``name`` (English, Persian or alias), or None."""
    return _county_index().get((province, fold(name)))


def counties_of(province: str) -> tuple[County, ...]:
    p = provinces().get(province)
    return p.counties if p else ()


@lru_cache(maxsize=1)
def _boundary() -> tuple[tuple[tuple[tuple[float, float], ...], ...], ...]:
    shape = _read("iran_boundary.json")
    return tuple(tuple(tuple((float(x), float(y)) for x, y in ring) for ring in polygon)
                 for polygon in shape["coordinates"])


@lru_cache(maxsize=1)
def _boxes() -> tuple[tuple[float, float, float, float], ...]:
    return tuple((min(x for x, _ in poly[0]), min(y for _, y in poly[0]),
                  max(x for x, _ in poly[0]), max(y for _, y in poly[0])) for poly in _boundary())


@lru_cache(maxsize=1)
def _edges() -> tuple[tuple[tuple[Any, Any, Any, Any], ...], ...]:
    """Per polygon, per ring: its edges as arrays (x, y of each vertex; x, y of the one before)."""
    return tuple(tuple((np.array([x for x, _ in ring]), np.array([y for _, y in ring]),
                        np.roll(np.array([x for x, _ in ring]), 1), np.roll(np.array([y for _, y in ring]), 1))
                       for ring in polygon) for polygon in _boundary())


@lru_cache(maxsize=1)
def _all_edges() -> tuple[Any, Any, Any, Any]:
    """Every ring's edges in one set of arrays: the nearest edge of the whole boundary at once."""
    rings = [edges for polygon in _edges() for edges in polygon]
    return tuple(np.concatenate([ring[i] for ring in rings]) for i in range(4))  # type: ignore[return-value]


def _in_ring(lon: float, lat: float, edges: tuple[Any, Any, Any, Any]) -> bool:
    """Even-odd rule: the edges that straddle the point's latitude and cross east of it. The
    same float operations, in the same order, as the loop over the ring they replace, on arrays."""
    xi, yi, xj, yj = edges
    straddle = (yi > lat) != (yj > lat)
    xi, yi, xj, yj = xi[straddle], yi[straddle], xj[straddle], yj[straddle]
    return bool(np.count_nonzero(lon < (xj - xi) * (lat - yi) / (yj - yi) + xi) % 2)


COAST_MARGIN_KM = 5.0
_KM_PER_DEGREE = 111.2


def _km_to_ring(lon: float, lat: float, ring: tuple[tuple[float, float], ...]) -> float:
    """Distance from the point to the ring's nearest edge, on a plane scaled at its latitude."""
    k = math.cos(math.radians(lat))
    best = math.inf
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1]):
        ax, ay, bx, by, px, py = x1 * k, y1, x2 * k, y2, lon * k, lat
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy or 1.0)))
        best = min(best, math.hypot(px - ax - t * dx, py - ay - t * dy))
    return best * _KM_PER_DEGREE


_ULP_ROOM_KM = 1e-6  # far more than any difference of rounding between the arrays and the loop


def _km_to_edges(lon: float, lat: float, edges: tuple[Any, Any, Any, Any]) -> float:
    """``_km_to_ring`` on the ring's edge arrays (``_edges``): the same distance, all edges at
    once (a new cell of ``inside_iran``'s cache took 0.8 ms in the loop over 875 vertices)."""
    xi, yi, xj, yj = edges
    k = math.cos(math.radians(lat))
    ax, ay, dx, dy = xj * k, yj, (xi - xj) * k, yi - yj  # from the vertex before to this one
    px, py = lon * k, lat
    length2 = dx * dx + dy * dy
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / np.where(length2 == 0, 1.0, length2), 0.0, 1.0)
    return float(np.min(np.hypot(px - ax - t * dx, py - ay - t * dy))) * _KM_PER_DEGREE


CELL_DEG = 0.1  # the cells of inside_iran's cache: about 11 km a side


def inside_iran(lat: float, lon: float) -> bool:
    """True if the point lies on Iran's land or islands, or within the coastal margin.

    Every position of a command is checked (10,000 position reports a second at the national
    scale), and the exact test walks the boundary's rings: so the answer is kept per cell of
    ``CELL_DEG`` degrees for the cells that lie wholly inside or wholly outside (beyond the
    margin); only a point in a cell the boundary or its margin passes through is tested exactly.
    The answer is the exact test's, for every point (tests/unit/test_inside_iran_cells.py)."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    whole = _cell(math.floor(lat / CELL_DEG), math.floor(lon / CELL_DEG))
    return _inside_iran_exactly(lat, lon) if whole is None else whole


@lru_cache(maxsize=65_536)
def _cell(row: int, column: int) -> bool | None:
    """True: every point of the cell is inside; False: none is (nor within the margin); None:
    the boundary or its margin passes near, each point is tested exactly."""
    lat, lon = (row + 0.5) * CELL_DEG, (column + 0.5) * CELL_DEG
    if not -90 <= lat <= 90:
        return None
    k = math.cos(math.radians(lat))
    # From the centre to any point of the cell, with room for the plane's scale at the point.
    reach = math.hypot(CELL_DEG * k, CELL_DEG) / 2 * _KM_PER_DEGREE * 1.5
    nearest = _km_to_edges(lon, lat, _all_edges())
    if nearest <= reach + COAST_MARGIN_KM + _ULP_ROOM_KM:  # arrays may differ from the loop in the last bits
        return None
    return _inside_iran_exactly(lat, lon)


def _polygons_at(lat: float, lon: float) -> tuple[bool, list[tuple[Any, Any]]]:
    """Whether the point is in one of the boundary's polygons (not in a hole); if not, the
    polygons (rings, edge arrays) whose box, with the margin, holds it."""
    margin = COAST_MARGIN_KM / _KM_PER_DEGREE * 2  # in degrees, generous for longitude at 40°N
    near = []
    for polygon, edges, (x0, y0, x1, y1) in zip(_boundary(), _edges(), _boxes()):
        if not (x0 - margin <= lon <= x1 + margin and y0 - margin <= lat <= y1 + margin):
            continue
        if _in_ring(lon, lat, edges[0]) and not any(_in_ring(lon, lat, hole) for hole in edges[1:]):
            return True, []
        near.append((polygon, edges))
    return False, near


def _inside_iran_exactly(lat: float, lon: float) -> bool:
    inside, near = _polygons_at(lat, lon)
    if inside:
        return True
    # The distance on arrays decides unless it is within a hair of the margin; then the loop's
    # own float operations do, so the answer is the loop's for every point.
    fast = [_km_to_edges(lon, lat, edges) for polygon, edges_of in near for edges in edges_of]
    if any(d <= COAST_MARGIN_KM - _ULP_ROOM_KM for d in fast):
        return True
    if all(d > COAST_MARGIN_KM + _ULP_ROOM_KM for d in fast):
        return False
    return any(_km_to_ring(lon, lat, ring) <= COAST_MARGIN_KM for polygon, _ in near for ring in polygon)
