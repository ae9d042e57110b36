"""The composition root of the cluster processes: the command API, the relay, the Faust worker.

Each process of a cluster deployment is built here from its settings: the core settings of
``eoc.app.config`` and the cluster's own, both from ``eoc.app.settings.EnvSettings`` (every variable,
its default and its meaning: README, Configuration).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing import persistence as es_persistence
from psycopg.conninfo import conninfo_to_dict
from pydantic import ValidationError

from consumers.board_topic import BoardTopicView
from consumers.relay import AdvisoryLock, Relay
from consumers.telemetry import Backpressure, TelemetryPublisher, kafka_down
from consumers.topics import Layout
from consumers.topics import describe_topics as describe
from consumers.topics import ensure_topics as ensure
from consumers.worker import create_app
from eoc.app.auth import Authenticator, TokenSigner
from eoc.app.config import Settings
from eoc.app.metrics import (
    Metrics,
    health_answer,
    watch_dependency,
    watch_follower,
    watch_writer,
)
from eoc.app.service import CommandService, open_application
from eoc.app.settings import (
    ConfigurationError,
    EnvSettings,
    default_data_dir,
    describe_error,
)
from eoc.app.track import Thinning
from eoc.domain.errors import Unavailable
from eoc.main.bootstrap import (
    System,
    attach_identity,
    make_keyring,
    make_track,
    store_check,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterSettings:
    kafka_bootstrap: str = "127.0.0.1:59092"
    layout: Layout = field(default_factory=Layout)
    worker_web_port: int | None = None
    worker_batch: int = 500
    worker_batch_ms: float = 2.0
    worker_id: str | None = None
    worker_session_s: float = 10.0
    worker_recovery_stall_s: float = 60.0
    relay_watermark_s: float = 0.5
    log_level: str = "info"
    heartbeat_file: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    worker_crash_after: tuple[int, int] | None = None
    log_format: str = "json"
    metrics_port: int | None = None
    kafka_timeout_s: float = 5.0
    web_bind: str = "127.0.0.1"  # where the worker's web port and the relay's metrics listen
    env: Mapping[str, str] | None = field(default=None, repr=False)  # None: the process's own
    e: EnvSettings | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClusterSettings:
        try:
            e = EnvSettings.read(env)
        except ValidationError as problem:
            raise ConfigurationError(describe_error(problem)) from None
        return cls.from_env_settings(e, env)

    @classmethod
    def from_env_settings(cls, e: EnvSettings, env: Mapping[str, str] | None = None) -> ClusterSettings:
        return cls(
            kafka_bootstrap=e.kafka_bootstrap,
            layout=Layout(prefix=e.topic_prefix, partitions=e.kafka_partitions, replication=e.kafka_replication),
            worker_web_port=e.worker_web_port, worker_batch=e.worker_batch, worker_batch_ms=e.worker_batch_ms,
            worker_id=e.worker_id or None, worker_session_s=e.worker_session_s,
            worker_recovery_stall_s=e.worker_recovery_stall_s,
            relay_watermark_s=e.relay_watermark_s, log_level=e.log_level, log_format=e.log_format,
            heartbeat_file=str(e.heartbeat_file) if e.heartbeat_file else None,
            data_dir=e.resolved_data_dir(), worker_crash_after=_crash_after(e.worker_crash_after),
            metrics_port=e.metrics_port, kafka_timeout_s=e.kafka_timeout_s, web_bind=e.host,
            env=dict(env) if env is not None else None, e=e,
        )

    def core(self, **overrides: Any) -> Settings:
        """The core settings; the cluster's event store is PostgreSQL."""
        settings = Settings.from_env_settings(self.e or EnvSettings.read(self.env), **overrides)
        if settings.store != "postgres":
            raise ConfigurationError("cluster processes use the PostgreSQL event store: set EOC_STORE=postgres "
                             "and EOC_PG_DSN")
        return settings


