"""Fan-out: N dashboards on the websocket bridge, each receiving every position report.

    python -m bench.fanout --clients 500 --seconds 10

Two runs in one invocation, with the same clients and the same load:
  bridge    the embedded system (SQLite, follower) and the bridge: position reports go
            through ``follower.apply_telemetry`` (as the command API hands them over), the
            bridge filters them for the clients' view, batches them per 50 ms tick and writes
            one prebuilt frame per client;
  baseline  a bare ``websockets`` server that broadcasts the same delta frames, built from
            the same reports with the same tick, and nothing else (no follower, no views,
            no backlog bookkeeping).

The clients run in a second process (the machine has two cores: one serves, one reads).
They are light raw-socket websocket clients, not the websockets library (RUNBOOK.md: a
thousand library clients take a core and add tens of milliseconds themselves); a sample of
them parse every frame and time each report from the moment it was handed to the system
(stamped into the report's time, microseconds) to the moment the frame was read. The rest
count frames and bytes. Latency therefore includes the wait for the tick (0 to 50 ms).

The runs of the two sides alternate (bridge, baseline, baseline, bridge, ...), so that other
work on the machine hits both alike. ``python -m bench`` runs the same comparison as its
fan-out scenario (bench/scenarios/fanout.py) through ``compare()``.

Prints a table and writes bench/results/fanout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import ui_bridge
from bench.floor import TICK_S, hold_subscriber
from bench.report import code
from ui_bridge.throttle import Throttle

RESULTS = Path(__file__).resolve().parent / "results" / "fanout.json"


@dataclass(frozen=True)
class Load:
    """The clients and the load of one comparison (the same for both sides)."""

    clients: int = 500  # dashboards connected
    seconds: float = 10.0  # the measured window of each run
    rate: float = 500.0  # position reports a second, each a delta every client receives
    teams: int = 2000  # vehicles reporting, round-robin
    sample: int = 50  # clients that parse and time every frame


# ---------------------------------------------------------------------- load: position reports


def stamp(t: float) -> str:
    """The report's time, microseconds: the clients read the send time back from it."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def drive(sink: Any, rate: float, seconds: float, teams: int, started: Any, stop_at: Any) -> int:
    """Hand ``rate`` reports a second to ``sink(team_index, at, lat, lon)`` for ``seconds``.

    Round-robin over ``teams`` vehicles, so no two reports of one vehicle share a tick and
    every report is a delta the clients must receive. Returns how many were sent."""
    t0 = time.time()
    started.value = t0
    stop_at.value = t0 + seconds
    sent = 0
    while True:
        now = time.time()
        if now >= t0 + seconds:
            return sent
        due = int((now - t0) * rate)
        while sent < due:
            i = sent % teams
            # Points around Qazvin, Tehran and Karaj, all inside Iran: the fold drops a report of a
            # place outside the country (42% of the old 35–39°N × 50–57°E grid lay in the Caspian
            # or Turkmenistan, and the bridge rightly never showed them).
            sink(i, time.time(), 35.0 + (sent % 100) / 100, 50.0 + (sent % 150) / 100)
            sent += 1
        time.sleep(0.002)


def team_id(i: int) -> str:
    return str(UUID(int=i + 1))  # the same ids, and the same row sizes, in both runs


def bridge_sink(system: Any) -> Any:
    from events.envelope import Envelope

    def sink(i: int, t: float, lat: float, lon: float) -> None:
        team = team_id(i)
        at = stamp(t)
        system.follower.apply_telemetry(Envelope(
            type="TeamPositionReported", version=1, id=str(uuid4()), aggregate_id=team, aggregate_version=1,
            occurred_at=at, recorded_at=at, province="QZV", county="Qazvin",
            actor={"role": "team", "user": "bench"}, exercise=False,
            payload={"position": {"lat": lat, "lon": lon}, "speed_kmh": 42.0, "heading": 90.0}))

    return sink


# ---------------------------------------------------------------------- the two servers


