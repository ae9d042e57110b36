"""Signed checkpoints: what the log held at a position, signed so that nobody can rewrite it.

A chain link has no key: whoever can write the store can rewrite an event *and* recompute
every link after it, or cut events off the end of a stream. So the EOC publishes, every N
events or T seconds, a checkpoint::

    {"kind": "eoc.audit.checkpoint", "version": 1, "sequence": 7, "position": 120345,
     "time": "...Z", "events": 118900,
     "provinces": {"QZV": {"events": 5120, "position": 120340, "hash": "…"}, ...},
     "previous": "<sha256 of the previous checkpoint record>", "key": "<key id>",
     "signature": "<Ed25519 over the canonical JSON of everything else, base64>"}

where a province's ``hash`` is a running hash over the links of its events in log order,
``h = sha256(h + "\\n" + position + ":" + chain)`` from GENESIS. The checkpoints themselves
form a chain (``previous``), so one cannot be dropped unseen. They go to a table beside the
event store and to the ``eoc.audit.checkpoints`` topic; `eoc verify` recomputes the hashes
while it walks the stream and names the first checkpoint and province that disagree.

The key is an Ed25519 private key in PEM (PKCS#8): ``audit_ed25519.pem`` in the data
directory, made on first use with owner-only permissions, or the file named by
``EOC_AUDIT_KEY``. Auditors need only the public key (``eoc checkpoint --public-key``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from eoc.audit.findings import Finding
from eoc.audit.sources import KafkaSource
from events.chain import GENESIS
from events.envelope import canonical_json, iso

KIND = "eoc.audit.checkpoint"
TOPIC = "eoc.audit.checkpoints"
KEY_FILE = "audit_ed25519.pem"


class ProvinceHash:
    """The running hash of one province's links, in log order."""

    @staticmethod
    def step(previous: str, position: int, chain: str) -> str:
        return hashlib.sha256(f"{previous}\n{position}:{chain}".encode()).hexdigest()


# ---------------------------------------------------------------------- keys


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The signing key in ``path``, made (owner-only) if there is none yet."""
    try:
        return load_private_key(path)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return load_private_key(path)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from PEM, or the public half of a private key file."""
    data = Path(path).read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# ---------------------------------------------------------------------- records


def digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(record)).hexdigest()


