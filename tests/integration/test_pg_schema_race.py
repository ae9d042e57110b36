"""Processes that start together on a fresh PostgreSQL make their tables without tripping over
each other (eoc.app.pgschema). In the README's cluster example the API, relay, worker, bridge
and exchange feed start at once; ``CREATE TABLE IF NOT EXISTS`` raced itself and the bridge
died at start on a duplicate key of PostgreSQL's catalogue."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from eoc.app.callers import CallerIndex
from eoc.app.config import Settings
from eoc.app.idempotency import PostgresKeyStore
from eoc.app.keyring import PostgresKeyring
from eoc.app.service import open_application
from eoc.app.track import PositionTrack
from eoc.app.users import UserDirectory

pytestmark = pytest.mark.postgres

STARTS = 6  # processes starting at once, as a deployment's do


def test_processes_starting_at_once_make_the_tables_without_a_clash(fresh_pg_dsn: str, tmp_path: Path):
    settings = Settings.from_env({}, store="postgres", pg_dsn=fresh_pg_dsn, data_dir=tmp_path,
                                 token_secret=b"x" * 40)
    opened: list[object] = []
    failed: list[BaseException] = []
    start = threading.Barrier(STARTS)

    def process() -> None:
        try:
            start.wait(10)
            # What each process opens at start (bootstrap.build, cluster.build_api, eoc bridge).
            opened.extend([open_application(settings), PostgresKeyring(fresh_pg_dsn),
                           PostgresKeyStore(fresh_pg_dsn), CallerIndex(b"k" * 32, dsn=fresh_pg_dsn),
                           PositionTrack(dsn=fresh_pg_dsn), UserDirectory(dsn=fresh_pg_dsn)])
        except BaseException as exc:  # noqa: BLE001  (reported below)
            failed.append(exc)

    threads = [threading.Thread(target=process) for _ in range(STARTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert not failed, failed
        assert len(opened) == 6 * STARTS
    finally:
        for thing in opened:
            close = getattr(thing, "close", None)
            if close is not None:
                close()
