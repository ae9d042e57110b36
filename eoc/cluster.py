"""The composition root of the cluster processes: the command API, the relay, the Faust worker.

Each process of a cluster deployment is built here from environment variables (and nowhere
else): the core settings of ``eoc.config`` (EOC_STORE=postgres, EOC_PG_DSN, EOC_TOKEN_SECRET,
EOC_KAFKA_BOOTSTRAP, ...) and the cluster's own, read by ``ClusterSettings.from_env``:

====================== ========= ==========================================================
variable               default   meaning
====================== ========= ==========================================================
EOC_TOPIC_PREFIX       (empty)   prefix of every topic and of the worker's consumer group
EOC_KAFKA_PARTITIONS   8         partitions of the co-partitioned topics (set once)
EOC_KAFKA_REPLICATION  1         replication factor of the topics (3 in production)
EOC_WORKER_WEB_PORT    (none)    Faust's web port; without it the worker runs without web
EOC_WORKER_BATCH       500       most records a worker folds per batch
EOC_WORKER_BATCH_MS    2         longest a worker waits to fill a batch (milliseconds)
EOC_WORKER_ID          (none)    static group member id: a restarted worker resumes at once
EOC_WORKER_SESSION_S   10        seconds before a silent worker's partitions go to others
EOC_RELAY_WATERMARK_S  0.5       how often the relay confirms what Kafka has acknowledged
EOC_LOG_LEVEL          info      log level of the cluster processes
EOC_HEARTBEAT_FILE     (none)    a file the relay and the worker touch while they work
EOC_WORKER_CRASH_AFTER (none)    tests only: <batches>:<rows>, the worker dies mid-batch
====================== ========= ==========================================================
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consumers.topics import PARTITIONS, Layout

from .config import Settings

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
    relay_watermark_s: float = 0.5
    log_level: str = "info"
    heartbeat_file: str | None = None
    data_dir: Path = Path(".eoc-data")
    worker_crash_after: tuple[int, int] | None = None
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClusterSettings:
        env = dict(os.environ if env is None else env)
        web = env.get("EOC_WORKER_WEB_PORT")
        return cls(
            kafka_bootstrap=env.get("EOC_KAFKA_BOOTSTRAP", cls.kafka_bootstrap),
            layout=Layout(
                prefix=env.get("EOC_TOPIC_PREFIX", ""),
                partitions=int(env.get("EOC_KAFKA_PARTITIONS", PARTITIONS)),
                replication=int(env.get("EOC_KAFKA_REPLICATION", 1)),
            ),
            worker_web_port=int(web) if web else None,
            worker_batch=int(env.get("EOC_WORKER_BATCH", cls.worker_batch)),
            worker_batch_ms=float(env.get("EOC_WORKER_BATCH_MS", cls.worker_batch_ms)),
            worker_id=env.get("EOC_WORKER_ID") or None,
            worker_session_s=float(env.get("EOC_WORKER_SESSION_S", cls.worker_session_s)),
            relay_watermark_s=float(env.get("EOC_RELAY_WATERMARK_S", cls.relay_watermark_s)),
            log_level=env.get("EOC_LOG_LEVEL", cls.log_level).lower(),
            heartbeat_file=env.get("EOC_HEARTBEAT_FILE") or None,
            data_dir=Path(env.get("EOC_DATA_DIR", ".eoc-data")),
            worker_crash_after=_crash_after(env.get("EOC_WORKER_CRASH_AFTER")),
            env=env,
        )

    def core(self, **overrides: Any) -> Settings:
        """The core settings; the cluster's event store is PostgreSQL."""
        settings = Settings.from_env(self.env, **overrides)
        if settings.store != "postgres":
            raise ValueError("cluster processes use the PostgreSQL event store: set EOC_STORE=postgres "
                             "and EOC_PG_DSN")
        return settings


