"""Repeat callers (تماس‌گیرنده تکراری): a keyed hash of the phone number points at the
caller's pseudonymous id, so a second call from the same number is the same caller.

The hash is an HMAC with a key of this system (never a plain hash, which anyone could
compute for a guessed number), and the index lives beside the keyring, not in the events:
erasing a caller (``eoc erase``) deletes their key *and* their index entries, after which
the number leads nowhere and a new call from it is a new caller.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import sqlite3
import threading
from pathlib import Path

from eoc.app.pgschema import pool_with_tables


def normalise_phone(phone: str) -> str:
    """Digits only, Iranian numbers in one form: +98 912…, 0098 912…, 0912… -> 0912…"""
    digits = re.sub(r"[^0-9]", "", phone)
    if digits.startswith("0098"):
        digits = "0" + digits[4:]
    elif digits.startswith("98") and len(digits) == 12:
        digits = "0" + digits[2:]
    return digits


def index_key(data_dir: Path, master: bytes | None) -> bytes:
    """The HMAC key: from the master key when there is one, else a secret in the data directory."""
    if master:
        return hashlib.sha256(b"eoc-caller-index\n" + master).digest()
    path = data_dir / "caller_index.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    return path.read_bytes()


class CallerIndex:
    """phone hash -> caller id, in SQLite (embedded) or PostgreSQL (cluster)."""

    def __init__(self, key: bytes, *, sqlite_path: str | None = None, dsn: str | None = None) -> None:
        self._key = key
        self._lock = threading.Lock()
        self._pg = None
        ddl = "CREATE TABLE IF NOT EXISTS caller_index (phone_hash TEXT PRIMARY KEY, subject TEXT NOT NULL)"
        if dsn:
            self._pg = pool_with_tables(dsn, [ddl], max_size=2)
        else:
            self._db = sqlite3.connect(sqlite_path or ":memory:", check_same_thread=False, isolation_level=None,
                                       timeout=30)
            self._db.execute(ddl)

    def hash(self, phone: str) -> str:
        return hmac.new(self._key, normalise_phone(phone).encode(), hashlib.sha256).hexdigest()

    def _sql(self, sql: str, args: tuple) -> list[tuple]:
        if self._pg is not None:
            with self._pg.connection() as conn:
                cur = conn.execute(sql.replace("?", "%s"), args)
                return cur.fetchall() if cur.description else []
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def match(self, phone: str) -> str | None:
        rows = self._sql("SELECT subject FROM caller_index WHERE phone_hash=?", (self.hash(phone),))
        return rows[0][0] if rows else None

    def remember(self, phone: str, subject: str) -> str:
        """Keep the first caller id for this number; the id kept."""
        h = self.hash(phone)
        self._sql("INSERT INTO caller_index VALUES (?, ?) ON CONFLICT DO NOTHING", (h, subject))
        return self._sql("SELECT subject FROM caller_index WHERE phone_hash=?", (h,))[0][0]

    def forget(self, subject: str) -> int:
        """Erasure: this caller's numbers lead nowhere any more."""
        before = self._sql("SELECT count(*) FROM caller_index WHERE subject=?", (subject,))[0][0]
        self._sql("DELETE FROM caller_index WHERE subject=?", (subject,))
        return before

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
        else:
            self._db.close()