async def run_bridge(load: Load, clients: ClientProcess) -> dict[str, Any]:
    from eoc.app.config import Settings
    from eoc.main.bootstrap import build
    from ui_bridge.server import start_embedded_bridge

    with tempfile.TemporaryDirectory() as tmp:
        system = build(Settings.from_env({}, data_dir=Path(tmp), token_secret=b"bench-key-7c1e9a3f5d2b8064ee19ab37c5d2"),
                       checkpoint=False)
        try:
            # Every client is one user's dashboard: the cap on dashboards per user (an abuse limit,
            # eight by default) would refuse all but the first eight.
            handle = await start_embedded_bridge(system, host="127.0.0.1", port=0, tick_s=TICK_S,
                                                 max_per_user=load.clients)
            token = system.signer.issue("national_eoc", "IR", sub="bench")
            try:
                result = await clients.measure(handle.port, token, bridge_sink(system), load)
                result["overflows"] = handle.hub.stats.overflows
                result["snapshots"] = handle.hub.stats.snapshots
            finally:
                await handle.stop()
        finally:
            system.close()
    return result


async def run_baseline(load: Load, clients: ClientProcess) -> dict[str, Any]:
    """A bare websockets server: the same delta frames, on the bridge's throttle, broadcast, nothing else."""
    from websockets.asyncio.server import broadcast, serve

    from ui_bridge import protocol as p

    loop = asyncio.get_running_loop()
    conns: set[Any] = set()
    pending: dict[str, Any] = {}
    seq = 0

    async def handler(ws: Any) -> None:
        await hold_subscriber(ws, conns, seq)

    def send() -> None:
        nonlocal seq, pending
        changes, pending = pending, {}
        prev, seq = seq, seq + len(changes)
        broadcast(conns, p.delta_frame(seq, prev, p.dumps(changes), p.now_iso()).encode(), text=True)

    throttle = Throttle(send, tick_s=TICK_S)

    def on_report(key: str, row: dict[str, Any]) -> None:
        pending[key] = row
        throttle.poke(loop)

    def sink(i: int, t: float, lat: float, lon: float) -> None:
        row = {"team_id": team_id(i), "province": "QZV", "lat": lat, "lon": lon, "at": stamp(t),
               "speed_kmh": 42.0, "heading": 90.0}
        loop.call_soon_threadsafe(on_report, f"position/{team_id(i)}", row)

    server = await serve(handler, "127.0.0.1", 0, ping_interval=p.PING_S, compression=None,
                         write_limit=p.WRITE_LIMIT)
    try:
        return await clients.measure(server.sockets[0].getsockname()[1], "unused", sink, load)
    finally:
        throttle.cancel()
        server.close()
        await server.wait_closed()


# ---------------------------------------------------------------------- the clients' process


class ClientProcess:
    """Runs the light clients in another process and collects what they measured."""

    def __init__(self) -> None:
        self.ctx = mp.get_context("spawn")

    async def measure(self, port: int, token: str, sink: Any, load: Load) -> dict[str, Any]:
        started, stop_at = self.ctx.Value("d", 0.0), self.ctx.Value("d", 0.0)
        ready, done = self.ctx.Event(), self.ctx.Event()
        out = self.ctx.Queue()
        proc = self.ctx.Process(target=client_main, args=(port, token, load.clients, load.sample, started, stop_at,
                                                         ready, done, out), daemon=True)
        proc.start()
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, ready.wait, 120):
            proc.kill()
            raise RuntimeError("the clients did not all connect")
        # Warm up (connections settled, first frames out), then the measured window.
        await loop.run_in_executor(None, drive, sink, load.rate, 1.0, load.teams, mp.Value("d"), mp.Value("d"))
        cpu0, wall0 = _cpu(), time.monotonic()
        sent = await loop.run_in_executor(None, drive, sink, load.rate, load.seconds, load.teams, started, stop_at)
        cpu = (_cpu() - cpu0) / (time.monotonic() - wall0)
        await asyncio.sleep(0.5)  # the last tick's frames reach the clients
        done.set()
        result = await loop.run_in_executor(None, out.get, True, 120)
        await loop.run_in_executor(None, proc.join, 30)
        lat = sorted(result.pop("latencies_ms"))
        seconds = stop_at.value - started.value
        return {
            "sent": sent,
            "sent_per_s": sent / seconds,
            "p50_ms": _q(lat, 0.50), "p90_ms": _q(lat, 0.90), "p99_ms": _q(lat, 0.99),
            "max_ms": lat[-1] if lat else None, "mean_ms": statistics.fmean(lat) if lat else None,
            "deltas_per_client_per_s": result["sample_deltas"] / max(1, result["sampled"]) / seconds,
            "deltas_per_s_all_clients": result["sample_deltas"] / max(1, result["sampled"]) / seconds * load.clients,
            "completeness": result["sample_deltas"] / max(1, result["sampled"] * sent),
            "frames_per_s_all_clients": result["frames"] / result["window_s"],
            "mbytes_per_s_all_clients": result["bytes"] / result["window_s"] / 1e6,
            "gaps": result["gaps"],
            "server_cpu_share": cpu,
            "client_cpu_share": result["cpu_share"],
            "timed_reports": len(lat),
        }


