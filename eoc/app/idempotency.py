"""Idempotent commands: a retry with the same ``Idempotency-Key`` returns the first answer.

After a crash or a lost answer a client cannot know whether its command was stored; it
retries with the same key and gets the first answer back, and nothing new is stored. Keys
are per user (``principal_id``: the token's subject), kept at least 24 hours (``KEEP``), in
the event store's own database (the SQLite file or PostgreSQL), so they survive restarts.

The key is claimed before the command runs: in PostgreSQL, shared by every ``eoc api``, as a
*pending* row; in the embedded SQLite file, which one process writes, by the middleware's set
of the keys it runs (the claim only reads: a row written on the event loop would wait there for
the writer's transaction and its sync). The command's outcome (its handler's answer, positions
included) is written as the key's row **in the same transaction as the command's events** (the
event store's recorders below); that outcome is the answer, so nothing more is written for it.
An answer with no outcome behind it (a refusal) is written before it is sent. So:

- a retry after the events were committed (the answer lost on the way, or a kill -9 between the
  commit and the answer) gets the answer rendered from the committed outcome (the same route,
  status and body), for a create and for a transition alike: the command is not run again,
  nothing is stored again, and no rule refuses it as a repeat; that rendering is then written
  as the key's answer, which later retries get as it is;
- a retry after a refusal's answer was written gets that answer, and nothing is stored;
- a retry whose first attempt stored nothing and answered nothing kept (a 5xx, or it died before
  its commit) runs again;
- a retry while the first is still running (or, in one process, has just ended storing nothing)
  gets 409 ``idempotency_in_progress``;
- a key reused for another command (another path or body) gets 409 ``idempotency_key_reused``.

Only answers below 500 are kept (a 409 declined admission included: it was recorded).

The key rows are written without waiting for the disk (SQLite ``synchronous=NORMAL``,
PostgreSQL ``synchronous_commit=off``; کلیدها بی‌انتظار دیسک), which takes the syncs of the
claim and the answer off every command a workspace sends (each of its actions carries a key).
Nothing it guarantees rests on them alone: they go into the same log as the events (the SQLite
file's WAL, PostgreSQL's WAL), in order, and the command's own commit — synced — makes every earlier write durable with it. One
case the order does not cover: the database crashes and comes back while this process lives,
between a claim and its command's commit (the writer retries the commit). So the outcome is
written with the events as the key's whole row if the claim is gone (eoc/app/recorders.py
``Outcome``). After any crash, then, a command whose events are stored has its key and its
outcome (the retry answers from the outcome); a claim or an answer lost with the crash belonged
to a command that stored nothing (its retry runs it again) or is rendered again from the
outcome. In PostgreSQL, a pending row of this very process that no request of it runs (its answer lost with a
database that restarted) is run again, not refused as in progress for as long as the process
lives; another API takes it over once this process is gone or the row is ``TAKE_OVER_AFTER_S``
old.

Fault injection, for tests only: with ``EOC_FAULT_KILL_BEFORE_ANSWER`` set to a regular
expression, a command whose path matches it is answered by a SIGKILL of the server itself,
right after its events (and outcome) were committed and before its answer is written or sent
(tests/e2e/test_kill_restart.py). Never set it in service.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import os
import re
import select
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eoc.app.auth import Claims
from eoc.app.pgschema import pool_with_tables

T = TypeVar("T")

HEADER = "idempotency-key"
KEEP = 48 * 3600  # seconds: "at least 24 hours", with a day of margin
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{7,127}$"
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
# This process: a pending row of another (dead) process is not waited for.
PROCESS = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


FAULT_KILL_BEFORE_ANSWER = "EOC_FAULT_KILL_BEFORE_ANSWER"
COMMITTED = "eoc.committed"  # the ASGI scope's key for an outcome to answer from (see answer_committed)


@dataclass(slots=True)
class Claim:
    """The Idempotency-Key the running command was sent with (the writer stores its outcome)."""

    principal: str
    key: str
    request: str  # the request's hash and this process (the row again, if its claim was lost)
    owner: str
    # Set by the writer once the outcome is committed with the events: the answer need not be
    # written then (a retry answers from the outcome), so a stored command's key costs no write of its own.
    stored: bool = False


# Set by the middleware around the command; read by the writer (eoc/app/writer.py) when it queues
# the command, so the outcome row is written with the command's events.
CLAIM: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("eoc_idempotency_claim", default=None)


class Committed(Exception):  # noqa: N818 - not an error: the command's answer is already decided
    """Raised by the app's dependency when the request's command was committed before: the
    route answers from the outcome instead of running the command again."""

    def __init__(self, outcome: dict[str, Any]) -> None:
        super().__init__("committed before")
        self.outcome = outcome


def answer_committed(scope: Scope) -> None:
    """An app-level dependency's body: answer from a committed outcome if the middleware found one."""
    outcome = scope.get(COMMITTED)
    if outcome is not None:
        raise Committed(outcome)


