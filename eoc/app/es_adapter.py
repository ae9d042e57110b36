"""What the project uses of the eventsourcing library (pinned: 9.5.6) beyond its documented
API, in one place; ``tests/unit/test_adapter_eventsourcing.py`` pins each behaviour, so that an
upgrade that changes one fails there and nowhere else.

- ``save_in_order``: the library's public ``Application.save`` takes domain events as well as
  aggregates and records the events in the order they are given. We rely on that order (the
  log keeps the order in which a batch's commands were decided, across aggregates) and on
  ``save`` caching the aggregates passed along with their events already collected.
- ``forget_cached``: the repository's aggregate cache (``Repository.cache``, a ``Cache`` whose
  ``get(id, evict=True)`` drops an entry), emptied of a batch that lost a race.
- ``current_many``: the cache's entries read without the repository's copy, and on
  PostgreSQL the newer events of many aggregates in one query of the recorder's events table
  (``datastore``, ``events_table_name``), applied with the library's ``project_aggregate``.
- The recorders' hooks (``eoc/app/recorders.py``) and ``EOCApplication._notify`` override
  protected methods of the library; the test checks that their signatures are still the ones
  the overrides were written against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from copy import deepcopy
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, project_aggregate
from eventsourcing.persistence import Recording, StoredEvent

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


def current_many(app: Application[UUID], aggregate_ids: Iterable[UUID]) -> dict[UUID, Any]:
    """These aggregates as the store has them now, for reading only, in one trip to the store.

    With one writer the cache is always current: its entries are returned as they are (not
    copied, as the repository's ``get`` copies them), and the ones not cached are left out for
    the caller to load as usual. On PostgreSQL shared by several writers the cache may be behind
    (the library does not cache what a writer saves when it fast-forwards: a cached aggregate is
    brought up to date by the next ``get``, one query each). Here every aggregate's newer events
    — all of an uncached one's — come in one query, are applied to a copy of the cached
    aggregate, and the result is cached. An unknown id is left out."""
    repository = app.repository
    cache = repository.cache
    cached: dict[UUID, Any] = {}
    wanted = list(dict.fromkeys(aggregate_ids))
    if cache is not None:
        for aggregate_id in wanted:
            try:
                cached[aggregate_id] = cache.get(aggregate_id)
            except KeyError:
                pass
    if not repository.fastforward:
        return cached
    newer = _newer_events(app, {i: cached[i].version if i in cached else 0 for i in wanted})
    if newer is None:
        return {}
    current: dict[UUID, Any] = {}
    for aggregate_id in wanted:
        events = [app.mapper.to_domain_event(stored) for stored in newer.get(aggregate_id, ())]
        base = cached.get(aggregate_id)
        if not events:
            if base is not None:
                current[aggregate_id] = base
            continue
        aggregate = project_aggregate(deepcopy(base) if base is not None else None, events)
        if aggregate is not None:
            current[aggregate_id] = aggregate
            if cache is not None:
                cache.put(aggregate_id, aggregate)
    return current


def _newer_events(app: Application[UUID], versions: dict[UUID, int]) -> dict[UUID, list[StoredEvent]] | None:
    """Each aggregate's stored events after the given version, in one query (PostgreSQL's
    recorder: its ``datastore`` and ``events_table_name``); None on other stores."""
    recorder = app.recorder
    datastore = getattr(recorder, "datastore", None)
    table = getattr(recorder, "events_table_name", None)
    if datastore is None or table is None or not hasattr(datastore, "schema"):
        return None
    from psycopg.sql import SQL, Identifier

    statement = SQL("SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {schema}.{table} e "
                    "JOIN unnest(%s::uuid[], %s::bigint[]) AS known(id, version) "
                    "ON e.originator_id = known.id AND e.originator_version > known.version "
                    "ORDER BY e.originator_id, e.originator_version").format(
        schema=Identifier(datastore.schema), table=Identifier(table))
    found: dict[UUID, list[StoredEvent]] = {}
    with datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, [list(versions), list(versions.values())])
        for row in curs.fetchall():
            aggregate_id = UUID(str(row["originator_id"]))
            found.setdefault(aggregate_id, []).append(StoredEvent(
                originator_id=aggregate_id, originator_version=row["originator_version"],
                topic=row["topic"], state=bytes(row["state"])))
    return found