async def compare(load: Load, repeat: int = 1, only: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """``repeat`` runs of each side (``only``: one side) with the same load, alternated: bridge,
    baseline, then baseline, bridge, and so on. Every run, by side."""
    _raise_fd_limit()  # a thousand dashboards: as many sockets on the server's side
    clients = ClientProcess()
    sides = {"bridge": run_bridge, "baseline": run_baseline}
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides if only in (None, side)}
    for i in range(repeat):
        for side in (list(runs) if i % 2 == 0 else list(reversed(runs))):
            runs[side].append(await sides[side](load, clients))
    return runs


def medians(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each side's figures: the median over its runs."""
    return {side: _median(found) for side, found in runs.items() if found}


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: statistics.median(r[key] for r in runs) if all(isinstance(r[key], (int, float)) for r in runs)
            else runs[0][key] for key in runs[0]}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _q(values: list[float], q: float) -> float | None:
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def client_main(port: int, token: str, n: int, sample: int, started: Any, stop_at: Any, ready: Any, done: Any,
                out: Any) -> None:
    _raise_fd_limit()
    out.put(asyncio.run(_clients(port, token, n, sample, started, stop_at, ready, done)))


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Light:
    """A raw websocket client: reads frames, answers pings, and (if sampled) times reports."""

    def __init__(self, sampled: bool, started: Any, stop_at: Any) -> None:
        self.sampled = sampled
        self.started, self.stop_at = started, stop_at
        self.frames = self.bytes = self.deltas = self.gaps = 0
        self.latencies: list[float] = []
        self.last_seq: int | None = None
        self.snapshot = asyncio.Event()

    async def run(self, port: int, token: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head[:80])
        self.writer = writer
        try:
            while True:
                b0, b1 = await reader.readexactly(2)
                size = b1 & 0x7F
                if size == 126:
                    size = int.from_bytes(await reader.readexactly(2), "big")
                elif size == 127:
                    size = int.from_bytes(await reader.readexactly(8), "big")
                payload = await reader.readexactly(size)
                opcode = b0 & 0x0F
                if opcode == 0x1:
                    self.on_text(payload)
                elif opcode == 0x9:
                    writer.write(_masked(0x8A, payload))
                elif opcode == 0x8:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    def on_text(self, payload: bytes) -> None:
        arrived = time.time()
        if not self.snapshot.is_set():
            self.snapshot.set()
            if self.sampled:
                self.last_seq = json.loads(payload)["seq"]
            return
        start, end = self.started.value, self.stop_at.value
        counted = bool(start) and arrived >= start
        if counted:
            self.frames += 1
            self.bytes += len(payload)
        if not self.sampled:
            return
        frame = json.loads(payload)
        if frame["type"] != "delta":
            return
        if frame["prev"] != self.last_seq:
            self.gaps += 1
        self.last_seq = frame["seq"]
        if not counted:
            return
        for key, row in frame["changes"].items():
            if row and key.startswith("position/"):
                sent = datetime.fromisoformat(row["at"]).timestamp()
                if start <= sent <= end:
                    self.deltas += 1
                    self.latencies.append((arrived - sent) * 1000)

    def close(self) -> None:
        try:
            self.writer.write(_masked(0x88, (1000).to_bytes(2, "big")))
            self.writer.close()
        except (AttributeError, ConnectionError, RuntimeError):
            pass


