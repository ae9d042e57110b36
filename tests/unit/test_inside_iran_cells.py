"""``inside_iran`` keeps its answer per cell for the cells wholly inside or wholly outside
(events/reference.py): for every point it answers what the exact test answers — in the
country, at sea, across the borders, and right at the boundary and its coastal margin."""

from __future__ import annotations

import math
import random

from events.reference import (
    COAST_MARGIN_KM,
    _boundary,
        _edges,
    _inside_iran_exactly,
    _km_to_edges,
    _km_to_ring,
    _polygons_at,
    inside_iran,
)


def test_the_cells_answer_as_the_exact_test_everywhere_around_iran():
    rnd = random.Random(1403)
    points = [(rnd.uniform(23.0, 41.5), rnd.uniform(42.0, 65.0)) for _ in range(1200)]
    vertices = [vertex for polygon in _boundary() for ring in polygon for vertex in ring]
    for lon, lat in rnd.sample(vertices, 250):  # at the boundary, and around it within a few km
        points += [(lat + rnd.uniform(-0.08, 0.08), lon + rnd.uniform(-0.08, 0.08)) for _ in range(3)]
    answers = [(lat, lon, inside_iran(lat, lon)) for lat, lon in points]
    assert [a for *_, a in answers] == [_inside_iran_exactly(lat, lon) for lat, lon, _ in answers]
    assert 0 < sum(a for *_, a in answers) < len(answers)  # both answers were given
    # Asked again, from the kept cells: the same.
    assert all(inside_iran(lat, lon) == a for lat, lon, a in answers)


def test_far_away_and_non_finite_points_are_outside():
    assert inside_iran(48.85, 2.35) is False  # Paris
    assert inside_iran(-33.9, 151.2) is False
    assert inside_iran(float("nan"), 50.0) is False
    assert inside_iran(35.69, 51.39) is True  # Tehran


def test_the_distance_on_arrays_is_the_loops_distance_and_the_margin_is_decided_as_the_loop_decides():
    """The coastal margin is decided by the distance to the nearest edge: computed on arrays
    (all edges at once), it is the loop's distance to within rounding, and a point right at
    the margin is answered as the loop answers it."""
    rnd = random.Random(7)
    rings = [(ring, edges) for polygon, edges_of in zip(_boundary(), _edges()) for ring, edges in zip(polygon, edges_of)]
    vertices = [vertex for ring, _ in rings for vertex in ring]
    points = [(rnd.uniform(42.0, 65.0), rnd.uniform(23.0, 41.5)) for _ in range(300)]
    points += [(lon + rnd.uniform(-0.1, 0.1), lat + rnd.uniform(-0.1, 0.1)) for lon, lat in rnd.sample(vertices, 300)]
    for lon, lat in points:
        for ring, edges in rings:
            assert abs(_km_to_edges(lon, lat, edges) - _km_to_ring(lon, lat, ring)) < 1e-9
    # Points at the margin's own distance from the boundary (found by halving, to a hair's
    # breadth on either side): answered exactly as the loop's test answers them.
    def by_the_loop(lat: float, lon: float) -> bool:
        inside, near = _polygons_at(lat, lon)
        return inside or any(_km_to_ring(lon, lat, ring) <= COAST_MARGIN_KM for polygon, _ in near for ring in polygon)

    at_margin = 0
    for lon, lat in rnd.sample(vertices, 40):
        for bearing in range(0, 360, 45):
            east, north = math.cos(math.radians(bearing)), math.sin(math.radians(bearing))
            lo, hi = 0.0, 0.3  # degrees along the bearing
            if by_the_loop(lat + hi * north, lon + hi * east):
                continue  # still inside 0.3° away: no margin crossed on this bearing
            for _ in range(45):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if by_the_loop(lat + mid * north, lon + mid * east) else (lo, mid)
            for step in (lo, hi):
                point = (lat + step * north, lon + step * east)
                assert _inside_iran_exactly(*point) == by_the_loop(*point), point
            at_margin += 1
    assert at_margin > 50