# ---------------------------------------------------------------------- topics


def _with_topic_admin(cs: ClusterSettings, use: Callable[[Any, Layout], list[Any]]) -> list[Any]:
    """``use(admin, layout)`` with a Kafka admin client of the cluster, closed afterwards."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=cs.kafka_bootstrap, client_id="eoc-topics",
                             bootstrap_timeout_ms=int(cs.kafka_timeout_s * 1000))
    try:
        return use(admin, cs.layout)
    finally:
        admin.close()


def describe_topics(cs: ClusterSettings) -> list[Any]:
    """The topics of the layout as they are on the cluster (missing or differing: their problems)."""
    return _with_topic_admin(cs, describe)


def ensure_topics(cs: ClusterSettings) -> list[Any]:
    """Create the missing topics of the layout; report the existing ones that differ."""
    states = _with_topic_admin(cs, ensure)
    for state in states:
        if state.problems:
            log.warning("topic %s: %s", state.name, "; ".join(state.problems))
    return states


class KafkaDown(ConfigurationError):
    """Kafka does not answer: the command says so in one line (``eoc topics``)."""


def check_kafka(cs: ClusterSettings) -> None:
    problem = kafka_down(cs.kafka_bootstrap)
    if problem is not None:
        raise KafkaDown(f"Kafka at {cs.kafka_bootstrap} is down ({problem})")


def wait_for_kafka(cs: ClusterSettings, who: str, stop: threading.Event | None = None) -> bool:
    """Wait until Kafka accepts connections, saying so once (and once when it is back);
    False if ``stop`` was set first. Checked every second: back within a second or two."""
    problem = kafka_down(cs.kafka_bootstrap)
    if problem is None:
        return True
    stop = stop or threading.Event()
    since = time.monotonic()
    log.warning("Kafka at %s is down (%s); the %s waits for it", cs.kafka_bootstrap, problem, who)
    while problem is not None:
        if stop.wait(1.0):
            return False
        problem = kafka_down(cs.kafka_bootstrap)
    log.warning("Kafka at %s is back after %.0f s; the %s goes on", cs.kafka_bootstrap,
                time.monotonic() - since, who)
    return True


def what_failed(exc: BaseException, *, kafka: str, dsn: str | None = None) -> str:
    """The dependency a start-up or run failure is about, in the words of an operator's log line:
    Kafka only when Kafka's client failed, PostgreSQL when the store did (its address, never its
    password), else the error as it is (a bug or a refusal is not an outage)."""
    kind = type(exc)
    mod = kind.__module__ or ""
    what = f"{kind.__name__}: {exc}"
    if mod.split(".")[0] in ("kafka", "aiokafka"):
        return f"Kafka at {kafka} does not answer ({what})"
    # The event store's errors come as psycopg's own or as eventsourcing's wrappers of them.
    if mod.split(".")[0] in ("psycopg", "psycopg_pool") or isinstance(exc, es_persistence.PersistenceError):
        where = _pg_where(dsn or "")
        if isinstance(exc, (psycopg.OperationalError, es_persistence.OperationalError,
                            es_persistence.InterfaceError)):
            return f"PostgreSQL at {where} does not answer ({what})"
        return f"PostgreSQL at {where} refused ({what})"
    return f"failed ({what})"


def _pg_where(dsn: str) -> str:
    """host:port/database of a DSN, without user or password."""
    try:
        d = conninfo_to_dict(dsn)
    except Exception:  # an unparsable DSN: say nothing of it
        return "the configured DSN"
    return f"{d.get('host') or 'localhost'}:{d.get('port') or 5432}/{d.get('dbname') or ''}"


# ---------------------------------------------------------------------- the command API


@dataclass
class ClusterApi:
    """The command API of a cluster: writes to PostgreSQL; position reports to Kafka; the
    boards it shows are read back from ``eoc.boards``."""

    system: Any  # eoc.main.bootstrap.System, with a BoardTopicView in place of the follower
    publisher: Any  # consumers.telemetry.TelemetryPublisher

    def close(self) -> None:
        try:
            self.system.service.finish_telemetry()  # the batches handed over reach the track and the producer
            self.publisher.close()
        finally:
            track = getattr(self.publisher, "track", None)
            if track is not None:
                track.close()
            self.system.close()


def build_api(cs: ClusterSettings, *, clock: Any = None, settings: Settings | None = None,
              follow_boards: bool = True) -> ClusterApi:


    settings = settings or cs.core()
    app = open_application(settings)
    keyring = make_keyring(settings)
    publisher = TelemetryPublisher(cs.kafka_bootstrap, cs.layout, buffer=settings.telemetry_buffer,
                                   timeout_s=cs.kafka_timeout_s)
    # The bounded position track in PostgreSQL (eoc/app/track.py): a kept report gets its
    # place in the track, then goes to the workers, in that order (one at a time).
    track = make_track(settings)
    kept_in_order = threading.Lock()

    def kept_many(envelopes: list[Any], shown: list[Any]) -> None:  # one transaction, one batched send
        if envelopes:
            with kept_in_order:
                publisher.publish_many(track.append_many(envelopes))
        if shown:  # the live map's (not kept): one record per province, never held while Kafka is down
            publisher.publish_shown(shown)

    service = CommandService(app, keyring, clock=clock,
                             late_window=settings.late_entry_window, thinning=Thinning(last=track.last_kept()),
                             telemetry_many=refusing_when_full(kept_many))
    publisher.track = track
    boards = BoardTopicView(cs.kafka_bootstrap, cs.layout.boards)
    if follow_boards:
        service.teams.follow(boards.listeners)  # a team's card is forgotten when its board row changes
        boards.start()
    system = attach_identity(System(settings, app, keyring, service, boards,  # type: ignore[arg-type]
                                    Authenticator(TokenSigner(settings.token_secret))))
    system.metrics = api_metrics(cs, system, boards, publisher)
    return ClusterApi(system, publisher)


def refusing_when_full(publisher: Any) -> Any:
    """The publisher as the service's telemetry: a full buffer is a 503 in the API's shape."""


    def telemetry(*envelopes: Any) -> None:  # the kept reports and the ones only shown
        try:
            publisher(*envelopes)
        except Backpressure as exc:
            raise Unavailable(str(exc), retry_after=5) from None

    return telemetry


def api_metrics(cs: ClusterSettings, system: Any, boards: Any, publisher: Any) -> Metrics:
    """The cluster API's figures: its writer, how far the boards topic trails the store (the
    workers' lag), the telemetry it publishes or holds, and its two dependencies."""

    metrics = Metrics("api")
    app = system.app
    watch_writer(metrics, system.service.writer)
    watch_follower(metrics, "workers", lambda: app.recorder.max_notification_id() or 0, lambda: boards.position)
    metrics.watch("eoc_telemetry_reports", "counter", "position reports by outcome",
                  lambda: {(k,): v for k, v in publisher.counts().items()}, labels=("outcome",))
    metrics.watch("eoc_telemetry_buffered", "gauge", "position reports held while Kafka is down",
                  lambda: publisher.buffered)
    watch_dependency(metrics, "store", store_check(app))
    watch_dependency(metrics, "kafka", lambda: kafka_down(cs.kafka_bootstrap))
    return metrics