def _masked(first: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    return bytes([first, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def _clients(port: int, token: str, n: int, sample: int, started: Any, stop_at: Any, ready: Any,
                   done: Any) -> dict[str, Any]:
    every = max(1, n // max(1, sample))
    clients = [Light(i % every == 0, started, stop_at) for i in range(n)]
    tasks = []
    for batch in range(0, n, 50):  # not all at once: the listen backlog is finite
        group = clients[batch:batch + 50]
        tasks += [asyncio.create_task(c.run(port, token)) for c in group]
        await asyncio.wait_for(asyncio.gather(*(c.snapshot.wait() for c in group)), 60)
    ready.set()
    cpu0, wall0 = _cpu(), time.monotonic()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, done.wait)
    window = max(1e-9, time.time() - started.value)
    cpu_share = (_cpu() - cpu0) / (time.monotonic() - wall0)
    for c in clients:
        c.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    sampled = [c for c in clients if c.sampled]
    return {
        "frames": sum(c.frames for c in clients), "bytes": sum(c.bytes for c in clients), "window_s": window,
        "sampled": len(sampled), "sample_deltas": sum(c.deltas for c in sampled),
        "gaps": sum(c.gaps for c in sampled),
        "latencies_ms": [x for c in sampled for x in c.latencies],
        "cpu_share": cpu_share,
    }


# ---------------------------------------------------------------------- report


ROWS = [
    *((f"{q} latency (ms)", f"{q}_ms", "{:.1f}") for q in ("p50", "p90", "p99", "max")),
    ("reports sent / s", "sent_per_s", "{:,.0f}"),
    ("deltas / s per client", "deltas_per_client_per_s", "{:,.0f}"),
    ("deltas / s, all clients", "deltas_per_s_all_clients", "{:,.0f}"),
    ("frames / s, all clients", "frames_per_s_all_clients", "{:,.0f}"),
    ("MB / s, all clients", "mbytes_per_s_all_clients", "{:.1f}"),
    ("every delta received", "completeness", "{:.4f}"),
    ("gaps seen by clients", "gaps", "{:.0f}"),
    ("server process CPU", "server_cpu_share", "{:.0%}"),
    ("clients' process CPU", "client_cpu_share", "{:.0%}"),
]


def table(load: Load, repeat: int, bridge: dict[str, Any], baseline: dict[str, Any]) -> str:
    lines = [f"fan-out: {load.clients} clients, {load.rate:g} position reports/s for {load.seconds:g} s, "
             f"tick {TICK_S * 1000:.0f} ms, {os.cpu_count()} cores (load {os.getloadavg()[0]:.1f}), "
             f"{load.sample} clients timing" + (f", median of {repeat} runs" if repeat > 1 else ""),
             f"{'':26}{'bridge':>12}{'baseline':>12}{'ratio':>8}"]
    for label, key, fmt in ROWS:
        a, b = bridge.get(key), baseline.get(key)
        ratio = f"{a / b:.2f}" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else ""
        lines.append(f"{label:26}{fmt.format(a) if a is not None else '—':>12}"
                     f"{fmt.format(b) if b is not None else '—':>12}{ratio:>8}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=Load.clients)
    parser.add_argument("--seconds", type=float, default=Load.seconds)
    parser.add_argument("--rate", type=float, default=Load.rate, help="position reports per second")
    parser.add_argument("--teams", type=int, default=Load.teams, help="vehicles reporting, round-robin")
    parser.add_argument("--sample", type=int, default=Load.sample, help="clients that parse and time every frame")
    parser.add_argument("--only", choices=["bridge", "baseline"], help="run one side only")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side; the table shows medians")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    load = Load(clients=args.clients, seconds=args.seconds, rate=args.rate, teams=args.teams, sample=args.sample)
    runs = asyncio.run(compare(load, args.repeat, args.only))
    results = medians(runs)
    if len(results) == 2:
        print(table(load, args.repeat, results["bridge"], results["baseline"]))
    else:
        print(json.dumps(results, indent=1))
    record = {
        "command": "python -m bench.fanout " + " ".join(sys.argv[1:] if argv is None else argv),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    # Other work on the machine shows in the figures: say how busy it was.
                    "load_average_1m_at_end": os.getloadavg()[0]},
        "settings": {**asdict(load), "tick_s": TICK_S, "repeat": args.repeat},
        # the bridge runs in this process: the code measured is the one this process imported
        "code": {**code(), "ui_bridge": str(Path(ui_bridge.__file__).resolve().parent)},
        **results,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
