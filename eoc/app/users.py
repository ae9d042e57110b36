"""The user directory (دفتر کاربران): people, their sign-in sessions and one-time links.

SQLite in the data directory when embedded, PostgreSQL in cluster mode (the same choice as
the event store, made in eoc/main/bootstrap.py). Each user has a pseudonymous id (``U-…``, the
``actor.user`` of every event they cause), a role, a province and, where the role has one,
a team or a centre. Passwords are argon2id hashes; roles that see secret places, personal
data or other users need a TOTP second factor (events/policy.py).

Sessions: a sign-in opens one with a refresh token (stored as its SHA-256 only); an access
token names its session (``sid``). Logout revokes the session; disabling a user or "end all
sessions" moves the user's ``sessions_after`` mark, which kills every token issued before.

On PostgreSQL every request's token check would be a round trip from a worker thread. There,
a token found live is remembered (``live_known``) for as long as nothing in the directory has
changed: a trigger on ``users`` and ``user_sessions`` sends ``NOTIFY eoc_directory`` with every
commit that changes what a token check reads, from any process or by hand, and each process
listens (``DirectoryWatch``); any change forgets everything remembered, and this process's own
writes forget it at once. While the listening connection is down, or the watch's own
notification to itself has not come back for 3 s, nothing is remembered. A revocation
in another API process therefore counts from the moment its notification arrives (a
millisecond on one network), as the same check's own race with a commit does.

Embedded, the directory is a SQLite file: a token found live is remembered while SQLite's
``data_version`` of the file has not moved (``FileWatch``): any commit to it, by this process or
by a command typed beside it, forgets everything remembered at the next check.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eoc.app.pgschema import SCHEMA_LOCK
from eoc.domain.errors import Conflict, InvalidCommand, NotFound
from events.policy import POLICY, valid_scope
from events.vocabulary import Role

BROWSER_REFRESH_S = 12 * 3600  # a desk's working day
DEVICE_REFRESH_S = 14 * 24 * 3600  # a team's tablet: longer, revocable one by one
LINK_S = 5 * 60  # a one-time sign-in link
CHANNEL = "eoc_directory"  # NOTIFY channel: the directory changed (PostgreSQL only)

log = logging.getLogger(__name__)
LOCKOUT_AFTER = 5  # failed sign-ins in a row lock the account until a supervisor unlocks it

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS users (
        id TEXT PRIMARY KEY, username TEXT UNIQUE NOT NULL, role TEXT NOT NULL,
        province TEXT NOT NULL, team TEXT, centre TEXT, password_hash TEXT NOT NULL,
        totp_secret TEXT, disabled INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
        locked INTEGER NOT NULL DEFAULT 0, sessions_after DOUBLE PRECISION NOT NULL DEFAULT 0,
        created DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS user_sessions (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, refresh_hash TEXT UNIQUE,
        created DOUBLE PRECISION NOT NULL, expires DOUBLE PRECISION NOT NULL,
        revoked DOUBLE PRECISION, label TEXT)""",
    """CREATE TABLE IF NOT EXISTS signin_links (
        code_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL,
        used DOUBLE PRECISION)""",
    "CREATE INDEX IF NOT EXISTS user_sessions_revoked ON user_sessions (revoked)",
    "CREATE INDEX IF NOT EXISTS users_sessions_after ON users (sessions_after)",
)

# PostgreSQL: every statement that changes what a token check reads tells the listening processes.
PG_NOTIFY = (
    f"""CREATE OR REPLACE FUNCTION eoc_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $$""",
    # Only what a token check reads (UserDirectory._token_live), and rows going away: a failed
    # sign-in or a refreshed token does not make every process forget what it knows.
    """CREATE OR REPLACE TRIGGER users_changed
        AFTER UPDATE OF id, disabled, sessions_after, role, province OR DELETE OR TRUNCATE ON users
        FOR EACH STATEMENT EXECUTE FUNCTION eoc_directory_changed()""",
    """CREATE OR REPLACE TRIGGER user_sessions_changed
        AFTER UPDATE OF id, user_id, revoked OR DELETE OR TRUNCATE ON user_sessions
        FOR EACH STATEMENT EXECUTE FUNCTION eoc_directory_changed()""",
)


