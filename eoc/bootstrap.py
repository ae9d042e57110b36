"""The composition root: builds the embedded system from settings. Nothing else reads configuration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consumers.follower import FileCheckpoint, Follower
from consumers.track import PositionTrack, Thinning
from events.sealing import Unreadable, unseal

from .access_log import AccessLog
from .auth import Authenticator, TokenSigner
from .config import Settings, secure_data_dir
from .idempotency import KeyStore, PostgresKeyStore, SQLiteKeyStore
from .callers import CallerIndex, index_key
from .keyring import Keyring, PostgresKeyring, SQLiteKeyring, WrappedKeyring
from .limits import Limits
from .service import CommandService, EOCApplication
from .signin import SignIn
from .users import UserDirectory


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


def make_caller_index(settings: Settings) -> CallerIndex:
    """Repeat callers: the keyed hash of a number -> the caller's id, beside the keyring."""
    key = index_key(settings.data_dir, settings.master_key)
    if settings.keyring_dsn or settings.store == "postgres":
        return CallerIndex(key, dsn=settings.keyring_dsn or settings.pg_dsn or "")
    return CallerIndex(key, sqlite_path=str(settings.data_dir / "callers.sqlite"))


def make_keyring(settings: Settings) -> Keyring:
    """The keyring: its own database when configured, its keys wrapped by the master key."""
    if settings.keyring_dsn or settings.store == "postgres":
        keyring: Keyring = PostgresKeyring(settings.keyring_dsn or settings.pg_dsn or "")
    else:
        keyring = SQLiteKeyring(str(settings.keyring_path or settings.data_dir / "keys.sqlite"))
    if settings.master_key:
        keyring = WrappedKeyring(keyring, settings.master_key)
    return keyring


def attach_identity(system: System) -> System:
    """People, sessions, the access log and the abuse limits, beside the store."""
    settings = system.settings
    dsn = settings.users_dsn or (settings.pg_dsn if settings.store == "postgres" else None)
    if dsn:
        directory = UserDirectory(dsn=dsn)
        log = AccessLog(db=directory._db)  # one small pool for both
    else:
        directory = UserDirectory(path=settings.data_dir / "users.sqlite")
        log = AccessLog(path=settings.data_dir / "access.sqlite")
    limits = Limits.default(settings.rate_limit_scale)
    system.signer = Authenticator(TokenSigner(settings.token_secret, settings.token_previous), directory,
                                  sessionless=settings.sessionless_tokens)
    system.directory, system.access_log, system.limits = directory, log, limits
    system.signin = SignIn(directory, system.signer, log, limits)
    return system


def make_track(settings: Settings) -> PositionTrack:
    """The bounded position track (consumers/track.py): beside the store."""
    if settings.store == "postgres":
        return PositionTrack(dsn=settings.pg_dsn or "")
    return PositionTrack(path=settings.data_dir / "track.sqlite")


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
    secure_data_dir(settings.data_dir)
    app = EOCApplication(env=settings.eventsourcing_env())
    keyring = make_keyring(settings)
    idempotency: KeyStore = (SQLiteKeyStore(str(settings.sqlite_path)) if settings.store == "sqlite"
                             else PostgresKeyStore(settings.pg_dsn or ""))
    track = make_track(settings)
    follower = Follower(
        app, checkpoint=FileCheckpoint(settings.data_dir / "boards.json") if checkpoint else None, track=track,
    )
    service = CommandService(app, keyring, telemetry=follower.apply_telemetry, clock=clock,
                             late_window=settings.late_entry_window, thinning=Thinning(last=track.last_kept()))
    service.callers = make_caller_index(settings)
    system = attach_identity(System(settings, app, keyring, service, follower,
                                    Authenticator(TokenSigner(settings.token_secret)), idempotency=idempotency))
    if start_follower:
        follower.start()
    return system
