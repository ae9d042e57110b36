"""The running system's parts, as one value handed to the edges (API, bridge) by a composition
root (eoc/main). Only the composition roots build it; nothing here reads configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eoc.app.access_log import AccessLog
from eoc.app.auth import Authenticator
from eoc.app.config import Settings
from eoc.app.idempotency import KeyStore
from eoc.app.keyring import Keyring
from eoc.app.limits import Limits
from eoc.app.metrics import Metrics
from eoc.app.service import CommandService, EOCApplication
from eoc.app.signin import SignIn
from eoc.app.users import UserDirectory
from eoc.audit.checkpoints import (
    TOPIC,
    CheckpointPublisher,
    KafkaCheckpointLog,
    PostgresCheckpointLog,
    SQLiteCheckpointLog,
    load_or_create_key,
)
from eoc.audit.sources import StoreSource
from events.sealing import Unreadable, unseal

if TYPE_CHECKING:  # the live boards are folded by a runner (consumers/), handed in by the composition root
    from consumers.follower import Follower


@dataclass
class System:
    settings: Settings
    app: EOCApplication
    keyring: Keyring
    service: CommandService
    follower: Follower
    signer: Authenticator  # issues (programmatically) and verifies tokens, with the directory
    checkpoints: Any = None  # the audit CheckpointPublisher, once started
    idempotency: KeyStore | None = None  # Idempotency-Key answers, in the event store's database
    directory: UserDirectory | None = None
    access_log: AccessLog | None = None
    signin: SignIn | None = None
    limits: Limits | None = None
    metrics: Metrics | None = None  # /metrics, /readyz (eoc/app/metrics.py)

    def start_checkpoints(self, *, every_events: int = 1000, every_s: float = 60.0, kafka: bool = False) -> Any:
        """Sign and keep audit checkpoints of the log as it grows (eoc/audit/checkpoints.py)."""
        logs = [checkpoint_table(self.settings)]
        if kafka:
            logs.append(KafkaCheckpointLog(self.settings.kafka_bootstrap, self.settings.topic_prefix + TOPIC))
        self.checkpoints = CheckpointPublisher(
            StoreSource(self.app), load_or_create_key(self.settings.audit_key_path), logs,
            every_events=every_events, every_s=every_s).start()
        return self.checkpoints

    def unseal_place(self, centre_id: str, token: str) -> dict[str, float] | None:
        try:
            return unseal(self.keyring.get(f"place:{centre_id}"), token)
        except Unreadable:
            return None

    def close(self) -> None:
        if self.checkpoints is not None:
            self.checkpoints.stop()
            self.checkpoints.publish()  # the last stretch of the log is signed too
        self.service.close()
        if self.service.callers is not None:
            self.service.callers.close()
        self.follower.stop()
        if getattr(self.follower, "track", None) is not None:
            self.follower.track.close()
        if self.idempotency is not None:
            self.idempotency.close()
        self.keyring.close()
        for part in (self.access_log, self.directory):  # the log may share the directory's pool
            if part is not None:
                part.close()
        self.app.close()


def checkpoint_table(settings: Settings) -> Any:
    """Where the signed checkpoints are kept beside the store."""
    if settings.store == "postgres":
        return PostgresCheckpointLog(settings.pg_dsn or "")
    return SQLiteCheckpointLog(settings.data_dir / "audit.sqlite")
