"""The bounded world (tests/support/history.py ``bounded``), which the memory benchmark feeds to
the system for a million events, stays bounded: a centre never holds more than the world's most
stays, however long it runs. (It did not: admissions outran discharges, and the benchmark counted
the residents as the process's growth.)"""

from __future__ import annotations

from eoc.app.service import EOCApplication
from tests.support.history import bounded


def test_the_bounded_worlds_centres_stay_within_their_most_stays() -> None:
    app = EOCApplication(env={})  # the library's in-memory store
    try:
        history = bounded(app, lambda envelope: envelope, batch=200)
        sizes = []
        for _ in range(4):
            history.run(15_000)
            sizes.append(sum(len(stays) for stays in history.stays.values()))
            assert max(len(stays) for stays in history.stays.values()) <= history.most_stays
        # Full after about 40k events (31 provinces × 20), then flat.
        assert sizes[-1] <= sizes[-2] * 1.1, sizes
    finally:
        app.close()
