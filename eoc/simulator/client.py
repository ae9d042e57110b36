"""The simulator's only way into the system: the HTTP command API, with signed tokens.

Every answer is taken as it comes. A 409 (a full centre, a team that got busy) is part of
life: counted, and the caller decides what to do next. Any other 4xx is counted and logged
(it means the simulator asked for something wrong) and the run goes on. After a 5xx or a
connection error the client waits a little, longer each time in a row, and goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..auth import TokenSigner
from .stats import SimStats

log = logging.getLogger("eoc.simulator")

TOKEN_REFRESH_S = 600.0  # access tokens live 15 minutes at most: a fresh one every 10


class Finished(Exception):
    """The run is over (stopped, or its command budget is spent): the task ends quietly."""


@dataclass(frozen=True, slots=True)
class Who:
    """Whose tablet or desk a command comes from: the token's role, province, user (and team)."""

    role: str
    province: str
    sub: str
    team: str | None = None


@dataclass
class Answer:
    status: int  # 0: no answer (connection error)
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> str | None:
        return None if self.ok else str(self.body.get("error", "no_answer" if not self.status else "unknown"))

    def __getitem__(self, key: str) -> Any:
        return self.body[key]


# The field in which each create names its new aggregate.
NEW_IDS = {"receive_call": "call_id", "open_incident": "incident_id", "escalate_call": "incident_id",
           "register_team": "team_id", "register_centre": "centre_id"}
RETRIES = 1  # a command whose answer was lost is sent again, with the same key


class CommandClient:
    def __init__(
        self,
        base_url: str,
        signer: TokenSigner,
        stats: SimStats,
        stop: asyncio.Event,
        *,
        max_commands: int | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                      limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))
        self.signer = signer
        self.stats = stats
        self.stop = stop
        self.max_commands = max_commands
        self._tokens: dict[Who, tuple[str, float]] = {}
        self._failures = 0  # 5xx and connection errors in a row

    async def close(self) -> None:
        await self.http.aclose()

    def _auth(self, who: Who) -> dict[str, str]:
        token, issued = self._tokens.get(who, ("", 0.0))
        if not token or time.monotonic() - issued > TOKEN_REFRESH_S:
            token = self.signer.issue(who.role, who.province, sub=who.sub, team=who.team)
            self._tokens[who] = (token, time.monotonic())
        return {"Authorization": f"Bearer {token}"}

    async def send(self, command: str, path: str, body: dict[str, Any], who: Who) -> Answer:
        """POST one command (``command`` is the handler's name, for the counts)."""
        if self.stop.is_set():
            raise Finished
        if self.max_commands is not None and self.stats.commands >= self.max_commands:
            self.stop.set()
            raise Finished
        self.stats.commands += 1
        # A create names its new aggregate, and every command carries an Idempotency-Key: a
        # retry after a lost answer returns the first answer and never stores the command twice.
        if command in NEW_IDS:
            body = {NEW_IDS[command]: str(uuid.uuid4()), **body}
        headers = {**self._auth(who), "Idempotency-Key": f"sim-{uuid.uuid4().hex}"}
        for attempt in range(RETRIES + 1):
            try:
                r = await self.http.post(f"/api/v1{path}", json=body, headers=headers)
                break
            except httpx.HTTPError as exc:
                self.stats.connection_errors += 1
                log.warning("%s: no answer from the API (%s: %s)", command, type(exc).__name__, exc)
                await self._back_off()
                if attempt == RETRIES or self.stop.is_set():
                    return Answer(0, {"error": "no_answer", "reason": str(exc)})
        try:
            answer = Answer(r.status_code, r.json())
        except ValueError:
            answer = Answer(r.status_code, {"error": "not_json", "reason": r.text[:200]})
        if answer.ok:
            self._failures = 0
            self.stats.accepted += 1
            self.stats.by_command[command] += 1
        elif r.status_code == 409:
            self._failures = 0
            self.stats.conflicts[f"{command}:{answer.error}"] += 1
        elif r.status_code < 500:
            self._failures = 0
            self.stats.refused[f"{command}:{answer.error}"] += 1
            log.warning("%s %s refused (%s): %s", command, path, r.status_code, answer.body.get("reason"))
        else:
            self.stats.server_errors += 1
            log.error("%s %s: server error %s: %s", command, path, r.status_code, r.text[:300])
            await self._back_off()
        return answer

    async def read(self, path: str, who: Who) -> dict[str, Any] | None:
        """GET a board or the health (reads are not commands and are not counted)."""
        try:
            r = await self.http.get(path, headers=self._auth(who))
        except httpx.HTTPError as exc:
            log.warning("GET %s: no answer (%s)", path, exc)
            return None
        if r.status_code != 200:
            log.warning("GET %s: %s %s", path, r.status_code, r.text[:200])
            return None
        return r.json()

    async def _back_off(self) -> None:
        self._failures += 1
        await asyncio.sleep(min(5.0, 0.1 * 2 ** min(self._failures, 6)))
