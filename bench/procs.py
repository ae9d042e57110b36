"""The processes a scenario starts, and what they cost: CPU time and resident memory from /proc.

Every server the suite measures runs as a real subprocess (the product's own commands where
there is one: ``eoc demo --no-simulator``, ``eoc api``, ``eoc relay``, ``eoc worker``,
``eoc bridge``), in a session of its own so that stopping it stops its children too, with its
output in a log file next to the results (shown when it fails to start).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def eoc_command() -> list[str]:
    """The ``eoc`` console script of this interpreter (or the module, if it is not installed)."""
    script = Path(sys.executable).with_name("eoc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "eoc.cli"]


_PICK = random.SystemRandom()  # not the seeded module generator: two test lanes must not agree


def free_port() -> int:
    """A loopback port nobody listens on, below the kernel's ephemeral range when it can be.
    A port from that range (what binding port 0 gives) can be handed to any outgoing connection
    — a Kafka client's, a database pool's — between this check and the server's own bind, and
    the server then fails to start: a CI run once failed so."""
    low = _ephemeral_low()
    for _ in range(200 if low > 12_000 else 0):
        port = _PICK.randint(10_000, low - 1)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


class Proc:
    """One started process."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logdir: Path,
                 cwd: Path | None = None) -> None:
        self.name, self.args, self.env = name, args, env
        self.log = logdir / f"{name}.log"
        self.cwd = cwd or logdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     cwd=self.cwd, start_new_session=True)
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float:
        return cpu_seconds_of(self.pid)

    def rss_mb(self) -> float:
        return rss_mb_of(self.pid)

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(text[-lines:])

    def check(self) -> None:
        if not self.alive:
            raise RuntimeError(f"{self.name} stopped (exit {self.proc.returncode if self.proc else '?'}):\n"
                               f"{self.tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is not None:
            stop_session(self.proc, timeout)


def stop_all(procs: list[Proc], timeout: float = 15.0) -> None:
    """Stop several processes at once: SIGTERM to every session first, then wait for each (a
    Faust worker takes seconds to leave its group; one after another, a cluster's teardown took
    most of a smoke scenario)."""
    running = [p.proc for p in procs if p.proc is not None and p.proc.poll() is None]
    for proc in running:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for proc in running:
        stop_session(proc, max(0.1, deadline - time.monotonic()))


def stop_session(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Stop a process started in a session of its own, and its children: SIGTERM to the session,
    then SIGKILL if it is not gone within ``timeout`` seconds. Nothing to do if it has ended."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU of a process, all its threads (not its children)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb_of(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def self_rss_mb() -> float:
    return rss_mb_of(os.getpid())


class CpuMeter:
    """CPU share (in cores) of some processes over a window: ``start()`` then ``stop()``."""

    def __init__(self, procs: dict[str, int]) -> None:
        self.procs = procs
        self._cpu0: dict[str, float] = {}
        self._t0 = 0.0

    def start(self) -> CpuMeter:
        self._t0 = time.perf_counter()
        self._cpu0 = {name: _cpu_or_zero(pid) for name, pid in self.procs.items()}
        return self

    def stop(self) -> dict[str, float]:
        wall = max(1e-9, time.perf_counter() - self._t0)
        return {name: (_cpu_or_zero(pid) - self._cpu0[name]) / wall for name, pid in self.procs.items()}


def _cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds_of(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


async def wait_port(port: int, *, timeout: float, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            pass
        if proc is not None:
            proc.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on port {port} after {timeout} s"
                               + (f"\n{proc.tail()}" if proc else ""))
        await asyncio.sleep(0.1)
