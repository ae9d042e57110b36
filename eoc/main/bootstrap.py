"""The composition root: builds the embedded system from settings. Nothing else reads configuration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from consumers.follower import FileCheckpoint, Follower
from eoc.app.access_log import AccessLog
from eoc.app.auth import Authenticator, TokenSigner
from eoc.app.callers import CallerIndex, index_key
from eoc.app.config import Settings, secure_data_dir
from eoc.app.idempotency import KeyStore, PostgresKeyStore, SQLiteKeyStore
from eoc.app.keyring import Keyring, PostgresKeyring, SQLiteKeyring, WrappedKeyring
from eoc.app.limits import Limits
from eoc.app.service import CommandService, EOCApplication
from eoc.app.signin import SignIn
from eoc.app.system import System
from eoc.app.users import UserDirectory


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
    follower = Follower(
        app, checkpoint=FileCheckpoint(settings.data_dir / "boards.json") if checkpoint else None
    )
    service = CommandService(app, keyring, telemetry=follower.apply_telemetry, clock=clock,
                             late_window=settings.late_entry_window)
    service.callers = make_caller_index(settings)
    system = attach_identity(System(settings, app, keyring, service, follower,
                                    Authenticator(TokenSigner(settings.token_secret)), idempotency=idempotency))
    if start_follower:
        follower.start()
    return system
