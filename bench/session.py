"""A load session on one running system: the command mix sent over a pool of connections, and a
national dashboard on the bridge timing what each command did to the board.

``window()`` runs the mix at a steady rate and returns everything the scenarios report: the
requests (offered, achieved, refused, failed), command-to-board latencies, the boards' lag
sampled four times a second, and the CPU of every process of the system and of the load
generator over the same window. ``saturate()`` sends flat out to find what the system answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
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
    latencies_ms: list[float]
    lag: list[tuple[float, int, float]]  # (seconds into the window, commands waiting, oldest age ms)
    cpu: dict[str, float]  # cores, per process of the system
    before_answer: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def quantiles(self) -> dict[str, float | None]:
        lat = sorted(self.latencies_ms)
        return {"p50_ms": quantile(lat, 0.5), "p99_ms": quantile(lat, 0.99), "p99_9_ms": quantile(lat, 0.999),
                "max_ms": lat[-1] if lat else None, "n": len(lat)}

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
        return {"requests": self.run.summary(), "command_to_board": self.quantiles(),
                "before_answer": self.before_answer, "lag": self.lag_growth(), "cpu_cores": self.cpu,
                "lag_samples": [(round(t, 2), c, round(a, 1)) for t, c, a in self.lag], **self.extra}


class Session:
    """The mix, a pool and a dashboard on one system."""

    def __init__(self, system: System, *, telemetry: bool = False, connections: int = 32,
                 teams_per_province: int = 8, seed: int = 1403) -> None:
        self.system = system
        self.connections = connections
        self.mix = Mix(system.signer, telemetry=telemetry, teams_per_province=teams_per_province, seed=seed)
        self.pool: Pool | None = None
        self.watcher: BoardWatcher | None = None
        self.profile_dir: Path | None = None  # set: windows with a label are profiled (py-spy)
        # Also told of every stored command's answer: (province, log position, answered at).
        self.observers: list[Callable[[str, int, float], None]] = []

    async def __aenter__(self) -> Session:
        self.watcher = await BoardWatcher().connect(self.system.bridge_port, self.system.national_token())
        self.pool = await Pool("127.0.0.1", self.system.api_port, self.connections).open()
        await self.mix.setup(self.pool)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.close()
        if self.watcher is not None:
            self.watcher.close()

    async def send(self, due: float) -> int:
        assert self.pool is not None and self.watcher is not None
        mix = self.mix
        cmd = mix.next()
        status, answer = await self.pool.post(cmd.path, cmd.body, mix.token(cmd))
        answered = time.perf_counter()
        mix.answered(cmd, status, answer)
        if status < 300 and isinstance(answer, dict) and isinstance(answer.get("position"), int):
            self.watcher.expect(cmd.province, answer["position"], answered)
            for observe in self.observers:
                observe(cmd.province, answer["position"], answered)
        return status

    async def window(self, rate: float, seconds: float, *, settle_s: float = 1.0, label: str | None = None) -> Window:
        """The mix at ``rate`` for ``seconds``; then up to ``settle_s`` for the last effects."""
        watcher = self.watcher
        assert watcher is not None
        latencies: list[float] = []
        watcher.latencies_ms = latencies
        before = watcher.before_answer
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
        watcher.latencies_ms = None
        self.system.check()
        window = Window(run, latencies, lag, cpu, watcher.before_answer - before)
        if spy is not None:
            window.extra["profile"] = await asyncio.to_thread(spy.summary)
        return window

    async def saturate(self, seconds: float, connections: int | None = None) -> Run:
        """Flat out on every connection: what the system answers at most."""
        assert self.watcher is not None
        cpu0 = cpu_seconds()
        run = await flat_out(self.send, connections or self.connections, seconds)
        run.loadgen_cpu_s = cpu_seconds() - cpu0
        # Let the board catch up before the next window measures it.
        deadline = time.perf_counter() + 10
        while self.watcher.lag()[0] and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        self.watcher.forget_waiting()
        return run