def sign(body: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    body = {**body, "key": key_id(key.public_key())}
    signature = key.sign(canonical_json(body))
    return {**body, "signature": base64.b64encode(signature).decode()}


def signature_ok(record: dict[str, Any], keys: Sequence[Ed25519PublicKey]) -> bool:
    body = {k: v for k, v in record.items() if k != "signature"}
    try:
        signature = base64.b64decode(record["signature"])
    except (KeyError, ValueError, TypeError):
        return False
    for key in keys:
        if key_id(key) != record.get("key"):
            continue
        try:
            key.verify(signature, canonical_json(body))
            return True
        except InvalidSignature:
            return False
    return False


@dataclass
class CheckpointState:
    """Where the last checkpoint left the running hashes: the next one continues from it."""

    sequence: int = 0
    position: int = 0
    events: int = 0
    provinces: dict[str, dict[str, Any]] | None = None
    previous: str = GENESIS

    @classmethod
    def after(cls, record: dict[str, Any] | None) -> CheckpointState:
        if record is None:
            return cls(provinces={})
        return cls(record["sequence"], record["position"], record["events"],
                   {p: dict(v) for p, v in record["provinces"].items()}, digest(record))


def advance(state: CheckpointState, records: Any) -> CheckpointState:
    """Fold stored records (eoc.audit.sources.StoredRecord, log order) into the hashes."""
    provinces = state.provinces if state.provinces is not None else {}
    for r in records:
        v = r.value
        if v is None or not isinstance(v.get("position"), int) or v["position"] <= state.position:
            continue
        p = provinces.setdefault(v["province"], {"events": 0, "position": 0, "hash": GENESIS})
        p["hash"] = ProvinceHash.step(p["hash"], v["position"], v.get("chain") or "")
        p["events"] += 1
        p["position"] = v["position"]
        state.events += 1
        state.position = v["position"]
    state.provinces = provinces
    return state


def make_checkpoint(state: CheckpointState, key: Ed25519PrivateKey, now: datetime | None = None) -> dict[str, Any]:
    body = {
        "kind": KIND, "version": 1, "sequence": state.sequence + 1, "position": state.position,
        "time": iso(now or datetime.now(UTC)), "events": state.events,
        "provinces": {p: dict(v) for p, v in sorted((state.provinces or {}).items())},
        "previous": state.previous,
    }
    return sign(body, key)


def check_checkpoint_records(
    checkpoints: Sequence[dict[str, Any]],
    snapshots: Sequence[dict[str, tuple[int, str]]],
    public_keys: Sequence[Ed25519PublicKey],
    stream_end: int,
    *,
    strict_tail: bool,
) -> tuple[list[Any], int]:
    """Compare each checkpoint with the hashes the stream gave at its position."""

    findings: list[Finding] = []
    checked = 0
    previous = GENESIS
    for cp, snap in zip(checkpoints, snapshots, strict=True):
        label = f"checkpoint #{cp.get('sequence')} (position {cp.get('position')}, signed {cp.get('time')})"
        if public_keys and not signature_ok(cp, public_keys):
            findings.append(Finding("checkpoint", f"{label}: the signature does not verify with the EOC's "
                                    "public key: the checkpoint was forged or altered"))
            continue
        if cp.get("previous") != previous:
            findings.append(Finding("checkpoint", f"{label}: it does not follow the checkpoint before it "
                                    "(a checkpoint was removed or replaced)"))
        previous = digest(cp)
        if cp["position"] > stream_end:
            if strict_tail:
                findings.append(Finding("deleted", f"{label} covers the log up to position {cp['position']}, "
                                        f"but the log ends at {stream_end}: events were cut off its end",
                                        position=cp["position"]))
            else:
                findings.append(Finding("pending", f"{label} is beyond the end of the stream ({stream_end}); "
                                        "not checked (the relay may still be behind)"))
            continue
        checked += 1
        names = sorted(set(cp["provinces"]) | {p for p, (n, _) in snap.items() if n})
        for name in names:
            want = cp["provinces"].get(name, {"events": 0, "hash": GENESIS})
            have_events, have_hash = snap.get(name, (0, GENESIS))
            if (want["events"], want["hash"]) != (have_events, have_hash):
                if have_events < want["events"]:
                    why = "events were removed"
                elif have_events > want["events"]:
                    why = "events were added"
                else:
                    why = "events were changed or reordered (the links differ)"
                findings.append(Finding(
                    "checkpoint", f"{label}, province {name}: the signed record holds {want['events']} events "
                    f"hashing to {want['hash'][:16]}…, the stream gives {have_events} hashing to "
                    f"{have_hash[:16]}…: {why} before position {cp['position']}"))
    return findings, checked


# ---------------------------------------------------------------------- where checkpoints are kept


class CheckpointLog(Protocol):
    def append(self, record: dict[str, Any]) -> None: ...
    def load(self) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


class _CheckpointTable:
    """Checkpoints as rows (sequence, record) of a table, on one DB-API connection."""

    def __init__(self, db: Any, insert: str, select: str) -> None:
        self._db, self._insert, self._select = db, insert, select
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(self._insert, (record["sequence"], json.dumps(record, sort_keys=True)))

    def load(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(self._select).fetchall()
        return [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]  # jsonb comes decoded

    def close(self) -> None:
        self._db.close()


class SQLiteCheckpointLog(_CheckpointTable):
    """A table in a file of its own, beside the embedded event store."""

    def __init__(self, path: str | Path) -> None:
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS audit_checkpoints "
                   "(sequence INTEGER PRIMARY KEY, record TEXT NOT NULL)")
        super().__init__(db, "INSERT INTO audit_checkpoints VALUES (?, ?)",
                         "SELECT record FROM audit_checkpoints ORDER BY sequence")


class PostgresCheckpointLog(_CheckpointTable):
    """A table in the PostgreSQL database of the event store."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        conn = psycopg.connect(dsn, autocommit=True)
        with conn.transaction():  # one starting process at a time (eoc.app.pgschema's lock)
            conn.execute("SELECT pg_advisory_xact_lock(7461020213)")
            conn.execute("CREATE TABLE IF NOT EXISTS eoc_audit_checkpoints "
                         "(sequence bigint PRIMARY KEY, record jsonb NOT NULL)")
        super().__init__(conn, "INSERT INTO eoc_audit_checkpoints VALUES (%s, %s)",
                         "SELECT record FROM eoc_audit_checkpoints ORDER BY sequence")


class KafkaCheckpointLog:
    """The ``eoc.audit.checkpoints`` topic: one partition, kept for ever, key = sequence."""

    def __init__(self, bootstrap: str, topic: str = TOPIC) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer: Any = None

    def ensure_topic(self) -> None:
        from kafka import KafkaAdminClient
        from kafka.admin import NewTopic

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="eoc-audit")
        try:
            if self.topic not in admin.list_topics():
                admin.create_topics([NewTopic(self.topic, 1, 1, topic_configs={
                    "retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"})],
                    raise_errors=False)
        finally:
            admin.close()

    def append(self, record: dict[str, Any]) -> None:
        from kafka import KafkaProducer

        if self._producer is None:
            self.ensure_topic()
            self._producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                           enable_idempotence=True, client_id="eoc-audit-checkpoints")
        self._producer.send(self.topic, key=str(record["sequence"]).encode(),
                            value=canonical_json(record),
                            headers=[("content-type", b"application/json")]).get(timeout=30)

    def load(self) -> list[dict[str, Any]]:

        source = KafkaSource(self.bootstrap, self.topic)
        try:
            records = [r.value for r in source.records() if r.value is not None]
        except LookupError:
            return []
        by_sequence = {r["sequence"]: r for r in records if r.get("kind") == KIND}
        return [by_sequence[s] for s in sorted(by_sequence)]

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()


# ---------------------------------------------------------------------- publishing


class CheckpointPublisher:
    """Signs a checkpoint every ``every_events`` new events or ``every_s`` seconds (whichever
    comes first, and only when there is something new) and appends it to every log.

    Attach it to a running application (it listens to the application's commits like the
    embedded follower, and also wakes on its timer), or call ``publish()`` yourself.
    """

    def __init__(self, source: Any, key: Ed25519PrivateKey, logs: Sequence[CheckpointLog], *,
                 every_events: int = 10_000, every_s: float = 300.0) -> None:
        self.source = source  # a StoreSource
        self.key = key
        self.logs = list(logs)
        self.every_events = every_events
        self.every_s = every_s
        stored = self.logs[0].load() if self.logs else []
        last = stored[-1] if stored else None
        if last is not None and not signature_ok(last, [key.public_key()]):
            raise ValueError("the last stored checkpoint is not signed by this key: refusing to continue it")
        self.state = CheckpointState.after(last)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def publish(self, now: datetime | None = None) -> dict[str, Any] | None:
        """A checkpoint of everything new in the log; None if nothing was written since the last."""
        with self._lock:
            self._continue_from_stored()
            before = self.state.position
            state = CheckpointState(self.state.sequence, self.state.position, self.state.events,
                                    {p: dict(v) for p, v in (self.state.provinces or {}).items()},
                                    self.state.previous)
            advance(state, self.source.records(after=before))
            if state.position == before and self.state.sequence > 0:
                return None
            record = make_checkpoint(state, self.key, now)
            for log in self.logs:
                log.append(record)
            self.state = CheckpointState.after(record)
            return record

    def _continue_from_stored(self) -> None:
        """Another signer with the same key (``eoc checkpoint`` beside the running system) may
        have appended since: continue its chain instead of reusing its sequence number."""
        stored = self.logs[0].load() if self.logs else []
        last = stored[-1] if stored else None
        if (last is not None and last["sequence"] > self.state.sequence
                and signature_ok(last, [self.key.public_key()])):
            self.state = CheckpointState.after(last)

    def pending(self) -> int:
        return max(0, self.source.head() - self.state.position)

    def start(self) -> CheckpointPublisher:
        app = getattr(self.source, "app", None)
        if app is not None and hasattr(app, "saved_listeners"):
            app.saved_listeners.append(self._on_commit)
        self._thread = threading.Thread(target=self._run, name="eoc-audit-checkpoints", daemon=True)
        self._thread.start()
        return self

    def _on_commit(self, position: int) -> None:
        if position - self.state.position >= self.every_events:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            woken = self._wake.wait(timeout=self.every_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            # Woken by commits: only with N new events (a wake-up may be stale by now); by the timer: anything new.
            pending = self.pending()
            if pending >= (self.every_events if woken else 1):
                self.publish()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
