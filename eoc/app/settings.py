"""Every ``EOC_`` variable of every process, typed, in one model (pydantic-settings).

This is the only place that reads the environment: ``eoc.app.config.Settings`` (the system's
settings) and ``eoc.main.cluster.ClusterSettings`` (the cluster processes') are built from an
``EnvSettings``. The README's configuration table is generated from this model
(``python -m eoc.app.settings --readme README.md``) and a test keeps the two equal.

Secrets may come from a file instead (Docker secrets): ``EOC_<NAME>_FILE`` names it.
"""

from __future__ import annotations

import argparse
import contextvars
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic.json_schema import JsonDict
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

PREFIX = "EOC_"
ALL = "all"

# The environment read, when a caller passes its own mapping (tests, the benchmarks).
_MAPPING: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("eoc_settings_env", default=None)


def _f(default: Any, used_by: str, meaning: str, shown: str | None = None) -> Any:
    """A documented field: which processes read it and what it means (the README table)."""
    extra: JsonDict = {"used_by": used_by}
    if shown is not None:
        extra["shown_default"] = shown
    return Field(default, description=meaning, json_schema_extra=extra)


class _Source(EnvSettingsSource):
    """The process environment, or the mapping a caller gave ``EnvSettings.read``."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        mapping = _MAPPING.get()
        if mapping is None:
            return super()._load_env_vars()
        return parse_env_vars(mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


class EnvSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, case_sensitive=False, extra="ignore",
                                      env_ignore_empty=True, frozen=True)

    # ------------------------------------------------------------------ the store
    store: Literal["sqlite", "postgres"] = _f("sqlite", ALL, "`sqlite` (embedded) or `postgres` (cluster)")
    data_dir: Path | None = _f(
        None, ALL, "SQLite store, keyring, users, access log, board checkpoint, token secret; "
        "a relative path is taken from the working directory once, at start",
        shown="`.eoc-data` in the source tree, else `$XDG_DATA_HOME/eoc`")
    pg_dsn: str | None = _f(None, "api, relay, watchdog, bridge, cli",
                            "PostgreSQL, e.g. `postgresql://postgres@127.0.0.1:55432/eoc` (or `EOC_PG_DSN_FILE`)")
    pg_dsn_file: Path | None = _f(None, "api, relay, watchdog, bridge, cli", "a file holding `EOC_PG_DSN` (Docker secret)")
    aggregate_cache: int = _f(10_000, "api, demo", "aggregates kept in memory by the write side")
    single_writer: bool | None = _f(None, "api, demo",
                                    "this process is the store's only writer: cached aggregates need no check "
                                    "against the store", shown="true on SQLite, false on PostgreSQL")
    # ------------------------------------------------------------------ tokens and keys
    token_secret: str | None = _f(None, "api, bridge, demo, cli",
                                  "signs access tokens (32+ random bytes; placeholders are refused at start)",
                                  shown="a random secret kept in the data directory")
    token_secret_file: Path | None = _f(None, "api, bridge, demo, cli", "a file holding `EOC_TOKEN_SECRET`")
    token_previous_secrets: str | None = _f(None, "api, bridge, demo, cli",
                                            "earlier signing keys, comma-separated: they verify, never sign",
                                            shown="`token.previous` in the data directory")
    token_previous_secrets_file: Path | None = _f(None, "api, bridge, demo, cli",
                                                  "a file holding `EOC_TOKEN_PREVIOUS_SECRETS`")
    token: str | None = _f(None, "cli", "the access token `eoc audit` sends to a running API",
                           shown="one signed with the token secret")
    sessionless_tokens: bool = _f(True, "api, bridge, demo",
                                  "accept tokens that name no sign-in session (`eoc token`); the compose file sets `false`")
    master_key: str | None = _f(None, "api, bridge, demo, cli", "wraps every key of the keyring (AES-GCM)")
    master_key_file: Path | None = _f(None, "api, bridge, demo, cli", "a file holding `EOC_MASTER_KEY`")
    keyring_dsn: str | None = _f(None, "api, bridge, cli", "the keyring in a PostgreSQL database of its own, "
                                 "with its own credentials", shown="the event store's database")
    keyring_dsn_file: Path | None = _f(None, "api, bridge, cli", "a file holding `EOC_KEYRING_DSN`")
    keyring_path: Path | None = _f(None, "api, bridge, demo, cli", "the keyring in a SQLite file",
                                   shown="`keys.sqlite` in the data directory")
    users_dsn: str | None = _f(None, "api, bridge, cli", "the user directory and the access log",
                               shown="`EOC_PG_DSN` in cluster mode, else `users.sqlite`")
    audit_key: Path | None = _f(None, "api, demo, cli", "the key that signs audit checkpoints",
                                shown="`audit_ed25519.pem` in the data directory")
    # ------------------------------------------------------------------ the edges
    host: str = _f("127.0.0.1", ALL, "address the API, the dashboard and every `/metrics` listen on "
                   "(and `eoc board`'s API)")
    port: int = _f(8123, "api, bridge, demo, cli", "port of the API and dashboard (the bridge listens on port + 1)")
    tls_cert: Path | None = _f(None, "api, bridge, demo", "TLS certificate of the API and the bridge", shown="none (plain)")
    tls_key: Path | None = _f(None, "api, bridge, demo", "TLS key of the API and the bridge", shown="none (plain)")
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = _f(
        (), "api, bridge, demo", "other pages that may open the bridge's websocket, comma-separated",
        shown="the API's own host")
    rate_limit_scale: float = _f(1.0, "api, bridge, demo",
                                 "multiplies every abuse limit (0 turns them off: benchmarks only)")
    ws_max_unauthenticated: int = _f(200, "api, bridge, demo", "sockets waiting for their token, all together")
    ws_max_per_user: int = _f(8, "api, bridge, demo", "open dashboards of one user")
    map_tiles: str = _f("", "api, bridge, demo",
                        "a tile server's URL template (`https://tiles.example.ir/{z}/{x}/{y}.png`) drawn under "
                        "the dashboard's shipped layers; empty: shipped layers only")
    bridge_port: int | None = _f(None, "api, demo", "the bridge's port as the API's pages are told it",
                                 shown="the API's port + 1")
    fault_kill_before_answer: str = _f("", "api, demo", "tests only: a path pattern at which the API kills "
                                       "itself between a command's commit and its answer (eoc/app/idempotency.py)")
    api_url: str = _f("", "bridge", "where the standalone bridge sends people to sign in "
                      "(e.g. `https://eoc.example.ir/`)", shown="the API's port on the bridge's host")
    late_entry_window_hours: float = _f(24.0, "api, demo",
                                        "a fact entered later than this after it happened needs a provincial supervisor")
    telemetry_buffer: int = _f(10_000, "api",
                               "position reports held while Kafka is down; past it the API answers 503")
    # ------------------------------------------------------------------ Kafka and the cluster
    kafka_bootstrap: str = _f("127.0.0.1:59092", "api, relay, worker, bridge, watchdog, cli", "Kafka, in cluster mode")
    topic_prefix: str = _f("", ALL, "prefixes every Kafka topic name and the worker's consumer group")
    kafka_partitions: int = _f(8, "api, relay, worker, cli", "partitions of the co-partitioned topics (set once)")
    kafka_replication: int = _f(1, "api, relay, worker, cli", "replication factor of the topics (3 in production)")
    kafka_timeout_s: float = _f(5.0, "api, relay, worker, bridge, cli",
                                "how long a process waits for Kafka before it reports it down and tries again")
    worker_web_port: int | None = _f(None, "worker", "Faust's web port (its `/metrics` too); none: no web")
    worker_batch: int = _f(500, "worker", "most records a worker folds per batch")
    worker_batch_ms: float = _f(2.0, "worker", "longest a worker waits to fill a batch (milliseconds)")
    worker_id: str | None = _f(None, "worker", "static group member id: a restarted worker resumes at once")
    worker_session_s: float = _f(10.0, "worker", "seconds before a silent worker's partitions go to others")
    worker_recovery_stall_s: float = _f(60.0, "worker", "seconds a table recovery may make no progress before the "
                                        "worker exits for its supervisor to restart it (0: never)")
    worker_crash_after: str | None = _f(None, "worker", "tests only: `<batches>:<rows>`, the worker dies mid-batch")
    relay_watermark_s: float = _f(0.5, "relay", "how often the relay confirms what Kafka has acknowledged")
    heartbeat_file: Path | None = _f(None, "relay, worker", "a file the relay and the worker touch while they work")
    metrics_port: int | None = _f(None, "relay, watchdog",
                                  "port of `/metrics`, `/healthz`, `/readyz` of the relay and the watchdog "
                                  "(the API and the bridge serve them on their own port, a worker on its web port)")
    log_level: Literal["debug", "info", "warn", "warning", "error", "crit"] = _f("info", ALL, "log level")
    log_format: Literal["json", "text"] = _f("json", "demo, api, relay, worker, bridge, watchdog",
                                             "`json`: one JSON object a line; `text`: for a person")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _Source(settings_cls))

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(o.strip() for o in value.split(",") if o.strip())
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("worker_crash_after")
    @classmethod
    def _crash_after(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d+:\d+", value):
            raise ValueError("EOC_WORKER_CRASH_AFTER is <batches>:<rows>, e.g. 3:10")
        return value

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None) -> EnvSettings:
        """The settings of this environment (default: the process's own)."""
        with _reading(env):
            return cls()

    def secret(self, name: str) -> bytes | None:
        """A secret from its variable, or from the file its ``_FILE`` twin names."""
        path = getattr(self, name + "_file")
        if path is not None:
            return Path(path).read_bytes().strip()
        value = getattr(self, name)
        return None if value is None else value.encode()

    def resolved_data_dir(self) -> Path:
        return resolve_data_dir(self.data_dir)


@contextmanager
def _reading(env: Mapping[str, str] | None) -> Iterator[None]:
    token = _MAPPING.set(env)
    try:
        yield
    finally:
        _MAPPING.reset(token)


def default_data_dir() -> Path:
    """``.eoc-data`` of the source tree when run from one (a developer's checkout), else the
    user's data directory: never the working directory, so every command finds the same."""
    tree = Path(__file__).resolve().parents[1]
    if (tree / "pyproject.toml").is_file() and os.access(tree, os.W_OK):
        return tree / ".eoc-data"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser().resolve() / "eoc"


def resolve_data_dir(value: Path | str | None) -> Path:
    return default_data_dir() if value is None else Path(value).expanduser().resolve()


class ConfigurationError(ValueError):
    """A setting that the process cannot start with: one line that names the variable."""


def describe_error(problem: Exception) -> str:
    """One line for a bad setting (pydantic's errors name the field; we name the variable)."""
    errors = getattr(problem, "errors", None)
    if callable(errors):
        parts = []
        for e in errors():
            loc = "_".join(str(p) for p in e.get("loc", ()))
            parts.append(f"{PREFIX}{loc.upper()}: {e.get('msg')}" if loc else str(e.get("msg")))
        return "; ".join(parts)
    return str(problem)


# ---------------------------------------------------------------------- the README table

BEGIN = "<!-- settings table: generated by `python -m eoc.app.settings --readme README.md` -->"
END = "<!-- end of settings table -->"


def markdown_table() -> str:
    rows = ["| variable | default | read by | meaning |", "| --- | --- | --- | --- |"]
    for name, info in EnvSettings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        default = extra.get("shown_default")
        if default is None:
            value = info.default
            default = "none" if value is None else "empty" if value in ("", ()) else f"`{str(value).lower() if isinstance(value, bool) else value}`"
        rows.append(f"| `{PREFIX}{name.upper()}` | {default} | {extra.get('used_by', ALL)} | {info.description} |")
    return "\n".join(rows) + "\n"


def readme_with_table(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + markdown_table() + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eoc.app.settings", description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, help="rewrite the settings table of this README")
    args = parser.parse_args(argv)
    if args.readme:
        args.readme.write_text(readme_with_table(args.readme.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        sys.stdout.write(markdown_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
