"""The access log (دفتر دسترسی): reads of secrets are facts too.

Every read that returns personal data or a secret place's location (API board reads,
websocket snapshots and deltas, replay ``--as``, unsealing, exports), every sign-in and
failed sign-in, every refused command and every administrative action is appended here:
who (pseudonymous user id), role, province, what (action and subject: a place or person
id), when, through which channel. Entries are append-only and hash-chained with the same
link as the events (events/chain.py), so that an edited, deleted or reordered entry is
found and named by ``verify``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eoc.app.users import _Db
from events.chain import GENESIS, link

FIELDS = ("seq", "at", "user", "role", "province", "action", "channel", "subject", "detail")

SCHEMA = """CREATE TABLE IF NOT EXISTS access_log (
    seq INTEGER PRIMARY KEY, at DOUBLE PRECISION NOT NULL, "user" TEXT NOT NULL, role TEXT NOT NULL,
    province TEXT NOT NULL, action TEXT NOT NULL, channel TEXT NOT NULL, subject TEXT NOT NULL,
    detail TEXT NOT NULL, chain TEXT NOT NULL)"""


@dataclass(frozen=True)
class Entry:
    seq: int
    at: float
    user: str
    role: str
    province: str
    action: str  # read_secret_place | read_client_ids | read_personal | sign_in | sign_in_failed | refused | admin | ...
    channel: str  # api | websocket | replay | export | cli | signin
    subject: str  # the place, person or user concerned ("" when none)
    detail: str  # JSON text: what else an auditor needs
    chain: str

    def fields(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in FIELDS}


class AccessLog:
    def __init__(self, *, path: Path | None = None, dsn: str | None = None, db: _Db | None = None) -> None:
        # On PostgreSQL the log shares the user directory's small pool (``db``): one fewer pool.
        self._owns = db is None
        self._db = db if db is not None else _Db(path=path, dsn=dsn)
        self._lock = threading.Lock()  # one appender per process; the row's seq is the arbiter
        self._db.create([SCHEMA])

    def close(self) -> None:
        if self._owns:
            self._db.close()

    def record(self, *, user: str, role: str, province: str, action: str, channel: str,
               subject: str = "", **detail: Any) -> Entry:
        with self._lock, self._db.tx() as q:
            if self._db.pg:  # several API processes append to one log: one at a time
                q("LOCK TABLE access_log IN EXCLUSIVE MODE")
            last = q("SELECT seq, chain FROM access_log ORDER BY seq DESC LIMIT 1")
            seq, previous = (int(last[0][0]) + 1, last[0][1]) if last else (1, GENESIS)
            fields: dict[str, Any] = {"seq": seq, "at": round(time.time(), 3), "user": user, "role": str(role),
                      "province": province, "action": action, "channel": channel, "subject": subject,
                      "detail": json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str)}
            chain = link(previous, fields, FIELDS)
            q('INSERT INTO access_log (seq, at, "user", role, province, action, channel, subject, detail, chain)'
              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tuple(fields[k] for k in FIELDS) + (chain,))
        return Entry(**fields, chain=chain)

    def entries(self, *, since_seq: int = 0, limit: int = 1000, user: str | None = None,
                action: str | None = None, subject: str | None = None) -> list[Entry]:
        sql = 'SELECT seq, at, "user", role, province, action, channel, subject, detail, chain FROM access_log WHERE seq > ?'
        params: list[Any] = [since_seq]
        for column, value in (('"user"', user), ("action", action), ("subject", subject)):
            if value:
                sql += f" AND {column} = ?"
                params.append(value)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        with self._db.tx() as q:
            return [Entry(*r) for r in q(sql, tuple(params))]

    def verify(self) -> list[str]:
        """Problems found, each naming the entry (empty: the log is whole)."""
        problems, previous, expected = [], GENESIS, 1
        with self._db.tx() as q:
            rows = q('SELECT seq, at, "user", role, province, action, channel, subject, detail, chain'
                     " FROM access_log ORDER BY seq")
        for row in rows:
            entry = Entry(*row)
            if entry.seq != expected:
                problems.append(f"entry {expected} is missing (next is {entry.seq})")
            if link(previous, entry.fields(), FIELDS) != entry.chain:
                problems.append(f"entry {entry.seq} was altered or is out of place ({entry.action} by {entry.user})")
            previous, expected = entry.chain, entry.seq + 1
        return problems


def as_dict(entry: Entry) -> dict[str, Any]:
    out = asdict(entry)
    out["detail"] = json.loads(entry.detail) if entry.detail else {}
    return out


def secret_subjects(rows: dict[str, Any]) -> list[tuple[str, str]]:
    """(action, subject) for each secret place whose location, and each place whose clients'
    ids, these rows (as a viewer was given them) reveal."""
    out = []
    for key, row in rows.items():
        if not key.removeprefix("drill/").startswith("centre/") or not isinstance(row, dict):
            continue
        if row.get("secret") and row.get("location") is not None:
            out.append(("read_secret_place", str(row.get("id"))))
        if any(not str(k).startswith("#") for k in (row.get("clients") or {})):
            out.append(("read_client_ids", str(row.get("id"))))
    return out


def record_secret_reads(log: AccessLog | None, user: str, role: str, province: str, channel: str,
                        rows: dict[str, Any], *, found: list[tuple[str, str]] | None = None, **detail: Any) -> int:
    """One entry per secret place or client list these rows reveal (``found``: their
    ``secret_subjects``, when the caller has them already); the number written."""
    if log is None:
        return 0
    if found is None:
        found = secret_subjects(rows)
    for action, subject in found:
        log.record(user=user, role=role, province=province, action=action, channel=channel,
                   subject=subject, **detail)
    return len(found)
