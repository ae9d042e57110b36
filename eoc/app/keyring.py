"""Per-subject keys for personal data and secret places (crypto-shredding).

Each caller, client and secret place gets its own random key; the events hold only what
that key sealed. Erasing a person is deleting their key: the history stays intact and
verifiable, the details become unreadable.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from eoc.app.pgschema import pool_with_tables
from events.sealing import new_key


class Keyring(Protocol):
    def create(self, subject: str) -> bytes: ...
    def get(self, subject: str) -> bytes | None: ...
    def erase(self, subject: str) -> bool: ...
    def close(self) -> None: ...


class WrappedKeyring:
    """Keys kept wrapped (AES-GCM) by a master key that is never stored beside them: a copy
    of the keyring's database alone opens nothing. Keys stored before wrapping still read."""

    PREFIX = b"W1"

    def __init__(self, inner: Keyring, master: bytes) -> None:
        self.inner = inner
        self._aead = AESGCM(hashlib.sha256(b"eoc-keyring\n" + master).digest())

    def _wrap(self, subject: str, key: bytes) -> bytes:
        nonce = os.urandom(12)
        return self.PREFIX + nonce + self._aead.encrypt(nonce, key, subject.encode())

    def _unwrap(self, subject: str, blob: bytes | None) -> bytes | None:
        if blob is None or not blob.startswith(self.PREFIX) or len(blob) < 2 + 12 + 16:
            return blob
        return self._aead.decrypt(blob[2:14], blob[14:], subject.encode())

    def create(self, subject: str) -> bytes:
        stored = self.inner.create_raw(subject, self._wrap(subject, new_key()))  # type: ignore[attr-defined]
        return self._unwrap(subject, stored)  # type: ignore[return-value]

    def get(self, subject: str) -> bytes | None:
        return self._unwrap(subject, self.inner.get(subject))

    def erase(self, subject: str) -> bool:
        return self.inner.erase(subject)

    def close(self) -> None:
        self.inner.close()  # type: ignore[attr-defined]


class SQLiteKeyring:
    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS subject_keys (subject TEXT PRIMARY KEY, key BLOB NOT NULL)"
        )
        self._lock = threading.Lock()

    def create(self, subject: str) -> bytes:
        return self.create_raw(subject, new_key())

    def create_raw(self, subject: str, key: bytes) -> bytes:
        """Keep this key for the subject unless it has one; the one kept."""
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
        self._pool = pool_with_tables(
            dsn, ["CREATE TABLE IF NOT EXISTS subject_keys (subject TEXT PRIMARY KEY, key BYTEA NOT NULL)"], max_size=4)

    def create(self, subject: str) -> bytes:
        return self.create_raw(subject, new_key())

    def create_raw(self, subject: str, key: bytes) -> bytes:
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO subject_keys VALUES (%s, %s) ON CONFLICT DO NOTHING", (subject, key)
            )
            row = conn.execute("SELECT key FROM subject_keys WHERE subject=%s", (subject,)).fetchone()
            assert row is not None  # inserted just now, or already there
            return bytes(row[0])

    def get(self, subject: str) -> bytes | None:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT key FROM subject_keys WHERE subject=%s", (subject,)).fetchone()
        return bytes(row[0]) if row else None

    def erase(self, subject: str) -> bool:
        with self._pool.connection() as conn:
            return conn.execute("DELETE FROM subject_keys WHERE subject=%s", (subject,)).rowcount > 0

    def close(self) -> None:
        self._pool.close()
