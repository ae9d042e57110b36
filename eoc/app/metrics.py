"""What operators see of a process: Prometheus metrics, liveness and readiness, JSON logs.

Every process has one ``Metrics`` (its own registry, so that several systems in one test
process do not mix). The counters that the runners already keep as attributes (writer
conflicts, follower position, relay watermark, dead letters, the hub's clients and backlog)
are read when Prometheus scrapes, by the functions the composition root registers with
``watch``; nothing in the runners knows about Prometheus.

Names (all prefixed ``eoc_``):

========================================= ======= ==============================================
metric                                    type    what
========================================= ======= ==============================================
eoc_commands_total{kind,outcome}          counter commands by endpoint and outcome (accepted,
                                                  refused, limited, unavailable, failed)
eoc_writer_batch_size                     histo   commands committed per batch by the writer
eoc_writer_conflicts_total                counter batches another writer got to first
eoc_follower_lag_events{runner}           gauge   stored events not yet on the boards
eoc_relay_lag_events                      gauge   stored events not yet acknowledged by Kafka
eoc_dead_letters_total{runner}            counter events that could not be folded
eoc_bridge_clients                        gauge   open dashboards
eoc_bridge_backlog_frames                 gauge   frames waiting for slow dashboards
eoc_telemetry_reports_total{outcome}      counter position reports (published, buffered,
                                                  refused, failed)
eoc_telemetry_buffered                    gauge   reports held while Kafka is down
eoc_dependency_up{dependency}             gauge   1 when the process reaches it (kafka, store)
========================================= ======= ==============================================
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

Reading = Callable[[], float | dict[tuple[str, ...], float] | None]
Check = Callable[[], str | None]  # None: fine; else the problem, one line

OUTCOMES = {2: "accepted", 4: "refused", 5: "failed"}


def outcome_of(status: int) -> str:
    if status == 429:
        return "limited"
    if status == 503:
        return "unavailable"
    return OUTCOMES.get(status // 100, "failed")


class Metrics:
    """One process's metrics and readiness checks."""

    def __init__(self, process: str) -> None:
        self.process = process
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.commands = Counter("eoc_commands", "commands by kind (endpoint) and outcome",
                                ["kind", "outcome"], registry=r)
        self.writer_batch = Histogram("eoc_writer_batch_size", "commands committed per batch by the writer",
                                      buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500), registry=r)
        self.telemetry = Counter("eoc_telemetry_reports", "position reports by outcome", ["outcome"], registry=r)
        self._watched: list[tuple[str, str, str, tuple[str, ...], Reading]] = []
        self.checks: dict[str, Check] = {}
        self.started = time.time()
        r.register(_Watched(self))

    def watch(self, name: str, kind: str, help_: str, read: Reading, labels: tuple[str, ...] = ()) -> None:
        """A value read at scrape time: ``kind`` gauge or counter; ``read`` returns a number,
        or {label values: number} when ``labels`` are given, or None (not known now)."""
        self._watched.append((name, kind, help_, labels, read))

    def check(self, name: str, check: Check) -> None:
        """A readiness check: what this process needs to do its work (the store, Kafka)."""
        self.checks[name] = check

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def readiness(self) -> tuple[bool, dict[str, str]]:
        answers: dict[str, str] = {}
        for name, check in self.checks.items():
            try:
                problem = check()
            except Exception as exc:  # a check that fails is a dependency that is down
                problem = f"{type(exc).__name__}: {exc}"
            answers[name] = "ok" if problem is None else problem
        return all(v == "ok" for v in answers.values()), answers


class _Watched(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Any] = {}
        for name, kind, help_, labels, read in self.metrics._watched:
            try:
                value = read()
            except Exception:  # a source being closed: not known now
                log.debug("metric %s could not be read", name, exc_info=True)
                continue
            if value is None:
                continue
            family = families.get(name)
            if family is None:
                cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
                family = families[name] = cls(name, help_, labels=list(labels))
            if isinstance(value, dict):
                for key, v in value.items():
                    family.add_metric(list(key), float(v))
            else:
                family.add_metric([], float(value))
        yield from families.values()

    def describe(self) -> Iterable[Metric]:
        return []


# ---------------------------------------------------------------------- the runners' figures


def watch_writer(metrics: Metrics, writer: Any) -> None:
    metrics.watch("eoc_writer_conflicts", "counter", "batches another writer got to first",
                  lambda: writer.conflicts)
    writer.on_batch = metrics.writer_batch.observe


def watch_follower(metrics: Metrics, runner: str, head: Callable[[], int], position: Callable[[], int],
                   dead_letters: Callable[[], int] | None = None) -> None:
    """Lag of a board runner behind the store's head (the embedded follower, or the boards
    topic the cluster's workers publish)."""
    metrics.watch("eoc_follower_lag_events", "gauge", "stored events not yet on the boards",
                  lambda: {(runner,): max(0, head() - position())}, labels=("runner",))
    if dead_letters is not None:
        metrics.watch("eoc_dead_letters", "counter", "events that could not be folded",
                      lambda: {(runner,): dead_letters()}, labels=("runner",))


