"""What the cluster tests share (no tests here): the seeded history of tests/support/history.py
through the CommandService on PostgreSQL, over provinces in four partitions; the cluster
processes as real subprocesses (``eoc relay``, ``eoc worker``), and reading back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.procs import eoc_command, stop_session
from eoc.domain import to_envelope
from projections import Board, fold, undecodable
from projections.batches import BatchGate, apply_changes
from tests.support.history import History, commands
from tests.support.history import claims as supervisor  # noqa: F401  (the cluster tests' name for it)

ROOT = Path(__file__).resolve().parents[2]
# Provinces in four of the eight partitions (QZV and THR share one), so partitioning matters.
PROVINCES_UNDER_TEST = ("QZV", "THR", "ESF", "ALB", "KSH")


def cluster_history(service: Any, clock: Any, **kw: Any) -> History:
    """The seeded history of tests/support/history.py through ``service``, over the provinces
    under test, a FakeClock moved along (``kw``: History's, ``telemetry``)."""
    return commands(service, clock=clock, **{"provinces": PROVINCES_UNDER_TEST, "drill_share": 0.15,
                                             "mean_gap_s": 45.0, **kw})


# ---------------------------------------------------------------------- the event store side


def stored_envelopes(app: Any) -> list[Any]:
    """Every stored event, upcast, with its log position (what a replay folds)."""
    out = []
    start = 0
    while True:
        batch = app.recorder.select_notifications(start=start, limit=5000, inclusive_of_start=False)
        if not batch:
            return out
        out.extend(to_envelope(app.mapper.to_domain_event(n), position=n.id) for n in batch)
        start = batch[-1].id


def replay(app: Any) -> dict[str, Any]:
    """The boards from scratch: the audit's replay of the whole log (projections.fold; a stored
    row that is not an event becomes its dead-letter row, as in every runner)."""
    from eoc.audit.sources import StoreSource

    board = Board()
    return dict(fold(StoreSource(app).envelopes(undecodable=lambda p, why: undecodable(board, p, why)), board).rows)


def last_positions(app: Any) -> dict[str, int]:
    """applied/<province> -> the last log position of the province (what a board must reach)."""
    out: dict[str, int] = {}
    for envelope in stored_envelopes(app):
        out[f"applied/{envelope.province}"] = envelope.position
    return out


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll until ``predicate()`` is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def diff(expected: dict[str, Any], actual: dict[str, Any], limit: int = 8) -> str:
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    changed = sorted(k for k in set(expected) & set(actual) if expected[k] != actual[k])
    lines = [f"{len(missing)} missing, {len(extra)} extra, {len(changed)} different"]
    lines += [f"  missing {k}: {expected[k]}" for k in missing[:limit]]
    lines += [f"  extra {k}: {actual[k]}" for k in extra[:limit]]
    lines += [f"  differs {k}:\n    expected {expected[k]}\n    actual   {actual[k]}" for k in changed[:limit]]
    return "\n".join(lines)


# ---------------------------------------------------------------------- the cluster processes


def cluster_env(*, bootstrap: str, pg_dsn: str, prefix: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EOC_")}
    env.update(
        EOC_STORE="postgres", EOC_PG_DSN=pg_dsn, EOC_KAFKA_BOOTSTRAP=bootstrap, EOC_TOPIC_PREFIX=prefix,
        EOC_TOKEN_SECRET="test-key-3f9a1c7e5b2d8046aa17c93e51", EOC_LOG_LEVEL="info", PYTHONUNBUFFERED="1",
        # A test's changelogs recover in seconds: a recovery stalled this long is the Faust stall
        # (faust-streaming #155/#74); the worker exits and the harness starts it again.
        EOC_WORKER_RECOVERY_STALL_S="20",
    )
    env.update(extra)
    return env


class Process:
    """One cluster process (``eoc relay`` / ``eoc worker``) run as the console script would.

    ``supervised``: started again when it exits by itself, as docker-compose's ``restart:
    unless-stopped`` does (a worker whose table recovery stalls exits for that:
    ``EOC_WORKER_RECOVERY_STALL_S``); never after ``kill9()`` or ``stop()``, which the test
    follows with its own ``start()``. ``starts`` counts the test's starts, ``restarts`` the
    supervisor's (with the status each run ended with), ``runs`` both (one log file each)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logdir: Path, *,
                 supervised: bool = False) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.logdir = logdir
        self.supervised = supervised
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.runs = 0
        self.restarts: list[int] = []  # the status of each run the supervisor started again
        self.wanted = False  # running, as far as the test is concerned
        self._lock = threading.Lock()

    def start(self) -> Process:
        with self._lock:
            self.starts += 1
            self.wanted = True
            self._run()
        return self

    def _run(self) -> None:
        self.runs += 1
        log = open(self.logdir / f"{self.name}.{self.runs}.log", "wb")
        # The eoc console script, from the interpreter running the tests.
        self.proc = subprocess.Popen([*eoc_command(), *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.logdir, start_new_session=True)

    def revive(self) -> bool:
        """The supervisor's round: start the process again if it ended by itself."""
        with self._lock:
            if not (self.supervised and self.wanted and self.proc is not None) or self.proc.poll() is None:
                return False
            self.restarts.append(self.proc.returncode)
            self._run()
            return True

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        with self._lock:
            self.wanted = False
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        with self._lock:
            self.wanted = False
        if self.proc is not None:
            stop_session(self.proc, 20)

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for i in range(1, self.runs + 1):
            text = (self.logdir / f"{self.name}.{i}.log").read_text(errors="replace").splitlines()
            out.append(f"--- {self.name} run {i} ---")
            out.extend(text[-lines:])
        return "\n".join(out)


# ---------------------------------------------------------------------- a cluster under test


class TopicReader:
    """Reads a topic from the beginning, a little more at each ``catch_up()``."""

    def __init__(self, bootstrap: str, topic: str, *, rows: bool = True) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.topic = topic
        self.fold_rows = rows
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                      auto_offset_reset="earliest", client_id="eoc-test-reader")
        self.tps = [TopicPartition(topic, p) for p in sorted(self.consumer.partitions_for_topic(topic) or ())]
        assert self.tps, f"{topic} does not exist"
        self.consumer.assign(self.tps)
        self.consumer.seek_to_beginning(*self.tps)
        self.records: list[Any] = []
        self.rows: dict[str, Any] = {}  # latest value per key (for compacted topics)
        # The board topic is read as its readers do: a worker's batch whole (projections.batches).
        self.gate = BatchGate() if topic.endswith("eoc.boards") else None

    def end_offsets(self) -> int:
        return sum(self.consumer.end_offsets(self.tps).values())

    def catch_up(self, timeout: float = 60.0) -> int:
        from consumers.kafka_codec import decode_row

        ends = self.consumer.end_offsets(self.tps)
        n = 0
        deadline = time.monotonic() + timeout
        while any(self.consumer.position(tp) < ends[tp] for tp in self.tps):
            assert time.monotonic() < deadline, f"could not read {self.topic} to its end"
            for batch in self.consumer.poll(timeout_ms=200, max_records=20_000).values():
                for record in batch:
                    self.records.append(record)
                    if self.fold_rows and record.key is not None:
                        row = decode_row(record.value) if record.value is not None else None
                        key = record.key.decode(errors="replace")
                        if self.gate is not None:
                            apply_changes(self.rows, self.gate.feed(record.partition, [(key, row)]))
                        elif row is None:
                            self.rows.pop(key, None)
                        else:
                            self.rows[key] = row
                    n += 1
        return n

    def close(self) -> None:
        self.consumer.close()


class Cluster:
    """Topics with a prefix of their own, and the cluster processes, for one test."""

    def __init__(self, bootstrap: str, pg_dsn: str, workdir: Path, **env: str) -> None:
        from eoc.main.cluster import ClusterSettings, ensure_topics

        self.bootstrap = bootstrap
        self.pg_dsn = pg_dsn
        self.workdir = workdir
        self.prefix = f"t{uuid.uuid4().hex[:10]}."
        self.env = cluster_env(bootstrap=bootstrap, pg_dsn=pg_dsn, prefix=self.prefix, **env)
        self.settings = ClusterSettings.from_env(self.env)
        self.layout = self.settings.layout
        ensure_topics(self.settings)
        self.processes: dict[str, Process] = {}
        self.readers: list[TopicReader] = []
        self._closing = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="cluster-supervisor", daemon=True)
        self._supervisor.start()

    def start(self, name: str, *args: str, supervised: bool | None = None, **env: str) -> Process:
        """Start (again) the process ``name``; a worker is supervised unless it is made to die
        (``EOC_WORKER_CRASH_AFTER``: the test waits for its death)."""
        if name not in self.processes:
            command = name.split("-")[0]
            if supervised is None:
                supervised = command == "worker" and "EOC_WORKER_CRASH_AFTER" not in env
            self.processes[name] = Process(name, [command, *args], {**self.env, **env}, self.workdir,
                                           supervised=supervised)
        return self.processes[name].start()

    def _supervise(self) -> None:
        while not self._closing.wait(0.5):
            for process in list(self.processes.values()):
                process.revive()

    def reader(self, topic: str, *, rows: bool = True) -> TopicReader:
        reader = TopicReader(self.bootstrap, topic, rows=rows)
        self.readers.append(reader)
        return reader

    def logs(self) -> str:
        return "\n".join(p.log_tail() for p in self.processes.values())

    def close(self) -> None:
        self._closing.set()
        self._supervisor.join(5)
        for process in self.processes.values():
            process.stop()
        for reader in self.readers:
            reader.close()
        if not os.environ.get("EOC_TEST_KEEP_TOPICS"):  # keep them to look into a failure
            self._delete_topics()

    def _delete_topics(self) -> None:
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="eoc-test-cleanup")
        try:
            mine = [t for t in admin.list_topics() if t.startswith(self.prefix)]
            if mine:
                admin.delete_topics(mine, raise_errors=False)
        except Exception:  # cleanup is best effort; the names are unique per run
            pass
        finally:
            admin.close()


