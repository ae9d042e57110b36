"""Where a process spends its time during a measured window: py-spy, when it is installed.

``python -m bench --profile`` samples every system process during the windows that decide a
target (the sustained holds, the telemetry runs) with ``py-spy record --gil`` (only the thread
holding the GIL is sampled, so waiting threads do not show) and keeps, per process, the
functions that were on the stack most often (inclusive share) and where the time was spent
(self share). py-spy is not a dependency of the project: ``pip install py-spy``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any


def available() -> bool:
    return shutil.which("py-spy") is not None


class Sampler:
    """py-spy on some processes for a number of seconds (non-blocking; ``summary()`` after)."""

    def __init__(self, pids: dict[str, int], seconds: float, workdir: Path, label: str) -> None:
        self.outputs: dict[str, Path] = {}
        self.procs: list[subprocess.Popen[bytes]] = []
        for name, pid in pids.items():
            out = workdir / f"profile-{label}-{name}.txt"
            self.outputs[name] = out
            self.procs.append(subprocess.Popen(
                ["py-spy", "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "200",
                 "--format", "raw", "--gil", "--nonblocking", "-o", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def summary(self, top: int = 25) -> dict[str, Any]:
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        return {name: summarize(path, top) for name, path in self.outputs.items() if path.exists()}


# What a sample was doing, by the first marker found from the root of its stack (the order
# matters: a command handler runs inside the writer's loop, a fold inside the follower's).
ACTIVITIES = (
    ("writer: saving to the event store", ("save_in_order", "insert_events")),
    ("writer: deciding commands (handlers, aggregates)", ("BatchWriter._decide", "UnitOfWork.", "deepcopy")),
    ("writer: batching, hand-offs", ("BatchWriter._loop",)),
    ("follower: reading the log, folding", ("Follower._run", "Follower.catch_up")),
    ("relay: reading the log, publishing", ("Relay._run", "Relay.run")),
    ("worker: folding, committing a batch", ("BoardProcessor.",)),
    ("bridge: frames per tick", ("Hub.flush", "Hub._tick_forever", "Hub._drain", "Hub.heartbeat")),
    ("board topic reader", ("BoardTopicView._run", "KafkaBoardFeed.")),
    ("telemetry: fold or publish", ("apply_telemetry", "TelemetryPublisher.")),
    ("HTTP: endpoint in a worker thread", ("_run_sync_endpoint", "run_sync_in_worker_thread",
                                           "WorkerThread.run (_asyncio.py)")),
    ("HTTP: server and framework on the loop", ("RequestResponseCycle.", "H11Protocol.", "HttpToolsProtocol.",
                                                "request_response.", "get_request_handler.", "solve_dependencies",
                                                "wrap_app_handling_exceptions", "Middleware.__call__",
                                                "AsyncExitStack", "cancel_shielded_checkpoint")),
    ("Kafka clients (kafka-python, aiokafka, Faust's streams)",
     ("Sender.", "KafkaClient.", "KafkaProducer.", "Fetcher.", "Conductor.", "Consumer.", "Stream.", "Service.",
      "AIOKafka", "MessageBatch.")),
    ("event loop, other", ("_run_once",)),
)
# Where the time was spent, by the package of the innermost frame.
PACKAGES = ("eventsourcing", "fastapi", "starlette", "uvicorn", "h11", "anyio", "pydantic", "pydantic_core",
            "websockets", "aiokafka", "kafka", "faust", "mode", "psycopg", "psycopg_pool", "cryptography", "eoc",
            "events", "projections", "consumers", "ui-bridge", "asyncio", "json", "threading", "queue", "sqlite3",
            "uuid", "copy", "selectors", "socket", "concurrent", "logging")


def summarize(path: Path, top: int = 25) -> dict[str, Any]:
    """From py-spy's raw (collapsed) stacks: shares by activity, by package, and the top
    functions (inclusive and self)."""
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    activity: Counter[str] = Counter()
    package: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        raw = stack.split(";")
        frames = [_frame(f) for f in raw]
        for frame in set(frames):
            inclusive[frame] += n
        self_time[frames[-1]] += n
        activity[_activity(frames)] += n
        package[_package(raw[-1])] += n
    if not total:
        return {"samples": 0}

    def shares(counter: Counter[str], k: int) -> list[tuple[str, float]]:
        return [(f, round(n / total, 3)) for f, n in counter.most_common(k)]

    return {"samples": total, "by_activity": shares(activity, 20), "by_package": shares(package, 15),
            "inclusive": shares(inclusive, top), "self": shares(self_time, top)}


def _activity(frames: list[str]) -> str:
    for name, markers in ACTIVITIES:
        for frame in frames:
            if any(frame.startswith(m) or m in frame for m in markers):
                return name
    return "other"


def _package(raw_frame: str) -> str:
    where = raw_frame.partition(" (")[2]
    path = where.rsplit(":", 1)[0]
    parts = path.replace("\\", "/").split("/")
    for part in reversed(parts[:-1]):
        if part in PACKAGES:
            return part
    module = parts[-1].removesuffix(".py") if parts else ""
    return module if module in PACKAGES else "python (other)"


def _frame(text: str) -> str:
    """``func (path/to/module.py:123)`` -> ``func (module.py)``."""
    name, _, where = text.partition(" (")
    module = where.rsplit(":", 1)[0].rsplit("/", 1)[-1] if where else ""
    return f"{name} ({module})" if module else name
