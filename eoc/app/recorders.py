"""The event store's recorders, with one addition: a command's Idempotency-Key outcome is
written in the transaction that records its events (eoc/app/idempotency.py says why).

The writer (eoc/app/writer.py) passes ``outcomes``: for each command of the batch sent with an
Idempotency-Key, its key and a function that renders its outcome from the notification ids
the batch's events got (a command's answer carries the log position of its last event). The
key's row is written here — updated where a claim made it (PostgreSQL), inserted where none did
(SQLite's claims only read) — inside the same transaction: the events and the outcome are
committed together or not at all.

Configured by ``Settings.eventsourcing_env`` (``APPLICATION_RECORDER_TOPIC``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier


@dataclass(frozen=True, slots=True)
class Outcome:
    """A keyed command's outcome, written with its events, as the key's whole row if the row is
    not there: SQLite's claim writes none, and in PostgreSQL a claim does not wait for the disk
    (eoc/app/idempotency.py), so a database that crashed and came back between the claim and this
    commit has lost it; the events must then still carry their key, or a retry would run the
    command again."""

    principal: str
    key: str
    request: str  # the claim's request hash and owner, for the row written afresh
    owner: str
    render: Callable[[Sequence[int]], bytes]  # the batch's notification ids -> the outcome


# The outcome, and the claim's row again if it was lost (Outcome's docstring).
_UPSERT = ("INSERT INTO {table} (principal, key, request, owner, created, outcome) VALUES ({p},{p},{p},{p},{p},{p}) "
           "ON CONFLICT (principal, key) DO UPDATE SET outcome = excluded.outcome")


def _outcome_row(o: Outcome, ids: Sequence[int]) -> tuple[Any, ...]:
    return (o.principal, o.key, o.request, o.owner, time.time(), o.render(list(ids)))


def _outcomes(kwargs: dict[str, Any]) -> Sequence[Outcome]:
    return kwargs.get("outcomes") or ()


class SQLiteRecorder(SQLiteApplicationRecorder):
    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        for o in _outcomes(kwargs):
            c.execute(_UPSERT.format(table="idempotency_keys", p="?"), _outcome_row(o, ids or ()))
        return ids


class PostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: Any, *args: Any, **kwargs: Any) -> None:
        # The library's database function writes neither the outcomes nor the lost-ack check.
        if getattr(datastore, "enable_db_functions", False):
            raise ValueError("POSTGRES_ENABLE_DB_FUNCTIONS is not supported: outcomes are written by insert_events")
        super().__init__(datastore, *args, **kwargs)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """``_insert_once``, tried again on a lost connection (the library's ``retry``: ten
        attempts, 0.2 s apart). A connection lost after the commit reached PostgreSQL but
        before its acknowledgement came back leaves the rows stored: the next attempt then
        meets them (IntegrityError). If they are these very rows — each event's aggregate,
        version, topic and state — the batch was committed and their notification ids are its
        answer; otherwise another writer was first, and the writer decides again (an answer of
        "conflict" here would make the writer decide the batch again and store a create without
        a chosen id twice)."""
        attempts = 0

        @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # the library's own, as before
        def attempt() -> Sequence[int] | None:  # a lost connection in the insert or in the check: again
            nonlocal attempts
            attempts += 1
            try:
                return self._insert_once(stored_events, **kwargs)
            except IntegrityError:
                ids = self._stored_already(stored_events) if attempts > 1 else None
                if ids is None:
                    raise
                return ids

        return attempt()  # type: ignore[no-any-return]

    def _stored_already(self, stored_events: Sequence[StoredEvent]) -> list[int] | None:
        """The notification ids of these very events if they are all stored, else None. Sound
        because every event's state carries a random event id and only this call stores a
        given event: identical rows are this batch's own, committed whole (one transaction)."""
        statement = SQL("SELECT topic, state, notification_id FROM {schema}.{table} "
                        "WHERE originator_id = %s AND originator_version = %s").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        ids = []
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            for e in stored_events:
                curs.execute(statement, (e.originator_id, e.originator_version))
                row = curs.fetchone()
                if row is None or row["topic"] != e.topic or bytes(row["state"]) != bytes(e.state):
                    return None
                ids.append(int(row["notification_id"]))
        return ids

    def _insert_once(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's insert (eventsourcing 9.5.6, ``PostgresApplicationRecorder.insert_events``)
        with one difference: a failure between the first row and the last leaves the transaction
        by its exception, so it is rolled back. The library keeps the exception until the
        transaction block has ended, to spare psycopg a warning; a failure that is not the
        database's own (an outcome that cannot be rendered, a bug) then ended the block normally,
        and PostgreSQL committed the rows written so far: one side of a transfer, the events
        without their outcome (tests/integration/test_write_side.py cuts a transfer between its sides)."""
        ids: Sequence[int] | None = None
        with self.datastore.get_connection() as conn, conn.pipeline() as pipeline, conn.transaction():
            with conn.cursor() as curs:
                self._insert_events(curs, stored_events, **kwargs)
            if len(stored_events) > 0:
                with conn.cursor() as curs:
                    self._insert_stored_events(curs, stored_events, **kwargs)
                    # The uniqueness check's IntegrityError is raised here, not at commit.
                    pipeline.sync()
                    ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        return ids

    def _write_outcomes(self, curs: Any, ids: Sequence[int], kwargs: dict[str, Any]) -> None:
        statement = SQL(_UPSERT.format(table="{schema}.idempotency_keys", p="%s")).format(
            schema=Identifier(self.datastore.schema))
        for o in _outcomes(kwargs):
            curs.execute(statement, _outcome_row(o, ids))

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        if not stored_events:  # no ids to wait for: the outcomes go with the (empty) transaction
            self._write_outcomes(curs, [], kwargs)

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        self._write_outcomes(curs, list(ids or ()), kwargs)
        return ids
