"""What the project uses of the eventsourcing library (pinned: 9.5.6) beyond its documented
API, in one place; ``tests/unit/test_adapter_eventsourcing.py`` pins each behaviour, so that an
upgrade that changes one fails there and nowhere else.

- ``save_in_order``: the library's public ``Application.save`` takes domain events as well as
  aggregates and records the events in the order they are given. We rely on that order (the
  log keeps the order in which a batch's commands were decided, across aggregates) and on
  ``save`` caching the aggregates passed along with their events already collected.
- ``forget_cached``: the repository's aggregate cache (``Repository.cache``, a ``Cache`` whose
  ``get(id, evict=True)`` drops an entry), emptied of a batch that lost a race.
- The recorders' hooks (``eoc/app/recorders.py``) and ``EOCApplication._notify`` override
  protected methods of the library; the test checks that their signatures are still the ones
  the overrides were written against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Recording

PINNED_VERSION = "9.5.6"  # pyproject.toml pins it; the test checks the installed one


def save_in_order(app: Application[UUID], events: list[Any], aggregates: Mapping[UUID, Any],
                  **kwargs: Any) -> list[Recording[UUID]]:
    """Store ``events`` in this order in one transaction, caching ``aggregates`` as the library's
    save does. The aggregates' pending events must be collected already (they are in ``events``):
    ``save`` would otherwise collect and store them a second time. ``kwargs`` go to the recorder's
    ``insert_events`` (eoc/app/recorders.py reads ``outcomes``)."""
    if any(getattr(aggregate, "pending_events", None) for aggregate in aggregates.values()):
        raise ValueError("save_in_order: collect the aggregates' pending events first")
    return app.save(*events, *aggregates.values(), **kwargs)


def forget_cached(app: Application[UUID], aggregate_ids: Iterable[UUID]) -> None:
    """Drop these aggregates from the repository's cache (if it has one): the next load reads
    them from the store."""
    cache = app.repository.cache
    if cache is None:
        return
    for aggregate_id in aggregate_ids:
        try:
            cache.get(aggregate_id, evict=True)
        except KeyError:
            pass


def is_cached(app: Application[UUID], aggregate_id: UUID) -> bool:
    """Whether the repository's cache holds this aggregate (for tests and probes)."""
    cache = app.repository.cache
    if cache is None:
        return False
    try:
        cache.get(aggregate_id)
    except KeyError:
        return False
    return True
