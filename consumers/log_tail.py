"""The PostgreSQL event store's notification log, followed on an event loop (دنبال کردن دفتر رویدادها).

The relay reads the store's log in order and hands each event to Kafka. The library's
subscription (``eventsourcing.postgres.PostgresSubscription``) does it with two threads of its
own — one waits for PostgreSQL's NOTIFY, the other reads the new rows — and an iterator for a
third: a commit crosses three threads before the relay's event loop sends it. On a small
machine each hand-off is a wake-up and a wait for the GIL, paid by every sparse command
(BENCHMARKS.md, session 14). Here one asynchronous connection does both, on the loop that
sends: ``LISTEN``, read every row after the last one read, wait for the next NOTIFY (or
``poll_s``, whichever is first), read again.

The rows are read exactly as the library reads them (``select_notifications`` with
``inclusive_of_start=False``: ``notification_id > last ORDER BY notification_id LIMIT n``) and
given as its ``Notification`` records, so the decoder and its ordering guarantees are the
library's. A NOTIFY that arrives while rows are being read is kept by psycopg (3.2 and later)
and wakes the next wait at once: nothing committed is left unread until the next poll.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import psycopg
from eventsourcing.persistence import Notification
from psycopg.sql import SQL, Identifier

SELECT_LIMIT = 500  # rows a read, as the library's subscription reads them
POLL_S = 1.0  # a read at least this often, NOTIFY or not (a lost notification costs at most this)
APPLICATION_NAME = "eoc-log-tail"  # how the connection shows in pg_stat_activity


def connect_kwargs(recorder: Any) -> dict[str, Any]:
    """The connection settings of a PostgreSQL recorder's pool (its password function asked
    afresh, as the pool asks it for each new connection)."""
    pool = recorder.datastore.pool
    kwargs = {k: v for k, v in dict(pool.kwargs or {}).items() if k != "row_factory"}
    password = getattr(pool, "get_password_func", None)
    if password is not None:
        kwargs["password"] = password()
    return kwargs


class LogTail:
    """Batches of the log's rows after ``gt``, in order, for as long as it is iterated.

    ``listening`` is called once the connection listens (from then on no commit is missed);
    cancelling the iterating task ends it and closes the connection.
    """

    def __init__(self, recorder: Any, *, gt: int, limit: int = SELECT_LIMIT, poll_s: float = POLL_S) -> None:
        self.recorder = recorder
        self.last = gt  # the position of the last row read
        self.limit = limit
        self.poll_s = poll_s
        self.reads = 0  # SELECTs issued (a figure for tests and the curious)
        schema, table = recorder.datastore.schema, recorder.events_table_name
        self._listen = SQL("LISTEN {0}").format(Identifier(recorder.channel_name))
        self._select = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {0}.{1}"
            " WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(Identifier(schema), Identifier(table))

    async def batches(self, listening: Any = None) -> AsyncGenerator[list[Notification], None]:
        # TCP keepalives: a database that went away without a word is noticed within a minute
        # (the relay stops, and its restart resumes), not waited on for ever.
        conn = await psycopg.AsyncConnection.connect(**connect_kwargs(self.recorder), autocommit=True,
                                                     application_name=APPLICATION_NAME, keepalives=1,
                                                     keepalives_idle=30, keepalives_interval=10,
                                                     keepalives_count=3)
        async with conn:
            await conn.execute(self._listen)
            if listening is not None:
                listening()
            select, limit = self._select, self.limit
            while True:
                while True:  # everything committed so far
                    self.reads += 1
                    cursor = await conn.execute(select, (self.last, limit), prepare=True)
                    rows = await cursor.fetchall()
                    if rows:
                        self.last = rows[-1][0]
                        yield [Notification(id=r[0], originator_id=r[1], originator_version=r[2], topic=r[3],
                                            state=bytes(r[4])) for r in rows]
                    if len(rows) < limit:
                        break
                # The next commit's NOTIFY, or the poll. The generator ends by itself after one
                # notification (or the timeout), so the connection is free for the next read.
                async for _ in conn.notifies(timeout=self.poll_s, stop_after=1):
                    pass
