"""The composition root: builds the embedded system from settings. Nothing else reads configuration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from consumers.follower import FileCheckpoint, Follower
from eoc.app.access_log import AccessLog
from eoc.app.auth import Authenticator, TokenSigner
from eoc.app.callers import CallerIndex, index_key
from eoc.app.config import Settings, secure_data_dir
from eoc.app.idempotency import KeyStore, PostgresKeyStore, SQLiteKeyStore
from eoc.app.keyring import Keyring, PostgresKeyring, SQLiteKeyring, WrappedKeyring
from eoc.app.limits import Limits
from eoc.app.metrics import Metrics, watch_dependency, watch_follower, watch_writer
from eoc.app.service import CommandService, EOCApplication, open_application
from eoc.app.signin import SignIn
from eoc.app.system import System
from eoc.app.team_index import TeamIndex
from eoc.app.track import PositionTrack, Thinning
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


def open_identity(settings: Settings) -> tuple[UserDirectory, AccessLog]:
    """The user directory and the access log of these settings (the API's, the bridge's and
    the CLI's are the same): EOC_USERS_DSN, else the PostgreSQL store, else the data directory."""
    dsn = settings.users_dsn or (settings.pg_dsn if settings.store == "postgres" else None)
    if dsn:
        directory = UserDirectory(dsn=dsn)
        return directory, AccessLog(db=directory._db)  # one small pool for both
    secure_data_dir(settings.data_dir)
    return UserDirectory(path=settings.data_dir / "users.sqlite"), AccessLog(path=settings.data_dir / "access.sqlite")


def make_authenticator(settings: Settings, directory: UserDirectory) -> Authenticator:
    return Authenticator(TokenSigner(settings.token_secret, settings.token_previous), directory,
                         sessionless=settings.sessionless_tokens)


def attach_identity(system: System) -> System:
    """People, sessions, the access log and the abuse limits, beside the store."""
    settings = system.settings
    directory, log = open_identity(settings)
    limits = Limits.default(settings.rate_limit_scale)
    system.signer = make_authenticator(settings, directory)
    system.directory, system.access_log, system.limits = directory, log, limits
    system.signin = SignIn(directory, system.signer, log, limits)
    return system


class CountedTelemetry:
    """The embedded system's telemetry: straight onto the boards, counted for /metrics."""

    def __init__(self, apply_many: Callable[[list[Any], list[Any]], list[Any]]) -> None:
        self.apply_many = apply_many
        self.published = 0  # kept: the track and the boards
        self.shown = 0  # shown only: the boards

    def many(self, kept: list[Any], shown: list[Any]) -> list[Any]:
        """A request's reports onto the boards at once: the kept ones through the track, the
        ones only shown straight onto the boards; the kept ones back with their places."""
        placed = self.apply_many(kept, shown)
        self.published += len(kept)
        self.shown += len(shown)
        return placed


def store_check(app: EOCApplication) -> Callable[[], str | None]:
    def check() -> str | None:
        app.recorder.max_notification_id()  # raises when the store is out of reach
        return None
    return check


def make_track(settings: Settings) -> PositionTrack:
    """The bounded position track (eoc/app/track.py): beside the store."""
    if settings.store == "postgres":
        return PositionTrack(dsn=settings.pg_dsn or "")
    return PositionTrack(path=settings.data_dir / "track.sqlite")


def embedded_metrics(system: System, telemetry: CountedTelemetry) -> Metrics:
    """The embedded process's figures: writer, follower, telemetry (the bridge adds its own)."""
    metrics = Metrics("embedded")
    app, follower = system.app, system.follower
    watch_writer(metrics, system.service.writer)
    watch_follower(metrics, "embedded", lambda: app.recorder.max_notification_id() or 0,
                   lambda: follower.position, lambda: follower.dead_letters)
    metrics.watch("eoc_telemetry_reports", "counter", "position reports by outcome",
                  lambda: {("published",): telemetry.published, ("shown",): telemetry.shown}, labels=("outcome",))
    watch_dependency(metrics, "store", store_check(app))
    return metrics


def build(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    checkpoint: bool = True,
    start_follower: bool = True,
) -> System:
    secure_data_dir(settings.data_dir)
    app = open_application(settings)
    keyring = make_keyring(settings)
    idempotency: KeyStore = (SQLiteKeyStore(str(settings.sqlite_path)) if settings.store == "sqlite"
                             else PostgresKeyStore(settings.pg_dsn or ""))
    track = make_track(settings)
    follower = Follower(
        app, checkpoint=FileCheckpoint(settings.data_dir / "boards.json") if checkpoint else None, track=track,
    )
    telemetry = CountedTelemetry(follower.apply_telemetry_many)
    teams = TeamIndex()
    # The map as saved: the SOS's fallback position, and the live map's thinning goes on from it.
    teams.note_positions(follower.board.rows)
    service = CommandService(app, keyring, clock=clock,
                             late_window=settings.late_entry_window,
                             thinning=Thinning(last=track.last_kept(), shown=teams.moments()),
                             telemetry_many=telemetry.many)
    service.teams = teams
    service.teams.follow(follower.listeners)  # a team's card is forgotten when its board row changes
    service.callers = make_caller_index(settings)
    system = attach_identity(System(settings, app, keyring, service, follower,
                                    Authenticator(TokenSigner(settings.token_secret)), idempotency=idempotency))
    system.metrics = embedded_metrics(system, telemetry)
    if start_follower:
        follower.start()
    return system
