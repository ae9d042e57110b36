"""``inside_iran`` keeps its answer per cell for the cells wholly inside or wholly outside
(events/reference.py): for every point it answers what the exact test answers — in the
country, at sea, across the borders, and right at the boundary and its coastal margin."""

from __future__ import annotations

import random

from events.reference import _boundary, _inside_iran_exactly, inside_iran


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
