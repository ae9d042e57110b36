"""The system's settings, built from the environment's (``eoc.app.settings.EnvSettings``, the one
place that reads it; see README, Configuration)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from pydantic import ValidationError

from eoc.app.settings import (
    ConfigurationError,
    EnvSettings,
    default_data_dir,
    describe_error,
    resolve_data_dir,
)


@dataclass(frozen=True)
class Settings:
    store: str = "sqlite"  # sqlite | postgres
    data_dir: Path = field(default_factory=default_data_dir)  # absolute (eoc/app/settings.py)
    pg_dsn: str | None = None
    token_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    host: str = "127.0.0.1"
    port: int = 8123
    kafka_bootstrap: str = "127.0.0.1:59092"
    aggregate_cache: int = 10_000
    # True when this process is the only writer of its store (the embedded default): the
    # cached aggregates are then the truth and need no check against the store on each load.
    single_writer: bool | None = None
    # The Ed25519 key that signs audit checkpoints (default: a file in the data directory).
    audit_key: Path | None = None
    topic_prefix: str = ""  # prefixes every Kafka topic name (tests, several systems on one broker)
    # A deployment's own map tiles under the dashboard's shipped base layers, e.g.
    # "https://tiles.example.ir/{z}/{x}/{y}.png" (empty: the shipped layers only, fully offline).
    map_tiles: str = ""
    # A fact entered later than this after it happened needs a provincial supervisor.
    late_entry_window: timedelta = timedelta(hours=24)
    # Keys that signed tokens before the current one (rotation: they verify, never sign).
    token_previous: tuple[bytes, ...] = ()
    # The keyring of personal and place keys: its own database, its keys wrapped by a master key.
    keyring_dsn: str | None = None  # PostgreSQL with its own credentials (default: the event store's)
    keyring_path: Path | None = None  # SQLite file (default: keys.sqlite in the data directory)
    master_key: bytes | None = None  # wraps every key in the keyring (EOC_MASTER_KEY or _FILE)
    users_dsn: str | None = None  # the user directory and access log in cluster mode (default EOC_PG_DSN)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Where people reach the API and its pages (sign-in), for the standalone bridge's pages
    # to send them there, e.g. "https://eoc.example.ir/" (EOC_API_URL; default: the bridge's
    # own host name on the API's port).
    api_url: str = ""
    # The bridge's port as the API's pages are told it (EOC_BRIDGE_PORT; default: API port + 1).
    bridge_port: int | None = None
    fault_kill_before_answer: str = ""  # tests only (EOC_FAULT_KILL_BEFORE_ANSWER, eoc/app/idempotency.py)
    # Pages allowed to open the bridge's websocket (besides the API's own address).
    allowed_origins: tuple[str, ...] = ()
    rate_limit_scale: float = 1.0  # multiplies every abuse limit; 0 turns them off (benchmarks)
    ws_max_unauthenticated: int = 200  # sockets still waiting for their token, all together
    ws_max_per_user: int = 8  # open dashboards of one user
    # Tokens that name no sign-in session (``eoc token``, programs): fine on a developer's
    # machine; a deployment turns them off so that every actor is a person who signed in.
    sessionless_tokens: bool = True
    telemetry_buffer: int = 10_000  # position reports held while Kafka is down (then 503)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """The settings of this environment (``eoc.app.settings.EnvSettings``), with overrides."""
        try:
            e = EnvSettings.read(env)
        except ValidationError as problem:
            raise ConfigurationError(describe_error(problem)) from None
        return cls.from_env_settings(e, **overrides)

    @classmethod
    def from_env_settings(cls, e: EnvSettings, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "store": e.store, "data_dir": e.resolved_data_dir(), "host": e.host, "port": e.port,
            "kafka_bootstrap": e.kafka_bootstrap, "aggregate_cache": e.aggregate_cache,
            "single_writer": e.single_writer, "audit_key": e.audit_key, "topic_prefix": e.topic_prefix,
            "map_tiles": e.map_tiles, "api_url": e.api_url, "bridge_port": e.bridge_port,
            "fault_kill_before_answer": e.fault_kill_before_answer, "late_entry_window": timedelta(hours=e.late_entry_window_hours),
            "keyring_path": e.keyring_path, "users_dsn": e.users_dsn or None, "tls_cert": e.tls_cert,
            "tls_key": e.tls_key, "allowed_origins": e.allowed_origins, "rate_limit_scale": e.rate_limit_scale,
            "ws_max_unauthenticated": e.ws_max_unauthenticated, "ws_max_per_user": e.ws_max_per_user,
            "sessionless_tokens": e.sessionless_tokens, "telemetry_buffer": e.telemetry_buffer,
        }
        pg_dsn = e.secret("pg_dsn")  # or EOC_PG_DSN_FILE: it holds the password
        if pg_dsn is not None:
            values["pg_dsn"] = pg_dsn.decode()
        token_secret = e.secret("token_secret")
        if token_secret is not None:
            values["token_secret"] = check_secret("EOC_TOKEN_SECRET", token_secret)
        previous = e.secret("token_previous_secrets")
        if previous:
            values["token_previous"] = tuple(check_secret("EOC_TOKEN_PREVIOUS_SECRETS", p.strip())
                                             for p in previous.split(b",") if p.strip())
        master = e.secret("master_key")
        if master is not None:
            values["master_key"] = check_secret("EOC_MASTER_KEY", master)
        keyring_dsn = e.secret("keyring_dsn")  # its own credentials, as a Docker secret
        if keyring_dsn:
            values["keyring_dsn"] = keyring_dsn.decode()
        values.update(overrides)
        values["data_dir"] = resolve_data_dir(values["data_dir"])  # type: ignore[arg-type]
        if "token_secret" not in values:  # shared by `eoc demo` and `eoc token` on one machine
            values["token_secret"] = _local_secret(values["data_dir"])  # type: ignore[arg-type]
            if "token_previous" not in values:  # kept by `eoc keys rotate`
                values["token_previous"] = _local_previous(values["data_dir"])  # type: ignore[arg-type]
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.store not in ("sqlite", "postgres"):
            raise ConfigurationError(f"EOC_STORE must be sqlite or postgres, not {settings.store!r}")
        if settings.store == "postgres" and not settings.pg_dsn:
            raise ConfigurationError("EOC_STORE=postgres needs EOC_PG_DSN (e.g. postgresql://postgres@127.0.0.1:55432/eoc)")
        return settings

    @property
    def audit_key_path(self) -> Path:
        return self.audit_key or self.data_dir / "audit_ed25519.pem"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "events.sqlite"

    def eventsourcing_env(self) -> dict[str, str]:
        """The event store's configuration, in the eventsourcing library's own keys."""
        single = self.single_writer if self.single_writer is not None else self.store == "sqlite"
        env = {"AGGREGATE_CACHE_MAXSIZE": str(self.aggregate_cache),
               "AGGREGATE_CACHE_FASTFORWARD": "n" if single else "y"}
        if self.store == "sqlite":
            env.update(PERSISTENCE_MODULE="eventsourcing.sqlite", SQLITE_DBNAME=str(self.sqlite_path),
                       SQLITE_LOCK_TIMEOUT="30", APPLICATION_RECORDER_TOPIC="eoc.app.recorders:SQLiteRecorder")
        else:
            from psycopg.conninfo import conninfo_to_dict

            assert self.pg_dsn is not None  # checked by load
            info = conninfo_to_dict(self.pg_dsn)
            env.update(
                PERSISTENCE_MODULE="eventsourcing.postgres",
                POSTGRES_DBNAME=str(info.get("dbname", "eoc")),
                POSTGRES_HOST=str(info.get("host", "127.0.0.1")),
                POSTGRES_PORT=str(info.get("port", "5432")),
                POSTGRES_USER=str(info.get("user", "postgres")),
                POSTGRES_PASSWORD=str(info.get("password", "")),
                POSTGRES_POOL_SIZE="10",
                POSTGRES_MAX_OVERFLOW="40",
                APPLICATION_RECORDER_TOPIC="eoc.app.recorders:PostgresRecorder",  # Idempotency-Key outcomes
            )
        return env


PLACEHOLDERS = ("change-me", "changeme", "change_me", "placeholder", "example", "secret-secret", "xxxxxxxx",
                "00000000", "replace-me", "your-secret")


class WeakSecret(ValueError):
    """A secret that anyone could guess: the process refuses to start with it."""


def check_secret(name: str, value: bytes) -> bytes:
    """Refuse placeholder, short or repetitive secrets, naming the variable and the fix."""
    text = value.decode(errors="replace").lower()
    fix = f"set {name} (or {name}_FILE) to at least 32 random bytes, e.g. $(openssl rand -hex 32)"
    if any(p in text for p in PLACEHOLDERS):
        raise WeakSecret(f"{name} is a placeholder, which anyone can read in the repository: {fix}")
    if len(value) < 32:
        raise WeakSecret(f"{name} is too short ({len(value)} bytes): {fix}")
    if len(set(value)) < 10:
        raise WeakSecret(f"{name} repeats too few characters to be random: {fix}")
    return value


def secure_data_dir(path: Path) -> None:
    """The data directory is the owner's alone: 0700, its files 0600, and so are new ones."""
    os.umask(0o077)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    for child in path.iterdir():
        if child.is_file() and not child.is_symlink():
            os.chmod(child, 0o600)


def _local_previous(data_dir: Path) -> tuple[bytes, ...]:
    try:
        return tuple(line for line in (data_dir / "token.previous").read_bytes().split(b"\n") if line)
    except FileNotFoundError:
        return ()


def rotate_local_secret(data_dir: Path, keep: int = 2) -> bytes:
    """A new signing key in the data directory; the last ``keep`` old ones still verify, so
    nobody is signed out (access tokens live minutes; refresh tokens are not signed)."""
    secure_data_dir(data_dir)
    old = _local_secret(data_dir)
    previous = (old, *_local_previous(data_dir))[:keep]
    (data_dir / "token.previous").write_bytes(b"\n".join(previous) + b"\n")
    new = secrets.token_hex(32).encode()
    tmp = data_dir / "token.secret.new"
    tmp.write_bytes(new)
    os.chmod(tmp, 0o600)
    tmp.replace(data_dir / "token.secret")
    return new


def _local_secret(data_dir: Path) -> bytes:
    """The token secret kept in the data directory, made on first use (owner-only file)."""
    path = data_dir / "token.secret"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        secure_data_dir(data_dir)
        secret = secrets.token_hex(32).encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
        return secret