# ---------------------------------------------------------------------- the relay


def build_relay(cs: ClusterSettings, *, settings: Settings | None = None) -> Any:


    # The relay signs no tokens; a fixed secret keeps it from making a local secret file.
    settings = settings or cs.core(token_secret=b"the-relay-issues-no-tokens")
    app = open_application(settings)
    lock = AdvisoryLock(settings.pg_dsn or "", f"eoc-relay:{cs.layout.events}")
    relay = Relay(app, cs.kafka_bootstrap, cs.layout, watermark_every_s=cs.relay_watermark_s, lock=lock,
                  heartbeat=heartbeat(cs))
    relay.metrics = relay_metrics(cs, relay)
    return relay


def relay_metrics(cs: ClusterSettings, relay: Any) -> Metrics:
    """The relay's figures: how far Kafka's acknowledgements trail the store."""

    metrics = Metrics("relay")
    app = relay.app
    metrics.watch("eoc_relay_lag_events", "gauge", "stored events not yet acknowledged by Kafka",
                  lambda: max(0, (app.recorder.max_notification_id() or 0) - relay.watermark)
                  if relay.ready.is_set() else None)
    metrics.watch("eoc_relay_sent", "counter", "events this relay handed to Kafka", lambda: relay.sent)
    watch_dependency(metrics, "store", store_check(app))
    watch_dependency(metrics, "kafka", lambda: kafka_down(cs.kafka_bootstrap))
    metrics.check("following", lambda: None if relay.ready.is_set() else "not following the log yet "
                  "(a standby, or waiting for Kafka)")
    return metrics