def configure_logging(level: str) -> None:
    logging.basicConfig(level=_LEVELS.get(level, logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The Kafka clients log every connection at info; their warnings are what matters.
    for name in ("kafka", "aiokafka"):
        logging.getLogger(name).setLevel(max(logging.WARNING, _LEVELS.get(level, logging.INFO)))


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "warning": logging.WARNING, "error": logging.ERROR, "crit": logging.CRITICAL}


# ---------------------------------------------------------------------- topics


def ensure_topics(cs: ClusterSettings) -> list[Any]:
    """Create the missing topics of the layout; report the existing ones that differ."""
    from kafka import KafkaAdminClient

    from consumers.topics import ensure_topics as ensure

    admin = KafkaAdminClient(bootstrap_servers=cs.kafka_bootstrap, client_id="eoc-topics")
    try:
        states = ensure(admin, cs.layout)
    finally:
        admin.close()
    for state in states:
        if state.problems:
            log.warning("topic %s: %s", state.name, "; ".join(state.problems))
    return states


# ---------------------------------------------------------------------- the command API


@dataclass
class ClusterApi:
    """The command API of a cluster: writes to PostgreSQL; position reports to Kafka; the
    boards it shows are read back from ``eoc.boards``."""

    system: Any  # eoc.bootstrap.System, with a BoardTopicView in place of the follower
    publisher: Any  # consumers.telemetry.TelemetryPublisher

    def close(self) -> None:
        try:
            self.publisher.close()
        finally:
            track = getattr(self.publisher, "track", None)
            if track is not None:
                track.close()
            self.system.close()


def build_api(cs: ClusterSettings, *, clock: Any = None, settings: Settings | None = None,
              follow_boards: bool = True) -> ClusterApi:
    from consumers.board_topic import BoardTopicView
    from consumers.telemetry import TelemetryPublisher

    from .auth import Authenticator, TokenSigner
    import threading

    from consumers.track import Thinning

    from .bootstrap import System, attach_identity, make_keyring, make_track
    from .service import CommandService, EOCApplication

    settings = settings or cs.core()
    app = EOCApplication(env=settings.eventsourcing_env())
    keyring = make_keyring(settings)
    publisher = TelemetryPublisher(cs.kafka_bootstrap, cs.layout)
    # The bounded position track in PostgreSQL (consumers/track.py): a kept report gets its
    # place in the track, then goes to the workers, in that order (one at a time).
    track = make_track(settings)
    kept_in_order = threading.Lock()

    def telemetry(envelope: Any) -> None:
        with kept_in_order:
            publisher.publish(track.append(envelope))

    service = CommandService(app, keyring, telemetry=telemetry, clock=clock, late_window=settings.late_entry_window,
                             thinning=Thinning(last=track.last_kept()))
    publisher.track = track
    boards = BoardTopicView(cs.kafka_bootstrap, cs.layout.boards)
    if follow_boards:
        boards.start()
    system = attach_identity(System(settings, app, keyring, service, boards,  # type: ignore[arg-type]
                                    Authenticator(TokenSigner(settings.token_secret))))
    return ClusterApi(system, publisher)


# ---------------------------------------------------------------------- the relay


def build_relay(cs: ClusterSettings, *, settings: Settings | None = None) -> Any:
    from consumers.relay import AdvisoryLock, Relay

    from .service import EOCApplication

    # The relay signs no tokens; a fixed secret keeps it from making a local secret file.
    settings = settings or cs.core(token_secret=b"the-relay-issues-no-tokens")
    app = EOCApplication(env=settings.eventsourcing_env())
    lock = AdvisoryLock(settings.pg_dsn or "", f"eoc-relay:{cs.layout.events}")
    return Relay(app, cs.kafka_bootstrap, cs.layout, watermark_every_s=cs.relay_watermark_s, lock=lock,
                 heartbeat=heartbeat(cs))


# ---------------------------------------------------------------------- the Faust worker


def build_worker(cs: ClusterSettings) -> Any:
    from consumers.worker import create_app

    datadir = cs.data_dir / f"{cs.layout.worker_app}-data"
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app, _ = create_app(
        cs.kafka_bootstrap, cs.layout, web_port=cs.worker_web_port, batch_max=cs.worker_batch,
        batch_within_s=cs.worker_batch_ms / 1000.0,
        session_timeout_s=cs.worker_session_s, instance_id=cs.worker_id,
        crash_after=cs.worker_crash_after,
        datadir=str(datadir), heartbeat=heartbeat(cs),
    )
    return app


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
