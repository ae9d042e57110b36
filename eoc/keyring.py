"""Per-subject keys for personal data and secret places (crypto-shredding).

Each caller, client and secret place gets its own random key; the events hold only what
that key sealed. Erasing a person is deleting their key: the history stays intact and
verifiable, the details become unreadable.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Protocol

from events.sealing import new_key


class Keyring(Protocol):
    def create(self, subject: str) -> bytes: ...
    def get(self, subject: str) -> bytes | None: ...
    def erase(self, subject: str) -> bool: ...


class SQLiteKeyring:
    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS subject_keys (subject TEXT PRIMARY KEY, key BLOB NOT NULL)"
        )
        self._lock = threading.Lock()

    def create(self, subject: str) -> bytes:
        key = new_key()
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO subject_keys VALUES (?, ?)", (subject, key))
            row = self._db.execute("SELECT key FROM subject_keys WHERE subject=?", (subject,)).fetchone()
        return bytes(row[0])

    def get(self, subject: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT key FROM subject_keys WHERE subject=?", (subject,)).fetchone()
        return bytes(row[0]) if row else None

    def erase(self, subject: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM subject_keys WHERE subject=?", (subject,))
        return cur.rowcount > 0

    def close(self) -> None:
        self._db.close()


class PostgresKeyring:
    def __init__(self, dsn: str) -> None:
        from psycopg_pool import ConnectionPool

        self._pool = ConnectionPool(dsn, min_size=1, max_size=4, open=True, kwargs={"autocommit": True})
        with self._pool.connection() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS subject_keys (subject TEXT PRIMARY KEY, key BYTEA NOT NULL)"
            )

    def create(self, subject: str) -> bytes:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO subject_keys VALUES (%s, %s) ON CONFLICT DO NOTHING", (subject, new_key())
            )
            return bytes(conn.execute("SELECT key FROM subject_keys WHERE subject=%s", (subject,)).fetchone()[0])

    def get(self, subject: str) -> bytes | None:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT key FROM subject_keys WHERE subject=%s", (subject,)).fetchone()
        return bytes(row[0]) if row else None

    def erase(self, subject: str) -> bool:
        with self._pool.connection() as conn:
            return conn.execute("DELETE FROM subject_keys WHERE subject=%s", (subject,)).rowcount > 0

    def close(self) -> None:
        self._pool.close()
