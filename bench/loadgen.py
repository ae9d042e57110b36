"""The load generator's HTTP side: light keep-alive HTTP/1.1 clients on raw asyncio streams.

A client library (httpx, aiohttp) costs several times the CPU of the request it sends, and on
two cores the load generator shares the machine with the server it measures (RUNBOOK.md). A
raw connection writes one prebuilt request and reads one response (status line, headers,
``Content-Length`` body); nothing else. Two ways of driving a pool of them:

``paced``    open loop: requests are started on a fixed schedule (``rate`` a second) whatever
             the answers do, with at most ``max_in_flight`` outstanding; when the server cannot
             keep up the achieved rate falls behind the offered one, which is what "held" checks.
``flat_out`` closed loop: every connection sends its next request as soon as the previous one
             is answered — the most the server answers with that many connections.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

IDLE_REOPEN_S = 4.0  # a connection idle longer is opened afresh: the server may have closed it meanwhile


class HttpError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.sent_at = 0.0  # perf_counter when the last request went on the wire
        self.used_at = 0.0  # perf_counter when the last answer was read

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 22)
        self.used_at = time.perf_counter()
        return self

    async def request(self, method: str, path: str, body: bytes = b"", headers: str = "") -> tuple[int, bytes]:
        if self.writer is not None and time.perf_counter() - self.used_at > IDLE_REOPEN_S:
            self.close()  # the server lets an idle keep-alive connection go (uvicorn: after 5 s)
        if self.writer is None or self.writer.is_closing():
            await self.open()
        assert self.reader is not None and self.writer is not None
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{headers}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        self.sent_at = time.perf_counter()
        self.writer.write(head.encode() + body)
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.writer = None
            raise HttpError(f"connection lost: {exc!r}") from None
        lines = raw.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        else:
            data = await self.reader.readexactly(length) if length else b""
        self.used_at = time.perf_counter()
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class Pool:
    """Keep-alive connections to one server, handed out one request at a time."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self._free: asyncio.Queue[Connection] = asyncio.Queue()
        self._all: list[Connection] = []

    async def open(self) -> Pool:
        for _ in range(self.size):
            conn = await Connection(self.host, self.port).open()
            self._all.append(conn)
            self._free.put_nowait(conn)
        return self

    async def request(self, method: str, path: str, body: bytes = b"", headers: str = "") -> tuple[int, bytes]:
        conn = await self._free.get()
        try:
            return await conn.request(method, path, body, headers)
        finally:
            self._free.put_nowait(conn)

    async def post(self, path: str, value: Any, token: str) -> tuple[int, Any]:
        status, data = await self.request("POST", path, json.dumps(value).encode(), auth(token))
        return status, (json.loads(data) if data else None)

    async def post_timed(self, path: str, value: Any, token: str | None = None, *,
                         key: str | None = None) -> tuple[int, Any, float]:
        """``post`` (with an Idempotency-Key if ``key``), and the moment (``perf_counter``) the
        request went on the wire: after a free connection was found, so a wait for one is the
        load generator's, not the server's."""
        headers = (auth(token) if token else "") + (f"Idempotency-Key: {key}\r\n" if key else "")
        conn = await self._free.get()
        try:
            status, data = await conn.request("POST", path, json.dumps(value).encode(), headers)
            return status, (json.loads(data) if data else None), conn.sent_at
        finally:
            self._free.put_nowait(conn)

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        status, data = await self.request("GET", path, b"", auth(token) if token else "")
        return status, (json.loads(data) if data else None)

    def close(self) -> None:
        for conn in self._all:
            conn.close()


def auth(token: str) -> str:
    return f"Authorization: Bearer {token}\r\n"


# ---------------------------------------------------------------------- driving a pool


@dataclass
class Run:
    """What one driven run did, seen from the load generator."""

    offered_per_s: float
    seconds: float
    started: int = 0
    answered: int = 0
    failed: int = 0  # transport errors and 5xx
    refused: int = 0  # 4xx: the rules said no (counted, not an error of the system)
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)  # request to answer
    errors: dict[str, int] = field(default_factory=dict)  # transport errors by kind (a few kept)
    window_s: float = 0.0
    loadgen_cpu_s: float = 0.0

    async def attempt(self, send: Send, due: float) -> None:
        """Send one request (due at ``due``) and count what came of it."""
        t = time.perf_counter()
        try:
            status = await send(due)
        except Exception as exc:
            self.failed += 1
            self.note(exc)
            return
        self.latencies_ms.append((time.perf_counter() - t) * 1000)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 500:
            self.failed += 1
        else:
            self.answered += 1
            if status >= 400:
                self.refused += 1

    def note(self, exc: BaseException) -> None:
        what = f"{type(exc).__name__}: {exc}"[:120]
        if what in self.errors or len(self.errors) < 10:
            self.errors[what] = self.errors.get(what, 0) + 1

    @property
    def achieved_per_s(self) -> float:
        return self.answered / self.window_s if self.window_s else 0.0

    @property
    def loadgen_cpu_share(self) -> float:
        return self.loadgen_cpu_s / self.window_s if self.window_s else 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {"offered_per_s": self.offered_per_s, "achieved_per_s": self.achieved_per_s,
                "started": self.started, "answered": self.answered, "failed": self.failed,
                "refused": self.refused, "errors": self.errors,
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "answer_p50_ms": quantile(lat, 0.5), "answer_p99_ms": quantile(lat, 0.99),
                "window_s": self.window_s, "loadgen_cpu_share": self.loadgen_cpu_share}


# One request; returns its HTTP status. Its argument is the wall-clock moment (time.time()) the
# request was due: a request started late, because the load fell behind, still knows when it
# should have gone (a position report is stamped with it).
Send = Callable[[float], Awaitable[int]]


async def paced(send: Send, rate: float, seconds: float, *, max_in_flight: int = 256) -> Run:
    """Start ``rate`` requests a second for ``seconds`` (open loop), then wait for the answers."""
    run = Run(offered_per_s=rate, seconds=seconds)
    in_flight: set[asyncio.Task[None]] = set()
    cpu0 = cpu_seconds()
    t0, wall0 = time.perf_counter(), time.time()
    end = t0 + seconds
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        due = int((now - t0) * rate)
        while run.started < due and len(in_flight) < max_in_flight:
            task = asyncio.create_task(run.attempt(send, wall0 + run.started / rate))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            run.started += 1
        await asyncio.sleep(0.001)
    if in_flight:
        await asyncio.wait(in_flight, timeout=30)
    run.window_s = time.perf_counter() - t0
    run.loadgen_cpu_s = cpu_seconds() - cpu0
    return run


async def flat_out(send: Send, connections: int, seconds: float) -> Run:
    """``connections`` senders, each sending again as soon as it is answered."""
    run = Run(offered_per_s=0.0, seconds=seconds)
    end = time.perf_counter() + seconds

    async def sender() -> None:
        while time.perf_counter() < end:
            run.started += 1
            await run.attempt(send, time.time())

    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(connections)))
    run.window_s = time.perf_counter() - t0
    run.loadgen_cpu_s = cpu_seconds() - cpu0
    return run


def cpu_seconds() -> float:
    """CPU time of this process (all its threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def quantile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]