# ---------------------------------------------------------------------- the Faust worker


def build_worker(cs: ClusterSettings) -> Any:

    datadir = cs.data_dir / f"{cs.layout.worker_app}-data"
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app, processor = create_app(
        cs.kafka_bootstrap, cs.layout, web_port=cs.worker_web_port, batch_max=cs.worker_batch,
        batch_within_s=cs.worker_batch_ms / 1000.0,
        session_timeout_s=cs.worker_session_s, instance_id=cs.worker_id,
        crash_after=cs.worker_crash_after,
        datadir=str(datadir), heartbeat=heartbeat(cs), web_bind=cs.web_bind,
    )
    app.eoc_metrics = worker_metrics(cs, app, processor)  # type: ignore[attr-defined]
    return app


def worker_metrics(cs: ClusterSettings, app: Any, processor: Any) -> Metrics:
    """The worker's figures on its Faust web port: Faust's own Prometheus sensor (messages,
    events, commits, send latency) and ours (dead letters, folds), with /healthz and /readyz."""
    from faust.sensors.prometheus import setup_prometheus_sensors

    metrics = Metrics("worker")
    metrics.watch("eoc_dead_letters", "counter", "events that could not be folded",
                  lambda: {("worker",): processor.dead_letters}, labels=("runner",))
    metrics.watch("eoc_worker_folded", "counter", "events folded into the boards", lambda: processor.folded)
    metrics.watch("eoc_worker_batches", "counter", "batches made durable", lambda: processor.batches)
    watch_dependency(metrics, "kafka", lambda: kafka_down(cs.kafka_bootstrap))
    if cs.worker_web_port is None:
        return metrics
    setup_prometheus_sensors(app, pattern="/metrics", registry=metrics.registry, name_prefix="faust")

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        status, body, _ = health_answer(metrics, "/healthz")  # type: ignore[misc]
        return web.bytes(body, content_type="application/json", status=status)

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        status, body, _ = health_answer(metrics, "/readyz")  # type: ignore[misc]
        return web.bytes(body, content_type="application/json", status=status)

    return metrics


def heartbeat(cs: ClusterSettings) -> Any:
    """Touch EOC_HEARTBEAT_FILE: a container health check reads its age."""
    if not cs.heartbeat_file:
        return None
    path = Path(cs.heartbeat_file)

    def touch() -> None:
        path.touch()

    return touch


def _crash_after(value: str | None) -> tuple[int, int] | None:
    """EOC_WORKER_CRASH_AFTER=<batches>:<rows> — fault injection for the tests: the worker dies
    in the middle of making a batch durable (consumers/worker.py, ``_die_torn``)."""
    if not value:
        return None
    batches, rows = value.split(":")
    return int(batches), int(rows)