def watch_hub(metrics: Metrics, hub: Any) -> None:
    metrics.watch("eoc_bridge_clients", "gauge", "open dashboards", lambda: hub.clients)
    metrics.watch("eoc_bridge_backlog_frames", "gauge", "frames waiting for slow dashboards",
                  lambda: sum(len(c.backlog) for v in list(hub.views.values()) for c in list(v.clients)))


def watch_dependency(metrics: Metrics, name: str, check: Check) -> None:
    """A dependency's state: a readiness check and ``eoc_dependency_up{dependency=name}``."""
    metrics.check(name, check)
    metrics.watch("eoc_dependency_up", "gauge", "1 when the process reaches the dependency",
                  lambda: {(name,): 0.0 if check() else 1.0}, labels=("dependency",))


# ---------------------------------------------------------------------- serving them


def health_answer(metrics: Metrics, path: str) -> tuple[int, bytes, str] | None:
    """The answer to GET ``path`` if it is one of /metrics, /healthz, /readyz."""
    if path == "/metrics":
        return 200, metrics.exposition(), CONTENT_TYPE_LATEST
    if path == "/healthz":
        body = {"status": "alive", "process": metrics.process, "uptime_s": round(time.time() - metrics.started, 1)}
        return 200, json.dumps(body).encode(), "application/json"
    if path == "/readyz":
        ready, checks = metrics.readiness()
        body = {"status": "ready" if ready else "not ready", "process": metrics.process, "checks": checks}
        return (200 if ready else 503), json.dumps(body, ensure_ascii=False).encode(), "application/json"
    return None


def serve_health(metrics: Metrics, host: str, port: int) -> ThreadingHTTPServer:
    """/metrics, /healthz and /readyz on their own port (the relay, the worker), in a thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the library's name)
            answer = health_answer(self.server.metrics, self.path.split("?", 1)[0])  # type: ignore[attr-defined]
            status, body, ctype = answer or (404, b'{"error": "not_found"}', "application/json")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:  # scrapes are not news
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.metrics = metrics  # type: ignore[attr-defined]  # replaceable: a relay that starts again
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="eoc-metrics", daemon=True).start()
    return server


# ---------------------------------------------------------------------- JSON logs


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (and the exception, in the line)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_handler(fmt: str = "json") -> logging.Handler:
    """A stderr handler: one JSON object a line (or text), runs of equal warnings held back."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Repeats())  # (first: it tells runs apart by the message's template)
    handler.addFilter(LibraryTracebacks())
    return handler


def logging_config(level: str, fmt: str = "json") -> dict[str, Any]:
    """The same, as a ``logging.config.dictConfig`` (for Faust's worker, which sets its own)."""
    return {"version": 1, "disable_existing_loggers": False,
            "handlers": {"default": {"()": "eoc.app.metrics.log_handler", "fmt": fmt}},
            "root": {"level": {"warn": "WARNING", "crit": "CRITICAL"}.get(level, level.upper()),
                     "handlers": ["default"]},
            "loggers": {"kafka": {"level": "WARNING"}, "aiokafka": {"level": "WARNING"}}}


def configure_logging(level: str, fmt: str = "json") -> None:
    """One line per record (JSON by default, EOC_LOG_FORMAT=text for a person); a run of equal
    warnings (a dependency that is down) is logged once, then once every 30 s with a count."""
    logging.basicConfig(level=_LEVELS.get(level, logging.INFO), handlers=[log_handler(fmt)], force=True)
    # The Kafka clients log every connection at info, httpx every request (the simulator's, the
    # CLI's): their warnings are what matters.
    for name in ("kafka", "aiokafka", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, _LEVELS.get(level, logging.INFO)))


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
           "warning": logging.WARNING, "error": logging.ERROR, "crit": logging.CRITICAL}


LIBRARIES = {"kafka", "aiokafka", "faust", "mode"}


class LibraryTracebacks(logging.Filter):
    """A Kafka client's own exception (a socket reset while its broker goes down) is one line:
    the message with the exception's type and text, without the client's traceback. Those
    clients log their expected I/O failures with ``log.exception``; an operator needs the fact,
    and our own code's tracebacks stay whole."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.name.split(".", 1)[0] in LIBRARIES:
            exc = record.exc_info[1]
            if exc is not None:
                record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})".replace("\n", " ")
                record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


class Repeats(logging.Filter):
    """Lets the first of a run of equal warnings or errors through, then one a ``every_s``
    with how many were held back: a dependency that is down is news once, not hundreds of
    times (the Kafka clients log every failed attempt)."""

    def __init__(self, every_s: float = 30.0) -> None:
        super().__init__()
        self.every_s = every_s
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        # The clients' retries differ only in their numbers (a backoff, an attempt): one key per
        # message template; ours are facts each (a dead letter): one key per message as written.
        library = record.name.split(".", 1)[0] in LIBRARIES
        key = (record.name, str(record.msg)[:200] if library else record.getMessage()[:400])
        now = time.monotonic()
        with self._lock:
            last, held = self._seen.get(key, (float("-inf"), 0))
            if now - last < self.every_s:
                self._seen[key] = (last, held + 1)
                return False
            self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} (and {held} more like it in {self.every_s:.0f} s)"
        return True
