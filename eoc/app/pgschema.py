"""Tables made by processes that start together on one PostgreSQL.

The API, the relay, the workers, the bridge, the exchange feed and the watchdog all start at
once in a deployment (docker-compose, the README's cluster example) and each makes the tables
it needs if they are missing. ``CREATE TABLE IF NOT EXISTS`` races itself in PostgreSQL: two
sessions can both find the table missing, and the second fails on a unique index of the
catalogue (``duplicate key value violates unique constraint "pg_type_typname_nsp_index"``),
which once killed the bridge at start. So they take turns: our own tables on an advisory lock
held for the transaction that makes them, the event store's (made by the eventsourcing
library when the application is built) on the same lock held by a session around the build.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

SCHEMA_LOCK = 7461020213  # pg_advisory_*lock key: "the schema is being made"


def create_tables(conn: Any, statements: Iterable[str]) -> None:
    """Run ``statements`` (CREATE … IF NOT EXISTS, ALTER … IF NOT EXISTS) on a psycopg
    connection, one process at a time."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        for statement in statements:
            conn.execute(statement)


def pool_with_tables(dsn: str, statements: Iterable[str], *, max_size: int, options: str | None = None) -> Any:
    """A pool of autocommit connections to ``dsn`` (psycopg_pool), its tables made first;
    ``options``: server settings of its sessions (libpq's ``options``, e.g. ``-c name=value``)."""
    from psycopg_pool import ConnectionPool

    kwargs: dict[str, Any] = {"autocommit": True}
    if options:
        kwargs["options"] = options
    pool = ConnectionPool(dsn, min_size=1, max_size=max_size, open=True, kwargs=kwargs)
    with pool.connection() as conn:
        create_tables(conn, statements)
    return pool


@contextlib.contextmanager
def taking_turns(dsn: str | None) -> Iterator[None]:
    """Hold the schema lock while a library makes its tables (``dsn`` None: no PostgreSQL,
    nothing to wait for)."""
    if not dsn:
        yield
        return
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))