@dataclass(frozen=True)
class User:
    id: str
    username: str
    role: Role
    province: str
    team: str | None
    centre: str | None
    disabled: bool
    locked: bool
    failed: int
    has_totp: bool

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "role": str(self.role),
                "province": self.province, "team": self.team, "centre": self.centre,
                "disabled": self.disabled, "locked": self.locked, "second_factor": self.has_totp}


@dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    kind: str
    created: float
    expires: float
    revoked: float | None
    label: str | None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class _Db:
    """One small adapter over sqlite3 and psycopg: ``?`` placeholders, dict-free rows."""

    def __init__(self, *, path: Path | None = None, dsn: str | None = None) -> None:
        self.pg = dsn is not None
        self._lock = threading.Lock()
        self.on_write: Callable[[], None] = lambda: None  # after a transaction that wrote
        if dsn is not None:
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(dsn, min_size=1, max_size=3, open=True, kwargs={"autocommit": True})
        else:
            assert path is not None
            self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")

    @contextmanager
    def tx(self) -> Iterator[Any]:
        """One transaction; yields a function ``q(sql, params) -> rows``."""
        wrote = False

        def q(sql: str, params: Any = ()) -> list[Any]:
            nonlocal wrote
            wrote = wrote or not sql.lstrip().upper().startswith("SELECT")
            if self.pg:
                return _pg_rows(conn.execute(sql.replace("?", "%s"), params))
            return self._conn.execute(sql, params).fetchall()

        try:
            if self.pg:
                with self._pool.connection() as conn, conn.transaction():
                    yield q
            else:
                with self._lock:
                    self._conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield q
                    except BaseException:
                        self._conn.execute("ROLLBACK")
                        raise
                    self._conn.execute("COMMIT")
        finally:
            if wrote:  # committed or not: what was remembered may be stale
                self.on_write()

    def create(self, statements: tuple[str, ...] | list[str]) -> None:
        """Create tables if missing. Several processes start at once on one PostgreSQL (the
        API, the bridge, the watchdogs): ``CREATE TABLE IF NOT EXISTS`` races itself there,
        so they take turns on an advisory lock held for the transaction."""
        with self.tx() as q:
            if self.pg:
                q("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            for statement in statements:
                q(statement)

    def close(self) -> None:
        if self.pg:
            self._pool.close()
        else:
            self._conn.close()


def _pg_rows(cur: Any) -> list[Any]:
    return cur.fetchall() if cur.description else []


_USER_COLS = "id, username, role, province, team, centre, disabled, locked, failed, totp_secret"


def _user(row: Any) -> User:
    return User(id=row[0], username=row[1], role=Role(row[2]), province=row[3], team=row[4],
                centre=row[5], disabled=bool(row[6]), locked=bool(row[7]), failed=int(row[8]),
                has_totp=bool(row[9]))


class UserDirectory:
    def __init__(self, *, path: Path | None = None, dsn: str | None = None) -> None:
        from argon2 import PasswordHasher

        self._db = _Db(path=path, dsn=dsn)
        self._hasher = PasswordHasher()
        # A hash to check against when the user does not exist: the answer takes as long.
        self._dummy = self._hasher.hash(secrets.token_hex(8))
        self._db.create(SCHEMA + PG_NOTIFY if dsn is not None else SCHEMA)
        # Tokens found live, remembered while the directory is unchanged (the watch starts with
        # the first token check: a command-line tool never needs one).
        self._dsn = dsn
        self._path = path
        self.watch: DirectoryWatch | FileWatch | None = None
        self._watch_lock = threading.Lock()

    @property
    def networked(self) -> bool:
        """Whether a look-up is a round trip to PostgreSQL (else a read of a local SQLite file)."""
        return self._db.pg

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
        self._db.close()

    # ------------------------------------------------------------------ people

    def count(self) -> int:
        with self._db.tx() as q:
            return int(q("SELECT COUNT(*) FROM users")[0][0])

    def add(self, username: str, password: str | None, role: Role | str, province: str, *,
            team: str | None = None, centre: str | None = None, first: bool = False,
            service: bool = False) -> tuple[User, str | None]:
        """A new user; returns it and its TOTP secret (to enrol once) when its role needs one.

        ``first`` adds only into an empty directory (the first administrator, once). Without a
        password (``None``) the account never signs in with one: only by a one-time link or a
        session the system opens for it (the simulator's desks in a demo). ``service`` allows
        a service role of the policy (the watchdog): such an account never signs in at all."""
        role = Role(role)
        if role not in POLICY:
            raise InvalidCommand("the system is not a person")
        if POLICY[role].service and not service:
            raise InvalidCommand(f"a {role} is a service account of the system, not a person")
        if not valid_scope(role, province):
            raise InvalidCommand(f"a {role} account is for {'IR' if POLICY[role].national else 'one province'},"
                                 f" not {province}")
        if team and POLICY[role].binding != "team" or centre and POLICY[role].binding != "centre":
            raise InvalidCommand(f"a {role} account is bound to no team or centre")
        if not (3 <= len(username) <= 64) or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
            raise InvalidCommand("a username is 3 to 64 letters, digits, dots, dashes or underscores")
        if password is not None:
            check_password(password)
        import pyotp

        totp = pyotp.random_base32() if POLICY[role].second_factor else None
        password_hash = self._hasher.hash(password) if password is not None else NO_PASSWORD
        uid = "U-" + uuid.uuid4().hex[:16]
        with self._db.tx() as q:
            # The system's own accounts (no password: the watchdog's, a demo's simulated desks)
            # do not count: the first administrator is the first person.
            if first and q("SELECT COUNT(*) FROM users WHERE password_hash <> ?", (NO_PASSWORD,))[0][0]:
                raise Conflict("the directory already has users: the first administrator exists")
            if q("SELECT 1 FROM users WHERE username=?", (username,)):
                raise Conflict(f"the username {username} is taken")
            q("INSERT INTO users (id, username, role, province, team, centre, password_hash, totp_secret,"
              " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
              (uid, username, str(role), province, team, centre, password_hash, totp, time.time()))
        return self.get(uid), totp

    def ensure(self, username: str, role: Role | str, province: str, *, team: str | None = None,
               centre: str | None = None, service: bool = False) -> User:
        """The account of this name, added without a password if it is not there yet (the
        system's own accounts: the watchdog's, a demo's simulated desks). Several processes
        may ensure one account at once: the one that loses the race finds the other's."""
        try:
            user = self.find(username)
        except NotFound:
            try:
                user = self.add(username, None, role, province, team=team, centre=centre, service=service)[0]
            except Conflict:
                user = self.find(username)
        if (user.role, user.province, user.team, user.centre) != (Role(role), province, team, centre):
            raise Conflict(f"the account {username} exists with another role, province, team or centre")
        return user

    def get(self, user_id: str) -> User:
        with self._db.tx() as q:
            rows = q(f"SELECT {_USER_COLS} FROM users WHERE id=?", (user_id,))
        if not rows:
            raise NotFound(f"no user {user_id}", id=user_id)
        return _user(rows[0])

    def find(self, username_or_id: str) -> User:
        with self._db.tx() as q:
            rows = q(f"SELECT {_USER_COLS} FROM users WHERE username=? OR id=?", (username_or_id, username_or_id))
        if not rows:
            raise NotFound(f"no user {username_or_id}")
        return _user(rows[0])

    def list(self, province: str | None = None) -> list[User]:
        with self._db.tx() as q:
            if province:
                rows = q(f"SELECT {_USER_COLS} FROM users WHERE province=? ORDER BY username", (province,))
            else:
                rows = q(f"SELECT {_USER_COLS} FROM users ORDER BY username")
        return [_user(r) for r in rows]

    def set_disabled(self, user_id: str, disabled: bool) -> User:
        with self._db.tx() as q:
            if disabled:
                q("UPDATE users SET disabled=1, sessions_after=? WHERE id=?", (time.time(), user_id))
                q("UPDATE user_sessions SET revoked=? WHERE user_id=? AND revoked IS NULL", (time.time(), user_id))
            else:
                q("UPDATE users SET disabled=0 WHERE id=?", (user_id,))
        return self.get(user_id)

    def end_sessions(self, user_id: str) -> int:
        """End every session of the user: every token issued before now stops working."""
        with self._db.tx() as q:
            q("UPDATE users SET sessions_after=? WHERE id=?", (time.time(), user_id))
            rows = q("SELECT id FROM user_sessions WHERE user_id=? AND revoked IS NULL", (user_id,))
            q("UPDATE user_sessions SET revoked=? WHERE user_id=? AND revoked IS NULL", (time.time(), user_id))
        return len(rows)

    def reset_totp(self, user_id: str) -> str:
        import pyotp

        secret = pyotp.random_base32()
        with self._db.tx() as q:
            q("UPDATE users SET totp_secret=? WHERE id=?", (secret, user_id))
        self.end_sessions(user_id)
        return secret

    def set_password(self, user_id: str, password: str) -> None:
        check_password(password)
        with self._db.tx() as q:
            q("UPDATE users SET password_hash=? WHERE id=?", (self._hasher.hash(password), user_id))
        self.end_sessions(user_id)

    def unlock(self, user_id: str) -> User:
        with self._db.tx() as q:
            q("UPDATE users SET locked=0, failed=0 WHERE id=?", (user_id,))
        return self.get(user_id)

    # ------------------------------------------------------------------ signing in

    def check_credentials(self, username: str, password: str, code: str | None) -> tuple[User | None, str]:
        """(the user, "") when password and second factor are right, else (user or None, why)."""
        from argon2.exceptions import (
            InvalidHashError,
            VerificationError,
            VerifyMismatchError,
        )

        with self._db.tx() as q:
            rows = q(f"SELECT {_USER_COLS}, password_hash FROM users WHERE username=?", (username,))
        if not rows:
            try:
                self._hasher.verify(self._dummy, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                pass
            return None, "unknown user"
        user, pw_hash, totp = _user(rows[0]), rows[0][10], rows[0][9]
        try:
            self._hasher.verify(pw_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return user, "wrong password"
        if totp:
            import pyotp

            if not code or not pyotp.TOTP(totp).verify(str(code).strip(), valid_window=1):
                return user, "wrong or missing second-factor code"
        return user, ""

    def record_failure(self, user_id: str) -> bool:
        """Count a failed sign-in; True when this one locked the account."""
        with self._db.tx() as q:
            q("UPDATE users SET failed=failed+1 WHERE id=?", (user_id,))
            failed = q("SELECT failed, locked FROM users WHERE id=?", (user_id,))[0]
            if failed[0] >= LOCKOUT_AFTER and not failed[1]:
                q("UPDATE users SET locked=1 WHERE id=?", (user_id,))
                return True
        return False

    def record_success(self, user_id: str) -> None:
        with self._db.tx() as q:
            q("UPDATE users SET failed=0 WHERE id=?", (user_id,))

    def open_session(self, user_id: str, kind: str = "browser", label: str | None = None) -> tuple[Session, str]:
        """A new session and its refresh token (given out once, kept as a digest)."""
        ttl = DEVICE_REFRESH_S if kind == "device" else BROWSER_REFRESH_S
        sid, refresh, now = "s-" + uuid.uuid4().hex, secrets.token_urlsafe(32), time.time()
        with self._db.tx() as q:
            q("INSERT INTO user_sessions (id, user_id, kind, refresh_hash, created, expires, label)"
              " VALUES (?, ?, ?, ?, ?, ?, ?)", (sid, user_id, kind, digest(refresh), now, now + ttl, label))
        return Session(sid, user_id, kind, now, now + ttl, None, label), refresh

    def rotate_refresh(self, refresh: str) -> tuple[Session, str] | None:
        """Exchange a refresh token for a new one (the old one is spent); None if not live."""
        new, now = secrets.token_urlsafe(32), time.time()
        with self._db.tx() as q:
            rows = q("SELECT s.id, s.user_id, s.kind, s.created, s.expires, s.label FROM user_sessions s"
                     " JOIN users u ON u.id = s.user_id WHERE s.refresh_hash=? AND s.revoked IS NULL"
                     " AND s.expires > ? AND u.disabled = 0 AND u.locked = 0", (digest(refresh), now))
            if not rows:
                return None
            sid, uid, kind, created, expires, label = rows[0]
            q("UPDATE user_sessions SET refresh_hash=? WHERE id=?", (digest(new), sid))
        return Session(sid, uid, kind, created, expires, None, label), new

    def revoke_session(self, sid: str) -> bool:
        with self._db.tx() as q:
            rows = q("SELECT id FROM user_sessions WHERE id=? AND revoked IS NULL", (sid,))
            q("UPDATE user_sessions SET revoked=? WHERE id=? AND revoked IS NULL", (time.time(), sid))
        return bool(rows)

    def session(self, sid: str) -> Session:
        with self._db.tx() as q:
            rows = q("SELECT id, user_id, kind, created, expires, revoked, label FROM user_sessions WHERE id=?", (sid,))
        if not rows:
            raise NotFound(f"no session {sid}")
        return Session(*rows[0])

    def sessions(self, user_id: str) -> builtins.list[Session]:  # list: the method above
        with self._db.tx() as q:
            rows = q("SELECT id, user_id, kind, created, expires, revoked, label FROM user_sessions"
                     " WHERE user_id=? AND revoked IS NULL AND expires > ? ORDER BY created", (user_id, time.time()))
        return [Session(*r) for r in rows]

    def make_link(self, user_id: str, ttl_s: float = LINK_S) -> str:
        """A one-time sign-in code (for a link): used once, dead after ``ttl_s``."""
        if POLICY[self.get(user_id).role].service:
            raise InvalidCommand("a service account never signs in")
        code = secrets.token_urlsafe(24)
        with self._db.tx() as q:
            q("INSERT INTO signin_links (code_hash, user_id, expires) VALUES (?, ?, ?)",
              (digest(code), user_id, time.time() + ttl_s))
        return code

    def redeem_link(self, code: str) -> User | None:
        now = time.time()
        with self._db.tx() as q:
            rows = q("SELECT user_id FROM signin_links WHERE code_hash=? AND used IS NULL AND expires > ?",
                     (digest(code), now))
            if not rows:
                return None
            q("UPDATE signin_links SET used=? WHERE code_hash=?", (now, digest(code)))
        user = self.get(rows[0][0])
        return None if user.disabled or user.locked else user

    # ------------------------------------------------------------------ tokens (eoc.app.auth)

    def live_known(self, claims: Any) -> bool:
        """Whether this verified token was found live and nothing in the directory has changed
        since (for the event loop: no round trip; embedded, one read of the file's header).
        False means: ask ``token_live``."""
        return self.watch is not None and self.watch.knows(_token_key(claims))

    def _watching(self) -> DirectoryWatch | FileWatch | None:
        with self._watch_lock:
            if self.watch is None:
                if self._dsn is not None:
                    self.watch = DirectoryWatch(self._dsn)
                elif self._path is not None:
                    self.watch = FileWatch(self._path)
                else:
                    return None
                self._db.on_write = self.watch.changed
            return self.watch

    def token_live(self, claims: Any) -> str | None:
        """Why this verified token no longer counts (None: it does)."""
        watch = self.watch or self._watching()
        try:
            generation: Any = watch.generation if watch is not None else None  # read before the look-up
        except sqlite3.Error:  # the embedded watch cannot read the file now: look up, remember nothing
            watch = None
        problem = self._token_live(claims)
        if problem is None and watch is not None:
            watch.remember(_token_key(claims), generation)
        return problem

    def _token_live(self, claims: Any) -> str | None:
        with self._db.tx() as q:
            rows = q("SELECT disabled, sessions_after, role, province FROM users WHERE id=?", (claims.sub,))
            if claims.sid:
                srows = q("SELECT user_id, revoked FROM user_sessions WHERE id=?", (claims.sid,))
                if not srows or srows[0][0] != claims.sub or srows[0][1] is not None:
                    return "the session has ended; sign in again"
        if not rows:
            # Tokens issued by the system for tests and tools name no account; a session always does.
            return "the session names no user" if claims.sid else None
        disabled, after, role, province = rows[0]
        if disabled:
            return "the account is disabled"
        if not claims.sid and claims.iat <= after:  # a session's own revocation covers the rest
            return "the session has ended; sign in again"
        if role != str(claims.role) or province != claims.province:
            return "the account's role or province has changed; sign in again"
        return None

    def revoked_since(self, since: float) -> tuple[set[str], dict[str, float]]:
        with self._db.tx() as q:
            sids = {r[0] for r in q("SELECT id FROM user_sessions WHERE revoked >= ?", (since,))}
            users = {r[0]: float(r[1]) for r in q("SELECT id, sessions_after FROM users WHERE sessions_after >= ?",
                                                    (since,))}
        return sids, users


TOKENS_REMEMBERED = 50_000  # a watch's tokens found live, at most (then forgotten all at once)


def _remembered(known: dict[tuple[Any, ...], Any], key: tuple[Any, ...], generation: Any) -> dict[tuple[Any, ...], Any]:
    """A watch's tokens found live, with this one (when found in this generation, and now)."""
    if len(known) >= TOKENS_REMEMBERED:
        known = {}
    known[key] = (generation, time.monotonic())
    return known


class FileWatch:
    """The embedded directory's watch (SQLite in the data directory): a connection of its own
    asks SQLite's ``data_version``, which moves with every commit to the file by any other
    connection — this process's directory or another process's (``eoc user disable`` typed
    beside a running system). A token is known only if it was found live while the file was
    as it is now, and within ``max_age_s``; this process's own writes forget at once too.

    Each request's token check was a transaction on the file (two look-ups under the
    directory's lock), twice a request (the key middleware's and the endpoint's); now it is
    one ``PRAGMA data_version`` — a read of the file's header, no transaction. Any commit to
    the file forgets everything (a sign-in too, which PostgreSQL's trigger does not count):
    never wrong, at times a look-up more."""

    def __init__(self, path: Path, *, max_age_s: float = 60.0) -> None:
        self.max_age_s = max_age_s
        # Asked on the event loop: never wait on a busy file (then nothing is known, and the
        # token is looked up as before).
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=0.05)
        self._lock = threading.Lock()
        self._own = 0  # this process's writes
        self._known: dict[tuple[Any, ...], tuple[tuple[int, int], float]] = {}

    @property
    def generation(self) -> tuple[int, int]:
        with self._lock:
            return self._own, int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def knows(self, key: tuple[Any, ...]) -> bool:
        entry = self._known.get(key)
        if entry is None or time.monotonic() - entry[1] >= self.max_age_s:
            return False
        try:
            return entry[0] == self.generation
        except sqlite3.Error:  # the file cannot be asked: nothing is known
            return False

    def remember(self, key: tuple[Any, ...], generation: tuple[int, int]) -> None:
        with self._lock:
            if generation[0] != self._own:
                return  # this process wrote during the look-up: not kept
            self._known = _remembered(self._known, key, generation)

    def changed(self) -> None:
        with self._lock:
            self._own += 1
            self._known = {}

    def close(self) -> None:
        with self._lock:
            self._known = {}
            self._conn.close()


def _token_key(claims: Any) -> tuple[Any, ...]:
    return (claims.sub, claims.sid, claims.iat, str(claims.role), claims.province, claims.team, claims.centre)


class DirectoryWatch:
    """Listens for ``NOTIFY eoc_directory`` on a connection of its own and keeps the tokens
    found live since the last change. ``generation`` moves on every change heard, every write
    of this process and every (re)connection; a token is known only if it was found live in
    the current generation, while the connection listens, and within ``max_age_s``.

    A connection can die without a word (a network that drops it, a pooler that does not pass
    LISTEN on): the watch sends itself a notification every ``ping_s`` on the same channel, and
    knows nothing unless its last one came back within ``alive_s``."""

    def __init__(self, dsn: str, *, max_age_s: float = 60.0, retry_s: float = 1.0, ping_s: float = 1.0,
                 alive_s: float = 3.0) -> None:
        self.dsn = dsn
        self.max_age_s = max_age_s
        self.retry_s = retry_s
        self.ping_s = ping_s
        self.alive_s = alive_s
        self.generation = 0
        self.listening = False
        self.heard = 0  # changes heard (for tests and /metrics)
        self.alive_at = float("-inf")  # when this watch last heard its own ping
        self.backend_pid: int | None = None  # the listening connection's server process
        self._ping = f"ping:{uuid.uuid4().hex}"
        self._known: dict[tuple[Any, ...], tuple[int, float]] = {}
        self._lock = threading.Lock()  # changes and remembering; knowing reads without it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="eoc-directory-watch", daemon=True)
        self._thread.start()

    def knows(self, key: tuple[Any, ...]) -> bool:
        entry = self._known.get(key)
        if entry is None or not self.listening or entry[0] != self.generation:
            return False
        now = time.monotonic()
        return now - entry[1] < self.max_age_s and now - self.alive_at < self.alive_s

    def remember(self, key: tuple[Any, ...], generation: int) -> None:
        with self._lock:
            if generation != self.generation or not self.listening:
                return  # the directory changed during the look-up, or nobody listens: not kept
            self._known = _remembered(self._known, key, generation)

    def changed(self) -> None:
        with self._lock:
            self.generation += 1
            self._known = {}

    def _listen(self) -> None:
        import psycopg

        down = False
        while not self._stop.is_set():
            try:
                # Keepalives: a connection the network dropped ends in seconds, not hours.
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10, keepalives=1,
                                     keepalives_idle=5, keepalives_interval=2, keepalives_count=3) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.backend_pid = conn.info.backend_pid
                    self.changed()  # anything may have changed while nobody listened
                    self.listening = True
                    if down:
                        log.warning("the directory watch listens again; token checks are remembered again")
                        down = False
                    while not self._stop.is_set():
                        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self._ping))
                        for notify in conn.notifies(timeout=self.ping_s):
                            if notify.payload == self._ping:
                                self.alive_at = time.monotonic()
                            elif not notify.payload.startswith("ping:"):  # another watch's ping
                                self.heard += 1
                                self.changed()
            except Exception as exc:
                self.listening = False
                self.changed()
                if not self._stop.is_set() and not down:
                    log.warning("the directory watch lost its connection (%s); every token is checked "
                                "in PostgreSQL until it is back", type(exc).__name__)
                    down = True
                self._stop.wait(self.retry_s)
        self.listening = False

    def close(self) -> None:
        self._stop.set()
        self.listening = False
        self._thread.join(5)


# The stored hash of an account without a password: no password ever verifies against it.
NO_PASSWORD = "!no-password"


def check_password(password: str) -> None:
    if len(password) < 12:
        raise InvalidCommand("a password has at least 12 characters")
    if password.lower() in WEAK_PASSWORDS or len(set(password)) < 5:
        raise InvalidCommand("that password is too easy to guess")


WEAK_PASSWORDS = frozenset({"password1234", "123456789012", "changeme1234", "administrator",
                            "qwertyuiop12", "passwordpassword"})


def new_password() -> str:
    return secrets.token_urlsafe(15)