def principal_id(claims: Claims) -> str:
    """Whose keys these are: the one place that says what "per user" means."""
    return claims.sub


def valid_key(key: str) -> bool:
    return 8 <= len(key) <= 128 and key[0].isalnum() and all(ch in _ALLOWED for ch in key)


@dataclass(frozen=True, slots=True)
class Remembered:
    request: str  # hash of method, path and body
    owner: str  # the process that claimed it
    status: int | None  # None while pending
    answer: bytes | None
    outcome: bytes | None = None  # the committed command's answer, written with its events


class KeyStore(Protocol):
    networked: bool  # its calls wait on a server: made in a worker thread, off the event loop
    claim_writes: bool  # whether a claim writes a pending row (False: it only reads what is remembered)
    process: str  # the owner this store claims keys as (``PROCESS``)

    def claim(self, principal: str, key: str, request: str) -> Remembered | None:
        """What is already remembered for the key; None: this request has it (a pending row if
        ``claim_writes``)."""

    def reclaim(self, principal: str, key: str, request: str) -> bool:
        """Take over a pending key left by a process that is gone (False: its owner may still
        be running it)."""

    def answer(self, principal: str, key: str, request: str, status: int, answer: bytes) -> None: ...
    def release(self, principal: str, key: str) -> None: ...
    def close(self) -> None: ...


_DDL = ("CREATE TABLE IF NOT EXISTS idempotency_keys (principal TEXT NOT NULL, key TEXT NOT NULL, "
        "request TEXT NOT NULL, owner TEXT NOT NULL, status INTEGER, answer {blob}, created {seconds} NOT NULL, "
        "outcome {blob}, PRIMARY KEY (principal, key))")
# ``created`` is seconds since 1970 (time.time()). SQLite's REAL is 8 bytes; PostgreSQL's REAL is
# 4 (six digits: a time of today came back up to 64 seconds off, so a key 605 s old could read as
# 541 s and not be taken over), hence DOUBLE PRECISION there, and tables made before are changed.
_CREATED_TO_DOUBLE = """DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
             AND table_name = 'idempotency_keys' AND column_name = 'created' AND data_type = 'real') THEN
    ALTER TABLE idempotency_keys ALTER COLUMN created TYPE DOUBLE PRECISION;
  END IF;
END $$"""
_SELECT = "SELECT request, owner, status, answer, outcome FROM idempotency_keys WHERE principal={p} AND key={p}"


def _remembered(row: Any) -> Remembered:
    return Remembered(row[0], row[1], row[2], bytes(row[3]) if row[3] is not None else None,
                      bytes(row[4]) if row[4] is not None else None)


