"""The relay's reading of the PostgreSQL log (consumers/log_tail.py) on a real database: every
row after its start, in order, each as the library's ``select_notifications`` gives it, in
reads of at most ``limit`` rows; a commit wakes it through NOTIFY (its poll set far beyond the
test's patience), and cancelling it closes its connection."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from consumers.log_tail import APPLICATION_NAME, LogTail
from eoc.app.config import Settings
from eoc.app.keyring import SQLiteKeyring
from eoc.app.service import open_application
from tests.support.history import aggregates

pytestmark = pytest.mark.postgres

NEVER_S = 3_600.0  # a poll the test never reaches: only a NOTIFY can wake the tail


@pytest.fixture
def app(fresh_pg_dsn: str, tmp_path: Path) -> Any:
    application = open_application(Settings.from_env({}, store="postgres", pg_dsn=fresh_pg_dsn,
                                                      data_dir=tmp_path, token_secret=b"x" * 40))
    yield application
    application.close()


class Tailing:
    """A LogTail iterated on a loop of its own thread; its batches gathered as they come."""

    def __init__(self, tail: LogTail) -> None:
        self.tail = tail
        self.batches: list[list[Any]] = []
        self.listening = threading.Event()
        self.arrived = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.future = asyncio.run_coroutine_threadsafe(self._gather(), self.loop)
        assert self.listening.wait(30), "the tail did not start listening"

    async def _gather(self) -> None:
        self.task = asyncio.current_task()
        async for batch in self.tail.batches(listening=self.listening.set):
            with self.arrived:
                self.batches.append(batch)
                self.arrived.notify_all()

    def positions(self) -> list[int]:
        return [n.id for batch in self.batches for n in batch]

    def wait_for(self, position: int, timeout: float = 30.0) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: position in self.positions(), timeout), \
                f"position {position} did not arrive (have {self.positions()[-3:]})"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        with pytest.raises(concurrent.futures.CancelledError):
            self.future.result(30)  # set once the task has ended, its connection closed
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


def _listeners(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                            " AND application_name = %s", (APPLICATION_NAME,)).fetchone()[0]


def test_the_tail_gives_every_row_after_its_start_in_order_as_the_library_reads_it(app, fresh_pg_dsn):
    aggregates(app, keyring=SQLiteKeyring(":memory:"), seed=11).run(120)
    stored = list(app.recorder.select_notifications(start=0, limit=100_000))
    start = stored[9].id
    tailing = Tailing(LogTail(app.recorder, gt=start, limit=7, poll_s=NEVER_S))
    try:
        tailing.wait_for(stored[-1].id)
        expected = [n for n in stored if n.id > start]
        assert [n for batch in tailing.batches for n in batch] == expected  # same records, same order
        assert all(len(batch) <= 7 for batch in tailing.batches)
        assert len(tailing.batches) >= len(expected) // 7
        assert tailing.tail.last == stored[-1].id
    finally:
        tailing.stop()


def test_a_commit_wakes_the_tail_through_notify_and_cancelling_it_closes_its_connection(app, fresh_pg_dsn):
    aggregates(app, keyring=SQLiteKeyring(":memory:"), seed=12).run(10)
    last = app.recorder.max_notification_id()
    tailing = Tailing(LogTail(app.recorder, gt=last, poll_s=NEVER_S))
    try:
        assert _listeners(fresh_pg_dsn) == 1
        reads_idle = tailing.tail.reads
        time.sleep(0.5)
        assert tailing.tail.reads == reads_idle  # nothing new: it waits, it does not read
        history = aggregates(app, keyring=SQLiteKeyring(":memory:"), seed=13)
        for _ in range(3):  # three separate commits, each read once it is notified
            history.run(1)
            newest = app.recorder.max_notification_id()
            tailing.wait_for(newest)
        assert tailing.positions() == [n.id for n in app.recorder.select_notifications(
            start=last, limit=1_000, inclusive_of_start=False)]
        # Woken by the commits alone: with nothing committed, no read (no poll before NEVER_S).
        reads = tailing.tail.reads
        assert reads > reads_idle
        time.sleep(1.0)
        assert tailing.tail.reads == reads
    finally:
        tailing.stop()
    deadline = time.monotonic() + 10  # PostgreSQL ends the session a moment after the socket closes
    while _listeners(fresh_pg_dsn) != 0:
        assert time.monotonic() < deadline, "the tail's connection was never closed"
        time.sleep(0.02)
