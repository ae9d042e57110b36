"""The event store's recorders, with one addition: a command's Idempotency-Key outcome is
written in the transaction that records its events (eoc/app/idempotency.py says why).

The writer (eoc/app/writer.py) passes ``outcomes``: for each command of the batch sent with an
Idempotency-Key, its key and a function that renders its outcome from the notification ids
the batch's events got (a command's answer carries the log position of its last event). The
row was claimed before the command ran; here it is updated, inside the same transaction: the
events and the outcome are committed together or not at all.

Configured by ``Settings.eventsourcing_env`` (``APPLICATION_RECORDER_TOPIC``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg.sql import SQL, Identifier


@dataclass(frozen=True, slots=True)
class Outcome:
    principal: str
    key: str
    render: Callable[[Sequence[int]], bytes]  # the batch's notification ids -> the outcome


def _outcomes(kwargs: dict[str, Any]) -> Sequence[Outcome]:
    return kwargs.get("outcomes") or ()


class SQLiteRecorder(SQLiteApplicationRecorder):
    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        for o in _outcomes(kwargs):
            c.execute("UPDATE idempotency_keys SET outcome=? WHERE principal=? AND key=?",
                      (o.render(list(ids or ())), o.principal, o.key))
        return ids


class PostgresRecorder(PostgresApplicationRecorder):
    def _write_outcomes(self, curs: Any, ids: Sequence[int], kwargs: dict[str, Any]) -> None:
        statement = SQL("UPDATE {schema}.idempotency_keys SET outcome=%s WHERE principal=%s AND key=%s").format(
            schema=Identifier(self.datastore.schema))
        for o in _outcomes(kwargs):
            curs.execute(statement, (o.render(list(ids)), o.principal, o.key))

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        if not stored_events:  # no ids to wait for: the outcomes go with the (empty) transaction
            self._write_outcomes(curs, [], kwargs)

    def _fetch_ids_after_insert_events(self, curs: Any, stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        self._write_outcomes(curs, list(ids or ()), kwargs)
        return ids
