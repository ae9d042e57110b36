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

from eoc.app.auth import TokenIssuer
from eoc.simulator.clock import SimClock
from eoc.simulator.stats import SimStats
from events.envelope import iso

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
MAX_IN_FLIGHT_FOR_POSITIONS = 8  # more commands waiting for an answer: position reports are skipped
RETRIES = 1  # a command whose answer was lost is sent again, with the same key


class CommandClient:
    def __init__(
        self,
        base_url: str,
        signer: TokenIssuer,
        stats: SimStats,
        stop: asyncio.Event,
        *,
        max_commands: int | None = None,
        timeout_s: float = 30.0,
        clock: SimClock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # ``transport``: an in-process system (httpx.ASGITransport) instead of a socket.
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport,
                                      limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))
        self.clock = clock
        # A province whose line is down (قطعی خط): its desks note what happens on paper and
        # enter it when the line is back, with the moment it happened (``Outage``).
        self.outages: dict[str, Outage] = {}
        self.in_flight = 0  # commands sent and not yet answered
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
        """POST one command (``command`` is the handler's name, for the counts).

        With a clock, the command says when it happened (``occurred_at``, the simulated now).
        Two commands on one record racing each other may reach the system out of the order
        of their moments: the later-stamped one is refused (``occurred_out_of_order``) and is
        sent once more, stamped anew. While the province's line is down the command waits
        for the line to come back and is then entered late, with its own moment."""
        if command == "report_position" and self.in_flight >= MAX_IN_FLIGHT_FOR_POSITIONS:
            # Telemetry is the first to give way when the system is busy (a nation on two
            # cores): the next report of the same vehicle carries its newer position.
            self.stats.positions_skipped += 1
            return Answer(0, {"error": "busy", "reason": "position report skipped: the system is busy"})
        stamped = self.clock is not None and "occurred_at" not in body
        if stamped:
            body = {**body, "occurred_at": iso(self.clock.now())}  # type: ignore[union-attr]
        outage = self.outages.get(who.province)
        if outage is not None and outage.down(self.clock):
            if command == "report_position":  # telemetry of a moment: no use entering it later
                self.stats.dropped_in_outage += 1
                return Answer(0, {"error": "line_down", "reason": "the province's line is down"})
            await outage.back.wait()
            async with outage.in_order:  # entered as written down, one after another
                answer = await self._send(command, path, body, who)
            if answer.ok:
                self.stats.late_entries += 1
            elif answer.error == "occurred_out_of_order":
                self.stats.conflicts[f"{command}:{answer.error}"] += 1
            return answer
        answer = await self._send(command, path, body, who)
        if stamped and answer.error == "occurred_out_of_order":
            self.stats.restamped += 1
            answer = await self._send(command, path, {**body, "occurred_at": iso(self.clock.now())}, who)  # type: ignore[union-attr]
            if answer.error == "occurred_out_of_order":
                self.stats.conflicts[f"{command}:{answer.error}"] += 1
        return answer

    async def _send(self, command: str, path: str, body: dict[str, Any], who: Who) -> Answer:
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
                sent = time.monotonic()
                self.in_flight += 1
                try:
                    r = await self.http.post(f"/api/v1{path}", json=body, headers=headers)
                finally:
                    self.in_flight -= 1
                if self.clock is not None:  # a slow answer slows the simulated clock down
                    self.clock.observe(time.monotonic() - sent)
                break
            except httpx.HTTPError as exc:
                log.warning("%s: no answer from the API (%s: %s)", command, type(exc).__name__, exc)
                await self._back_off()
                if attempt == RETRIES or self.stop.is_set():
                    self.stats.connection_errors += 1  # a command left without an answer, retries spent
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
            if answer.error != "occurred_out_of_order":  # sent again, stamped anew (send)
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


class Outage:
    """A province's line down from ``start`` to ``end`` (simulated moments)."""

    def __init__(self, start: Any, end: Any) -> None:
        self.start, self.end = start, end
        self.back = asyncio.Event()
        self.in_order = asyncio.Lock()  # FIFO: the paper notes are entered in the order written

    def down(self, clock: SimClock | None) -> bool:
        if clock is None or self.back.is_set():
            return False
        now = clock.now()
        if now >= self.end:
            self.back.set()
            return False
        return now >= self.start