def boards_converge(reader: TopicReader, expected: dict[str, Any], *, timeout: float, cluster: Cluster) -> None:
    """Wait until the board topic holds exactly ``expected``; fail with a diff and the logs."""
    try:
        wait_until(lambda: reader.catch_up() >= 0 and reader.rows == expected, timeout=timeout,
                   what="the board topic to equal the expected boards", every=0.5)
    except AssertionError:
        raise AssertionError(f"{diff(expected, reader.rows)}\n{cluster.logs()}") from None


# ---------------------------------------------------------------------- fixtures (imported by the tests)


@pytest.fixture
def cluster(kafka_bootstrap: str, fresh_pg_dsn: str, tmp_path: Path):
    """Fresh topics (a unique prefix) on the real broker, for a fresh PostgreSQL database."""
    c = Cluster(kafka_bootstrap, fresh_pg_dsn, tmp_path)
    yield c
    c.close()


@pytest.fixture
def clock():
    from tests.support.system import FakeClock

    return FakeClock()


@pytest.fixture
def embedded(fresh_pg_dsn: str, tmp_path: Path, clock: Any):
    """The embedded system on the cluster's PostgreSQL database: its command service writes
    the history, its follower folds it in-process."""
    from eoc.app.config import Settings
    from eoc.main.bootstrap import build

    settings = Settings.from_env({}, store="postgres", pg_dsn=fresh_pg_dsn, data_dir=tmp_path / "embedded",
                                 token_secret=b"test-key-3f9a1c7e5b2d8046aa17c93e51")
    system = build(settings, clock=clock, checkpoint=False)
    yield system
    system.close()


@pytest.fixture
def writer(fresh_pg_dsn: str, tmp_path: Path, clock: Any):
    """A command service on the cluster's PostgreSQL database, with no follower of its own."""
    from eoc.app.config import Settings
    from eoc.main.bootstrap import build

    settings = Settings.from_env({}, store="postgres", pg_dsn=fresh_pg_dsn, data_dir=tmp_path / "writer",
                                 token_secret=b"test-key-3f9a1c7e5b2d8046aa17c93e51")
    system = build(settings, clock=clock, checkpoint=False, start_follower=False)
    yield system
    system.close()
