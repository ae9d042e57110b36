"""A load session on one running system: the command mix sent over a pool of connections, and a
national dashboard on the bridge timing what each command did to the board.

``window()`` runs the mix at a steady rate and returns everything the scenarios report: the
requests (offered, achieved, refused, failed), command-to-board latencies (from the moment the
request went on the wire to the frame with its effect), send-to-answer latencies, the boards'
lag sampled four times a second, and the CPU of every process of the system and of the load
generator over the same window. ``saturate()`` sends flat out to find what the system answers.
``interleaved()`` alternates windows of two sessions at one rate (the system and its baseline on
the floor), so that both see the same machine.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .loadgen import Pool, Run, cpu_seconds, flat_out, paced, quantile
from .mix import Mix
from .procs import CpuMeter
from .profile import Sampler
from .systems import System
from .watch import BoardWatcher

LAG_EVERY_S = 0.25


@dataclass
class Window:
    """What one measured window saw."""

    run: Run
    latencies_ms: list[float]  # command to board: sent to the frame with its effect
    lag: list[tuple[float, int, float]]  # (seconds into the window, commands waiting, oldest age ms)
    cpu: dict[str, float]  # cores, per process of the system
    before_answer: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    answers_ms: list[float] = field(default_factory=list)  # sent to the HTTP answer (status < 500)
    unmatched: int = 0

    def quantiles(self) -> dict[str, float | None]:
        return quantiles(self.latencies_ms)

    def lag_growth(self) -> dict[str, float]:
        """Commands waiting for the board: mean over the first and the last third of the window."""
        if len(self.lag) < 3:
            return {"first_third": 0.0, "last_third": 0.0, "end": 0.0, "oldest_end_ms": 0.0}
        third = max(1, len(self.lag) // 3)
        first = [c for _, c, _ in self.lag[:third]]
        last = [c for _, c, _ in self.lag[-third:]]
        return {"first_third": sum(first) / len(first), "last_third": sum(last) / len(last),
                "end": float(self.lag[-1][1]), "oldest_end_ms": self.lag[-1][2],
                "oldest_last_third_max_ms": max(a for _, _, a in self.lag[-third:])}

    def held(self, rate: float) -> tuple[bool, str]:
        """Was ``rate`` held: answered at the offered rate, no failures, and a board lag that did
        not grow (the last third waits no more than the first third plus a quarter second's
        worth of commands, and nothing waits longer than 2 s at the end)."""
        run, g = self.run, self.lag_growth()
        if run.failed:
            return False, f"{run.failed} requests failed"
        if run.achieved_per_s < 0.95 * rate:
            return False, f"answered {run.achieved_per_s:.0f}/s of {rate:.0f}/s offered"
        if g["last_third"] > g["first_third"] + 0.25 * rate:
            return False, f"board lag grew from {g['first_third']:.0f} to {g['last_third']:.0f} commands waiting"
        if g["oldest_last_third_max_ms"] > 2000:
            return False, f"a command waited {g['oldest_last_third_max_ms']:.0f} ms for the board"
        return True, "held"

    def summary(self) -> dict[str, Any]:
        """Everything but the samples (``samples()``)."""
        return {"requests": self.run.summary(), "command_to_board": self.quantiles(),
                "send_to_answer": quantiles(self.answers_ms), "before_answer": self.before_answer,
                "unmatched": self.unmatched, "lag": self.lag_growth(), "cpu_cores": self.cpu,
                "lag_samples": [(round(t, 2), c, round(a, 1)) for t, c, a in self.lag], **self.extra}

    def samples(self) -> dict[str, Any]:
        """The summary and every latency sample (ms, rounded to the microsecond as measured)."""
        return {**self.summary(), "command_to_board_ms": self.latencies_ms, "send_to_answer_ms": self.answers_ms,
                "answered": self.run.answered, "seconds": self.run.window_s}


def quantiles(values: list[float]) -> dict[str, float | None]:
    s = sorted(values)
    return {"p50_ms": quantile(s, 0.5), "p99_ms": quantile(s, 0.99), "p99_9_ms": quantile(s, 0.999),
            "max_ms": s[-1] if s else None, "n": len(s)}


def pooled(windows: list[Window], kind: str) -> list[float]:
    """Every sample of ``kind`` ("command_to_board_ms" or "send_to_answer_ms") of the windows."""
    attr = "latencies_ms" if kind == "command_to_board_ms" else "answers_ms"
    return [x for w in windows for x in getattr(w, attr)]


class BoardSession:
    """A pool sending commands and a dashboard timing their effects, on one system. What a
    command is comes from ``post`` (the command mix on the system; a bare command on the floor)."""

    def __init__(self, system: System, *, connections: int = 32) -> None:
        self.system = system
        self.connections = connections
        self.pool: Pool | None = None
        self.watcher: BoardWatcher | None = None
        self.profile_dir: Path | None = None  # set: windows with a label are profiled (py-spy)
        # Also told of every stored command's answer: (province, log position, sent at).
        self.observers: list[Callable[[str, int, float], None]] = []
        self._answers: list[float] | None = None  # set to a list to record send -> answer

    async def open(self, token: str) -> None:
        self.watcher = await BoardWatcher().connect(self.system.bridge_port, token)
        self.pool = await Pool("127.0.0.1", self.system.api_port, self.connections).open()

    async def __aexit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.close()
        if self.watcher is not None:
            self.watcher.close()

    async def post(self) -> tuple[str, int, Any, float]:
        """Send one command: (its province, the answer's status and body, when it was sent)."""
        raise NotImplementedError

    async def send(self, due: float) -> int:
        assert self.watcher is not None
        province, status, answer, sent = await self.post()
        answered = time.perf_counter()
        if self._answers is not None and status < 500:
            self._answers.append(round((answered - sent) * 1000, 3))
        if status < 300 and isinstance(answer, dict) and isinstance(answer.get("position"), int):
            self.watcher.expect(province, answer["position"], sent)
            for observe in self.observers:
                observe(province, answer["position"], sent)
        return status

    async def window(self, rate: float, seconds: float, *, settle_s: float = 1.0, label: str | None = None) -> Window:
        """The mix at ``rate`` for ``seconds``; then up to ``settle_s`` for the last effects."""
        watcher = self.watcher
        assert watcher is not None
        latencies: list[float] = []
        answers: list[float] = []
        watcher.latencies_ms, self._answers = latencies, answers
        before, unmatched = watcher.before_answer, watcher.unmatched
        lag: list[tuple[float, int, float]] = []
        t0 = time.perf_counter()

        async def sample() -> None:
            while True:
                count, oldest = watcher.lag()
                lag.append((time.perf_counter() - t0, count, oldest))
                await asyncio.sleep(LAG_EVERY_S)

        sampler = asyncio.create_task(sample())
        spy = Sampler(self.system.pids(), seconds, self.profile_dir, label) if self.profile_dir and label else None
        meter = CpuMeter(self.system.pids()).start()
        try:
            run = await paced(self.send, rate, seconds, max_in_flight=4 * self.connections)
        finally:
            cpu = meter.stop()
            sampler.cancel()
        cpu["load generator"] = run.loadgen_cpu_share
        deadline = time.perf_counter() + settle_s
        while watcher.lag()[0] and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
        watcher.latencies_ms, self._answers = None, None
        self.system.check()
        window = Window(run, latencies, lag, cpu, watcher.before_answer - before, answers_ms=answers,
                        unmatched=watcher.unmatched - unmatched)
        if spy is not None:
            window.extra["profile"] = await asyncio.to_thread(spy.summary)
        return window

    async def saturate(self, seconds: float, connections: int | None = None) -> Run:
        """Flat out on every connection: what the system answers at most."""
        assert self.watcher is not None
        cpu0 = cpu_seconds()
        run = await flat_out(self.send, connections or self.connections, seconds)
        run.loadgen_cpu_s = cpu_seconds() - cpu0
        await self.drain()
        return run

    async def drain(self, timeout: float = 10.0) -> None:
        """Let the board catch up before the next window measures it (up to ``timeout``), then
        forget what still waits: it is not the next window's."""
        assert self.watcher is not None
        deadline = time.perf_counter() + timeout
        while self.watcher.lag()[0] and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        self.watcher.forget_waiting()


class Session(BoardSession):
    """The mix, a pool and a national dashboard on one system."""

    def __init__(self, system: System, *, telemetry: bool = False, connections: int = 32,
                 teams_per_province: int = 8, seed: int = 1403) -> None:
        super().__init__(system, connections=connections)
        self.mix = Mix(system.signer, telemetry=telemetry, teams_per_province=teams_per_province, seed=seed)

    async def __aenter__(self) -> Session:
        await self.open(self.system.national_token())
        assert self.pool is not None
        await self.mix.setup(self.pool)
        return self

    async def post(self) -> tuple[str, int, Any, float]:
        assert self.pool is not None
        mix = self.mix
        cmd = mix.next()
        key = f"bench-{uuid.uuid4().hex}" if cmd.keyed else None
        status, answer, sent = await self.pool.post_timed(cmd.path, cmd.body, mix.token(cmd), key=key)
        mix.answered(cmd, status, answer)
        return cmd.province, status, answer, sent


async def interleaved(system: BoardSession, floor: BoardSession, rate: float, seconds: float, rounds: int, *,
                      between: Callable[[int], Awaitable[None]] | None = None,
                      label: str | None = None) -> tuple[list[Window], list[Window]]:
    """``rounds`` times: the system at ``rate`` for ``seconds``, then the floor alike (same rate,
    same pacing, same dashboard client), then ``between(round)`` (other baselines of the round).
    Both run all along; only one is driven at a time."""
    mine: list[Window] = []
    bare: list[Window] = []
    for i in range(rounds):
        mine.append(await system.window(rate, seconds, label=f"{label}-{i}" if label and i == 0 else None))
        bare.append(await floor.window(rate, seconds))
        if between is not None:
            await between(i)
    return mine, bare
