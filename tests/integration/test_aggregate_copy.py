"""The copy of a cached aggregate each command is given (``EOCAggregate.__deepcopy__``): the same
state, nothing mutable shared, so that a refused command leaves the cache as it was."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from eoc.app.config import Settings
from eoc.main.bootstrap import build
from tests.support.history import bounded

SHAREABLE = (str, int, float, bool, type(None))


def mutable_parts(value: Any, seen: dict[int, Any] | None = None) -> dict[int, Any]:
    """Every list, dict, set and object reachable from ``value`` (not the ones that cannot change)."""
    seen = {} if seen is None else seen
    if isinstance(value, SHAREABLE) or id(value) in seen:
        return seen
    if isinstance(value, (list, dict, set)) or hasattr(value, "__dict__"):
        seen[id(value)] = value
    children = (value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple, set))
                else vars(value).values() if hasattr(value, "__dict__") and not isinstance(value, type) else ())
    for child in children:
        mutable_parts(child, seen)
    return seen


def test_every_kind_of_aggregate_copies_whole_and_shares_nothing_mutable(tmp_path):
    system = build(Settings.from_env({}, data_dir=tmp_path, token_secret=b"t" * 32))
    try:
        history = bounded(system.app, system.follower.apply_telemetry)
        history.run(3000)
        cached = [entry[3] if isinstance(entry, list) else entry
                  for entry in system.app.repository.cache.cache.values()]
        kinds = Counter(type(a).__name__ for a in cached)
        assert {"Call", "Incident", "Team", "Centre"} <= set(kinds), kinds
        for aggregate in cached:
            twin = copy.deepcopy(aggregate)
            assert type(twin) is type(aggregate) and twin is not aggregate
            assert vars(twin) == vars(aggregate)
            assert twin.id == aggregate.id and twin.version == aggregate.version
            ours = mutable_parts(aggregate)
            theirs = mutable_parts(twin)
            assert not set(ours) & set(theirs), f"{type(aggregate).__name__} shares a mutable part with its copy"
        # A change to a copy's nested state (a centre's clients, an incident's place) stays in the copy.
        centre = next(a for a in cached if type(a).__name__ == "Centre")
        twin = copy.deepcopy(centre)
        twin.clients["someone"] = {"admitted_at": "now"}
        assert "someone" not in centre.clients
        incident = next(a for a in cached if type(a).__name__ == "Incident")
        twin = copy.deepcopy(incident)
        twin.location["lat"] = -1.0
        assert incident.location["lat"] != -1.0
    finally:
        system.close()
