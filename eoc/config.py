"""Settings: read from the environment here and nowhere else (see README, Configuration)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    store: str = "sqlite"  # sqlite | postgres
    data_dir: Path = Path(".eoc-data")
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
    # A fact entered later than this after it happened needs a provincial supervisor.
    late_entry_window: timedelta = timedelta(hours=24)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        if "EOC_STORE" in env:
            values["store"] = env["EOC_STORE"]
        if "EOC_DATA_DIR" in env:
            values["data_dir"] = Path(env["EOC_DATA_DIR"])
        if "EOC_PG_DSN" in env:
            values["pg_dsn"] = env["EOC_PG_DSN"]
        if "EOC_TOKEN_SECRET" in env:
            values["token_secret"] = env["EOC_TOKEN_SECRET"].encode()
        if "EOC_HOST" in env:
            values["host"] = env["EOC_HOST"]
        if "EOC_PORT" in env:
            values["port"] = int(env["EOC_PORT"])
        if "EOC_KAFKA_BOOTSTRAP" in env:
            values["kafka_bootstrap"] = env["EOC_KAFKA_BOOTSTRAP"]
        if "EOC_SINGLE_WRITER" in env:
            values["single_writer"] = env["EOC_SINGLE_WRITER"].lower() in ("1", "true", "yes")
        if "EOC_AUDIT_KEY" in env:
            values["audit_key"] = Path(env["EOC_AUDIT_KEY"])
        if "EOC_TOPIC_PREFIX" in env:
            values["topic_prefix"] = env["EOC_TOPIC_PREFIX"]
        if "EOC_LATE_ENTRY_WINDOW_HOURS" in env:
            values["late_entry_window"] = timedelta(hours=float(env["EOC_LATE_ENTRY_WINDOW_HOURS"]))
        if "EOC_AGGREGATE_CACHE" in env:
            values["aggregate_cache"] = int(env["EOC_AGGREGATE_CACHE"])
        values.update(overrides)
        if "token_secret" not in values:  # shared by `eoc demo` and `eoc token` on one machine
            values["token_secret"] = _local_secret(Path(values.get("data_dir", cls.data_dir)))  # type: ignore[arg-type]
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.store not in ("sqlite", "postgres"):
            raise ValueError(f"EOC_STORE must be sqlite or postgres, not {settings.store!r}")
        if settings.store == "postgres" and not settings.pg_dsn:
            raise ValueError("EOC_STORE=postgres needs EOC_PG_DSN (e.g. postgresql://postgres@127.0.0.1:55432/eoc)")
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
                       SQLITE_LOCK_TIMEOUT="30")
        else:
            from psycopg.conninfo import conninfo_to_dict

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
            )
        return env


def _local_secret(data_dir: Path) -> bytes:
    """The token secret kept in the data directory, made on first use (owner-only file)."""
    path = data_dir / "token.secret"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_hex(32).encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
        return secret
