"""The composition root: builds the embedded system from settings. Nothing else reads configuration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

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

    def unseal_place(self, centre_id: str, token: str) -> dict[str, float] | None:
        try:
            return unseal(self.keyring.get(f"place:{centre_id}"), token)
        except Unreadable:
            return None

    def close(self) -> None:
        self.service.close()
        self.follower.stop()
        self.keyring.close()
        self.app.close()


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
    service = CommandService(app, keyring, telemetry=follower.apply_telemetry, clock=clock)
    system = System(settings, app, keyring, service, follower, TokenSigner(settings.token_secret))
    if start_follower:
        follower.start()
    return system
