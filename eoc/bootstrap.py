"""The composition root: builds the embedded system from settings. Nothing else reads configuration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consumers.follower import FileCheckpoint, Follower
from events.sealing import Unreadable, unseal

from .auth import TokenSigner
from .config import Settings
from .keyring import Keyring, PostgresKeyring, SQLiteKeyring
from .service import CommandService, EOCApplication


@dataclass
class System:
    settings: Settings
    app: EOCApplication
    keyring: Keyring
    service: CommandService
    follower: Follower
    signer: TokenSigner
    checkpoints: Any = None  # the audit CheckpointPublisher, once started

    def start_checkpoints(self, *, every_events: int = 1000, every_s: float = 60.0, kafka: bool = False) -> Any:
        """Sign and keep audit checkpoints of the log as it grows (eoc/audit/checkpoints.py)."""
        from consumers.audit_sources import StoreSource

        from .audit.checkpoints import CheckpointPublisher, KafkaCheckpointLog, TOPIC, load_or_create_key

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
        self.follower.stop()
        self.keyring.close()
        self.app.close()


def checkpoint_table(settings: Settings) -> Any:
    """Where the signed checkpoints are kept beside the store."""
    from .audit.checkpoints import PostgresCheckpointLog, SQLiteCheckpointLog

    if settings.store == "postgres":
        return PostgresCheckpointLog(settings.pg_dsn or "")
    return SQLiteCheckpointLog(settings.data_dir / "audit.sqlite")


def build(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    checkpoint: bool = True,
    start_follower: bool = True,
) -> System:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = EOCApplication(env=settings.eventsourcing_env())
    if settings.store == "sqlite":
        keyring: Keyring = SQLiteKeyring(str(settings.data_dir / "keys.sqlite"))
    else:
        keyring = PostgresKeyring(settings.pg_dsn or "")
    follower = Follower(
        app, checkpoint=FileCheckpoint(settings.data_dir / "boards.json") if checkpoint else None
    )
    service = CommandService(app, keyring, telemetry=follower.apply_telemetry, clock=clock,
                             late_window=settings.late_entry_window)
    system = System(settings, app, keyring, service, follower, TokenSigner(settings.token_secret))
    if start_follower:
        follower.start()
    return system