class SQLiteKeyStore:
    networked = False  # a local file: a call costs microseconds, made on the loop
    claim_writes = False  # a claim only reads (the middleware's running set holds the key)
    process = PROCESS  # one process writes an embedded store: another owner is a run before this one
    """Keys in the embedded event store's SQLite file."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # into the WAL, synced by the next command's commit
        self._db.execute(_DDL.format(blob="BLOB", seconds="REAL"))
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(idempotency_keys)")}
        if "outcome" not in columns:  # a table made before outcomes were written with the events
            self._db.execute("ALTER TABLE idempotency_keys ADD COLUMN outcome BLOB")
        self._lock = threading.Lock()
        self._forget_old()

    def _forget_old(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM idempotency_keys WHERE created < ?", (time.time() - KEEP,))

    def claim(self, principal: str, key: str, request: str) -> Remembered | None:
        """Read, never written: one process writes an embedded store, and the middleware's own
        set of running keys says "in progress" within it. A row written here would wait on the
        loop for the writer's transaction (one SQLite file, one writer at a time), its sync
        included. The row is written with the command's outcome (its events' transaction) or
        with its answer (a refusal)."""
        with self._lock:
            row = self._db.execute(_SELECT.format(p="?"), (principal, key)).fetchone()
        return None if row is None else _remembered(row)

    def reclaim(self, principal: str, key: str, request: str) -> bool:
        with self._lock:
            cur = self._db.execute("UPDATE idempotency_keys SET owner=? WHERE principal=? AND key=? "
                                   "AND request=? AND status IS NULL AND outcome IS NULL AND owner<>?",
                                   (self.process, principal, key, request, self.process))
        return cur.rowcount == 1

    def answer(self, principal: str, key: str, request: str, status: int, answer: bytes) -> None:
        with self._lock:  # the whole row: claim wrote none
            self._db.execute("INSERT INTO idempotency_keys (principal, key, request, owner, created, status, answer) "
                             "VALUES (?,?,?,?,?,?,?) ON CONFLICT (principal, key) DO UPDATE "
                             "SET status = excluded.status, answer = excluded.answer",
                             (principal, key, request, self.process, time.time(), status, answer))

    def release(self, principal: str, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM idempotency_keys WHERE principal=? AND key=? AND status IS NULL "
                             "AND outcome IS NULL",
                             (principal, key))

    def close(self) -> None:
        self._db.close()


class PostgresKeyStore:
    networked = True
    claim_writes = True  # a claim is a pending row, seen by every API
    """Keys in the cluster's PostgreSQL event store database, shared by every ``eoc api``.

    A pending key of another process is taken over only if that process is gone: each store
    holds, on a connection of its own for as long as it is open, a shared advisory lock named
    after its process (زنده بودن مالک کلید), which PostgreSQL lets go when the process dies (its
    socket closes). ``reclaim`` asks for the same lock exclusively, for its one statement: it
    gets it only if no session of the owner holds it. So a retry that lands on a second API while
    the first is still deciding the command hears "in progress" instead of running it again. A
    key pending longer than ``TAKE_OVER_AFTER_S`` is taken over all the same (its answer was lost)."""

    def __init__(self, dsn: str, *, process: str = PROCESS) -> None:
        import psycopg

        self.process = process
        self._pool = pool_with_tables(dsn, [_DDL.format(blob="BYTEA", seconds="DOUBLE PRECISION"),
                                            "ALTER TABLE idempotency_keys ADD COLUMN IF NOT EXISTS outcome BYTEA",
                                            _CREATED_TO_DOUBLE],
                                      max_size=4, options=NO_SYNC_WAIT)
        with self._pool.connection() as conn:
            conn.execute("DELETE FROM idempotency_keys WHERE created < %s", (time.time() - KEEP,))
        self._dsn = dsn
        self._alive_lock = threading.Lock()
        self._alive: psycopg.Connection[Any] | None = None
        self._keep_alive()

    def _keep_alive(self) -> None:
        """Hold this process's liveness lock (again, if PostgreSQL restarted since)."""
        import psycopg

        with self._alive_lock:
            alive = self._alive
            if alive is not None and not alive.closed and not alive.broken:
                # Nothing is ever sent to this session: anything to read (the server's goodbye,
                # its socket's end) means it is gone. Asked without waiting: a syscall, no round
                # trip (poll, not select: a descriptor may be above select's 1,024).
                waiting = select.poll()
                waiting.register(alive.fileno(), select.POLLIN)
                if not waiting.poll(0):
                    return
            conn = psycopg.connect(self._dsn, autocommit=True, application_name="eoc-idempotency-owner",
                                   keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
            try:  # the new session holds the lock before the old one lets it go: never a gap
                conn.execute("SELECT pg_advisory_lock_shared(%s, hashtext(%s))", (OWNER_LOCKS, self.process))
            except BaseException:
                conn.close()
                raise
            if alive is not None:
                alive.close()
            self._alive = conn

    def claim(self, principal: str, key: str, request: str) -> Remembered | None:
        self._keep_alive()
        with self._pool.connection() as conn:
            cur = conn.execute(
                "INSERT INTO idempotency_keys (principal, key, request, owner, created) VALUES (%s,%s,%s,%s,%s) "
                "ON CONFLICT DO NOTHING", (principal, key, request, self.process, time.time()))
            if cur.rowcount == 1:
                return None
            row = conn.execute(_SELECT.format(p="%s"), (principal, key)).fetchone()
        return _remembered(row)

    def reclaim(self, principal: str, key: str, request: str) -> bool:
        with self._pool.connection() as conn:
            cur = conn.execute("UPDATE idempotency_keys SET owner=%s WHERE principal=%s AND key=%s "
                               "AND request=%s AND status IS NULL AND outcome IS NULL AND owner<>%s "
                               "AND (pg_try_advisory_xact_lock(%s, hashtext(owner)) OR created < %s)",
                               (self.process, principal, key, request, self.process, OWNER_LOCKS,
                                time.time() - TAKE_OVER_AFTER_S))
        return cur.rowcount == 1

    def answer(self, principal: str, key: str, request: str, status: int, answer: bytes) -> None:
        with self._pool.connection() as conn:
            conn.execute("UPDATE idempotency_keys SET status=%s, answer=%s WHERE principal=%s AND key=%s",
                         (status, answer, principal, key))

    def release(self, principal: str, key: str) -> None:
        with self._pool.connection() as conn:
            conn.execute("DELETE FROM idempotency_keys WHERE principal=%s AND key=%s AND status IS NULL "
                         "AND outcome IS NULL",
                         (principal, key))

    def close(self) -> None:
        self._pool.close()
        with self._alive_lock:
            if self._alive is not None:
                self._alive.close()
                self._alive = None


# pg_advisory_*lock(OWNER_LOCKS, hashtext(process)): "this process is alive" (PostgresKeyStore).
OWNER_LOCKS = 746102
# A pending key this old is taken over even from a live owner: no command is still on its way
# then (the writer's retries give up within minutes), so its answer was lost, not delayed, and
# nothing was stored; without this, every other API would answer "in progress" while it lives.
TAKE_OVER_AFTER_S = 600.0

# The key store's commits do not wait for the WAL's flush (the module's docstring says why that is safe).
NO_SYNC_WAIT = "-c synchronous_commit=off"


def _refuse(status: int, code: str, reason: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": code, "reason": reason}).encode()


_IN_PROGRESS = _refuse(409, "idempotency_in_progress", "the first command with this Idempotency-Key is still running")
_REUSED = _refuse(409, "idempotency_key_reused", "this Idempotency-Key was used for another command")


class Idempotent:
    """ASGI middleware for the command API: POSTs under /api/ with an Idempotency-Key."""

    def __init__(self, app: ASGIApp, *, keys: Callable[[], KeyStore | None],
                 verify: Callable[[str], Awaitable[Claims]], fault_kill_before_answer: str = "") -> None:
        self.app = app
        self.keys = keys
        self.verify = verify
        self.fault = fault_kill_before_answer  # EOC_FAULT_KILL_BEFORE_ANSWER, tests only
        # (principal, key) of the commands this process runs now -> set once the first's claim returned
        self.running: dict[tuple[str, str], _Claiming] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        raw_key = headers.get(HEADER.encode())
        store = self.keys()
        if raw_key is None or store is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not valid_key(key):
            await _send(send, *_refuse(422, "invalid_command",
                                       "Idempotency-Key is 8 to 128 characters: letters, digits, . _ : -"))
            return
        claims = await self._claims(headers.get(b"authorization", b""))
        if claims is None:  # the API answers 401 in its words; nothing to remember
            await self.app(scope, receive, send)
            return
        body = await _read(receive)
        request = hashlib.sha256(b"POST " + scope["path"].encode() + b"\n" + body).hexdigest()
        principal = principal_id(claims)
        # Whether a request of this process already runs the key, checked and marked with no
        # await between: of two, only the first may run the command. The second claims only once
        # the first's claim returned: a server's claims run in threads, and a second that got
        # there first would take the row (another body's: neither would run).
        mine = (principal, key)
        claiming = _Claiming(request)
        first = self.running.setdefault(mine, claiming)
        claimed = claiming if first is claiming else None
        try:
            if claimed is None:
                await first.wait()
            await self._claimed(scope, body, send, store, principal, key, request, claimed, first)
        finally:
            if claimed is not None:
                claimed.set()
                if self.running.get(mine) is claimed:
                    del self.running[mine]

    async def _claimed(self, scope: Scope, body: bytes, send: Send, store: KeyStore, principal: str, key: str,
                       request: str, claimed: _Claiming | None, first: _Claiming) -> None:
        second = claimed is None
        try:
            seen = await _on(store, store.claim, principal, key, request)
        finally:
            if claimed is not None:
                claimed.set()
        if seen is None and second:
            # Embedded (the claim writes nothing): the first runs it, or has just ended. In
            # PostgreSQL the first's row is gone (it ended storing nothing, or its claim failed)
            # and this claim wrote one: let it go, so a retry anywhere runs the command.
            if store.claim_writes:
                await _on(store, store.release, principal, key)
            # another command under the key the first runs is a reused key, as its row will say
            await _send(send, *(_REUSED if first.request != request else _IN_PROGRESS))
            return
        if seen is not None:
            if seen.request != request:
                await _send(send, *_REUSED)
                return
            if seen.status is not None:
                await _send(send, seen.status, seen.answer or b"", replayed=True)
                return
            if seen.outcome is not None:  # committed, but its answer never written: answer from it
                await self._run(scope, body, send, store, principal, key, request,
                                committed=json.loads(seen.outcome))
                return
            # Pending, nothing committed. Ours (this process), yet no request of ours runs it: its
            # answer or release was lost (the module's docstring): run it again. Another
            # process's: taken over only if that process is gone (reclaim: the row's owner
            # becomes this process, so of two retries one wins); else it may be running it now.
            if second or (seen.owner != store.process
                          and not await _on(store, store.reclaim, principal, key, request)):
                await _send(send, *_IN_PROGRESS)
                return
        await self._run(scope, body, send, store, principal, key, request)

    async def _claims(self, authorization: bytes) -> Claims | None:
        text = authorization.decode("latin-1")
        if not text.lower().startswith("bearer "):
            return None
        try:
            return await self.verify(text[7:].strip())
        except Exception:
            return None

    async def _run(self, scope: Scope, body: bytes, send: Send, store: KeyStore, principal: str, key: str, request: str,
                   committed: dict[str, Any] | None = None) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        if committed is not None:  # the app answers from the outcome (answer_committed) and runs nothing
            scope = {**scope, COMMITTED: committed}
        claim = Claim(principal, key, request, store.process)
        token = CLAIM.set(claim)  # the writer stores the outcome with the events
        try:
            await self.app(scope, replay, capture)
        except BaseException:
            store.release(principal, key)  # kept if the events were committed: a retry answers from them
            raise
        finally:
            CLAIM.reset(token)
        if start is None:
            await _on(store, store.release, principal, key)
            return
        answer = b"".join(chunks)
        fault = self.fault
        if fault and committed is None and start["status"] < 500 and re.search(fault, scope["path"]):
            os.kill(os.getpid(), signal.SIGKILL)  # tests only: die between the commit and the answer
        if start["status"] < 500:
            if not claim.stored:  # (stored: its outcome, committed with its events, is the answer)
                await _on(store, store.answer, principal, key, request, start["status"], answer)  # written before it is sent
        else:
            await _on(store, store.release, principal, key)
        if committed is not None:
            start = {**start, "headers": [*start.get("headers", []), (b"idempotent-replayed", b"true")]}
        await send(start)
        await send({"type": "http.response.body", "body": answer})


class _Claiming:
    """Set once the first request's claim of a key returned (or failed); awaited by a second request
    of the same key, on whichever event loop it runs (a server runs one; a test client may run
    one a request, in threads)."""

    def __init__(self, request: str) -> None:
        self.request = request  # the first's request (its path and body, hashed)
        self._lock = threading.Lock()
        self._done = False
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def set(self) -> None:
        with self._lock:
            self._done, waiting, self._waiting = True, self._waiting, []
        for loop, future in waiting:
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits there any more
                loop.call_soon_threadsafe(_resolve, future)

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._done:
                return
            self._waiting.append((loop, future))
        await future


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _on(store: KeyStore, call: Callable[..., T], *args: Any) -> T:
    """A key store's call: in a worker thread when the store is a server (PostgreSQL), so the
    event loop — every other request and command — never waits on its round trip."""
    if store.networked:
        return await asyncio.to_thread(call, *args)
    return call(*args)


async def _read(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, *, replayed: bool = False) -> None:
    headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json"),
                                          (b"content-length", str(len(body)).encode())]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

