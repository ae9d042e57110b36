"""Routes along the road layer, where one exists; a straight line elsewhere.

The dashboard's base layers (ui-bridge/static/basemap/iran.json) carry no main roads yet: no
public copy of Natural Earth's roads or an OpenStreetMap extract could be brought in (see
ui-bridge/web/SOURCES.md). A deployment that has a road layer puts it there as
``"roads": <GeoJSON FeatureCollection of LineStrings>`` and the simulator's teams drive along
it: to the nearest road vertex, along the shortest path through the network, and off the
road to their destination. Without a layer, or when the road is too far (``MAX_OFF_ROAD_KM``)
or unconnected, a drive is a straight line, as before.
"""

from __future__ import annotations

import heapq
import json
import math
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from eoc.simulator.geo import Point, distance_km

BASEMAP = Path(__file__).resolve().parents[2] / "ui-bridge" / "static" / "basemap" / "iran.json"
MAX_OFF_ROAD_KM = 15.0
GRID = 0.001  # vertices closer than about 100 m are one junction


class RoadNetwork:
    def __init__(self, lines: list[list[tuple[float, float]]]) -> None:
        """``lines``: polylines of (lon, lat), as in GeoJSON."""
        self.nodes: dict[tuple[int, int], Point] = {}
        self.edges: dict[tuple[int, int], dict[tuple[int, int], float]] = {}
        for line in lines:
            keys = [self._add(lon, lat) for lon, lat in line]
            for a, b in pairwise(keys):
                if a != b:
                    km = distance_km(self.nodes[a], self.nodes[b])
                    self.edges.setdefault(a, {})[b] = km
                    self.edges.setdefault(b, {})[a] = km

    def _add(self, lon: float, lat: float) -> tuple[int, int]:
        key = (round(lat / GRID), round(lon / GRID))
        self.nodes.setdefault(key, Point(lat, lon))
        return key

    def _nearest(self, p: Point) -> tuple[tuple[int, int] | None, float]:
        best, best_km = None, math.inf
        for key, q in self.nodes.items():
            if abs(q.lat - p.lat) > 0.5 or abs(q.lon - p.lon) > 0.5:
                continue
            km = distance_km(p, q)
            if km < best_km:
                best, best_km = key, km
        return best, best_km

    def route(self, a: Point, b: Point) -> list[Point]:
        """The points of a drive from ``a`` to ``b``: along the roads, or straight."""
        start, ka = self._nearest(a)
        end, kb = self._nearest(b)
        if start is None or end is None or max(ka, kb) > MAX_OFF_ROAD_KM:
            return [a, b]
        path = self._shortest(start, end)
        if path is None:
            return [a, b]
        points = [a, *(self.nodes[k] for k in path), b]
        straight = distance_km(a, b)
        if length_km(points) > 3 * straight + 2 * MAX_OFF_ROAD_KM:  # a detour no driver takes
            return [a, b]
        return points

    def _shortest(self, start: tuple[int, int], end: tuple[int, int]) -> list[tuple[int, int]] | None:
        dist = {start: 0.0}
        before: dict[tuple[int, int], tuple[int, int]] = {}
        heap = [(0.0, start)]
        while heap:
            d, k = heapq.heappop(heap)
            if k == end:
                path = [k]
                while path[-1] in before:
                    path.append(before[path[-1]])
                return path[::-1]
            if d > dist.get(k, math.inf):
                continue
            for n, km in self.edges.get(k, {}).items():
                if d + km < dist.get(n, math.inf):
                    dist[n] = d + km
                    before[n] = k
                    heapq.heappush(heap, (d + km, n))
        return None


def length_km(points: list[Point]) -> float:
    return sum(distance_km(p, q) for p, q in pairwise(points))


def point_along(points: list[Point], fraction: float) -> Point:
    """The point a fraction of the way along a route (by distance)."""
    total = length_km(points)
    if total <= 0 or fraction <= 0:
        return points[0]
    goal = min(1.0, fraction) * total
    for p, q in pairwise(points):
        leg = distance_km(p, q)
        if goal <= leg and leg > 0:
            f = goal / leg
            return Point(p.lat + (q.lat - p.lat) * f, p.lon + (q.lon - p.lon) * f)
        goal -= leg
    return points[-1]


def network_from(collection: dict[str, Any] | None) -> RoadNetwork | None:
    if not collection or not collection.get("features"):
        return None
    lines: list[list[tuple[float, float]]] = []
    for f in collection["features"]:
        g = f.get("geometry") or {}
        if g.get("type") == "LineString":
            lines.append([tuple(c[:2]) for c in g["coordinates"]])
        elif g.get("type") == "MultiLineString":
            lines.extend([tuple(c[:2]) for c in part] for part in g["coordinates"])
    return RoadNetwork(lines) if lines else None


@lru_cache(maxsize=1)
def shipped() -> RoadNetwork | None:
    """The road layer of the shipped base map, if it has one (today it has none)."""
    try:
        return network_from(json.loads(BASEMAP.read_text(encoding="utf-8")).get("roads"))
    except (OSError, ValueError):
        return None
