"""What the cluster tests share (no tests here): a seeded random history of commands, the
cluster processes as real subprocesses (``eoc relay``, ``eoc worker``), and reading back.

A history drives the CommandService on PostgreSQL with a random mix of what a province does
in a day — calls received, classified, counselled, referred, escalated; incidents opened and
closed; teams on and off shift, dispatched, moving through their statuses, checking in;
centres admitting, declining, transferring and discharging clients — with drills (exercise
commands) among them, and optionally position reports. Commands that the rules refuse are
part of the mix (they store nothing, except a declined admission, which is recorded).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.procs import eoc_command, stop_session
from eoc.app import commands as c
from eoc.app.auth import Claims
from eoc.domain import to_envelope
from eoc.domain.errors import Refused
from events.places import PROVINCES
from events.vocabulary import (
    TEAM_TRANSITIONS,
    CallCategory,
    CentreKind,
    DischargeReason,
    IncidentOutcome,
    Priority,
    ReferralRoute,
    Role,
    TeamStatus,
)
from projections import Board, fold, undecodable
from projections.batches import BatchGate, apply_changes

ROOT = Path(__file__).resolve().parents[2]
# Provinces in four of the eight partitions (QZV and THR share one), so partitioning matters.
PROVINCES_UNDER_TEST = ("QZV", "THR", "ESF", "ALB", "KSH")


def supervisor(province: str) -> Claims:
    return Claims(sub=f"sup-{province}", role=Role.PROVINCIAL_SUPERVISOR, province=province, exp=2**40)


def near(province: str, rnd: random.Random) -> dict[str, float]:
    p = PROVINCES[province]
    return {"lat": round(p.lat + rnd.uniform(-0.2, 0.2), 5), "lon": round(p.lon + rnd.uniform(-0.2, 0.2), 5)}


@dataclass
class History:
    """A seeded random stream of commands against one CommandService."""

    service: Any
    clock: Any  # tests.conftest.FakeClock
    seed: int = 1403
    provinces: tuple[str, ...] = PROVINCES_UNDER_TEST
    drill_share: float = 0.15
    telemetry: bool = False
    rnd: random.Random = field(init=False)
    calls: dict[str, list[str]] = field(default_factory=dict)  # received, not yet classified
    classified: dict[str, list[str]] = field(default_factory=dict)
    incidents: dict[str, list[str]] = field(default_factory=dict)
    teams: dict[str, list[str]] = field(default_factory=dict)
    centres: dict[str, list[str]] = field(default_factory=dict)
    clients: dict[str, list[str]] = field(default_factory=dict)  # centre id -> clients staying
    status: dict[str, str] = field(default_factory=dict)  # team id -> status, as the service said
    accepted: int = 0
    refused: int = 0
    reports: int = 0

    def __post_init__(self) -> None:
        self.rnd = random.Random(self.seed)
        for p in self.provinces:
            for bucket in (self.calls, self.classified, self.incidents, self.teams, self.centres):
                bucket[p] = []

    def setup(self) -> None:
        """Every province starts with teams on shift and centres."""
        for p in self.provinces:
            for _ in range(3):
                self._do(self._register_team, p)
            for kind in (CentreKind.RESIDENTIAL_LEVEL_1, CentreKind.SAFE_HOUSE, CentreKind.OUTPATIENT):
                self._do(lambda p, kind=kind: self._register_centre(p, kind), p)
            for team in self.teams[p]:
                self._do(lambda p, team=team: self._team(team, self.service.start_shift(
                    uuid.UUID(team), c.StartShift(shift="morning", members=["a", "b"]), supervisor(p))), p)

    def _team(self, team: str, result: dict[str, Any]) -> None:
        self.status[team] = result["status"]

    def run(self, commands: int, *, on_step: Callable[[int], None] | None = None) -> None:
        for i in range(commands):
            self.step()
            if on_step is not None:
                on_step(i)

    def step(self) -> None:
        p = self.rnd.choice(self.provinces)
        action = self.rnd.choices(self.ACTIONS, weights=self.WEIGHTS)[0]
        self._do(lambda p: action(self, p), p)

    def _do(self, fn: Callable[[str], Any], p: str) -> None:
        # Strictly increasing time: equal moments would make "latest position wins" depend
        # on the order two runners happen to see a report and a status change.
        self.clock.advance(milliseconds=self.rnd.randint(1, 90_000))
        try:
            fn(p)
            self.accepted += 1
        except Refused:
            self.refused += 1

    def _drill(self) -> bool:
        return self.rnd.random() < self.drill_share

    def _pick(self, items: list[str]) -> str:
        if not items:
            raise Refused("nothing to act on")
        return self.rnd.choice(items)

    # ------------------------------------------------------------------ the actions

    def _register_team(self, p: str) -> None:
        r = self.service.register_team(c.RegisterTeam(province=p, county=PROVINCES[p].capital, name=f"{p}-{len(self.teams[p])}",
                                                      home=near(p, self.rnd)), supervisor(p))
        self.teams[p].append(r["team_id"])

    def _register_centre(self, p: str, kind: str) -> None:
        r = self.service.register_centre(c.RegisterCentre(province=p, county=PROVINCES[p].capital, name=f"{kind} {p}", kind=kind,
                                                          capacity=self.rnd.randint(1, 4),
                                                          location=near(p, self.rnd)), supervisor(p))
        self.centres[p].append(r["centre_id"])

    def receive(self, p: str) -> None:
        r = self.service.receive_call(c.ReceiveCall(province=p, county=PROVINCES[p].capital, exercise=self._drill(),
                                                    received_at=self.clock.now - timedelta(seconds=30)),
                                      supervisor(p))
        self.calls[p].append(r["call_id"])

    def classify(self, p: str) -> None:
        call = self._pick(self.calls[p])
        self.service.classify_call(uuid.UUID(call), c.ClassifyCall(
            category=self.rnd.choice(list(CallCategory)), priority=self.rnd.choice(list(Priority))), supervisor(p))
        self.calls[p].remove(call)
        self.classified[p].append(call)

    def counsel(self, p: str) -> None:
        self.service.counsel_call(uuid.UUID(self._pick(self.classified[p])),
                                  c.CounselCall(services=["counselling"], duration_s=self.rnd.randint(60, 900)),
                                  supervisor(p))

    def refer(self, p: str) -> None:
        self.service.refer_call(uuid.UUID(self._pick(self.classified[p])),
                                c.ReferCall(target="outside_agency", agency="police"), supervisor(p))

    def escalate(self, p: str) -> None:
        call = self._pick(self.classified[p])
        r = self.service.escalate_call(uuid.UUID(call), c.EscalateCall(location=near(p, self.rnd)), supervisor(p))
        self.classified[p].remove(call)
        self.incidents[p].append(r["incident_id"])

    def open_incident(self, p: str) -> None:
        r = self.service.open_incident(c.OpenIncident(
            province=p, county=PROVINCES[p].capital, route=self.rnd.choice(list(ReferralRoute)),
            category=self.rnd.choice(list(CallCategory)), priority=self.rnd.choice(list(Priority)),
            location=near(p, self.rnd), exercise=self._drill()), supervisor(p))
        self.incidents[p].append(r["incident_id"])

    def close_incident(self, p: str) -> None:
        incident = self._pick(self.incidents[p])
        self.service.close_incident(uuid.UUID(incident),
                                    c.CloseIncident(outcome=self.rnd.choice(list(IncidentOutcome))), supervisor(p))
        self.incidents[p].remove(incident)

    def dispatch(self, p: str) -> None:
        team = self._pick([t for t in self.teams[p] if self.status.get(t) == "available"] or self.teams[p])
        self._team(team, self.service.dispatch_team(uuid.UUID(team), c.DispatchTeam(
            incident_id=self._pick(self.incidents[p])), supervisor(p)))

    def move(self, p: str) -> None:
        team = self._pick([t for t in self.teams[p] if self.status.get(t) not in ("available", "off_duty")]
                          or self.teams[p])
        # Mostly the next legal status; sometimes an illegal one (refused, stores nothing).
        status = self.rnd.choice(sorted(TEAM_TRANSITIONS.get(TeamStatus(self.status.get(team, "available")), ()))
                                 or ["en_route"]) if self.rnd.random() < 0.9 else "on_scene"
        position = near(p, self.rnd) if self.rnd.random() < 0.5 else None
        self._team(team, self.service.change_team_status(uuid.UUID(team), c.ChangeTeamStatus(
            status=status, position=position), supervisor(p)))

    def shift(self, p: str) -> None:
        team = self._pick(self.teams[p])
        if self.status.get(team) == "off_duty":
            self._team(team, self.service.start_shift(uuid.UUID(team), c.StartShift(shift="evening", members=["c"]),
                                                      supervisor(p)))
        else:
            self._team(team, self.service.end_shift(uuid.UUID(team), c.EndShift(), supervisor(p)))

    def check_in(self, p: str) -> None:
        team = uuid.UUID(self._pick(self.teams[p]))
        if self.rnd.random() < 0.8:
            self.service.check_in(team, c.CheckIn(position=near(p, self.rnd)), supervisor(p))
        else:
            self.service.record_missed_check_in(team, c.RecordMissedCheckIn(due_at=self.clock.now), supervisor(p))

    def report(self, p: str) -> None:
        if not self.telemetry:
            raise Refused("no telemetry in this history")
        self.service.report_position(uuid.UUID(self._pick(self.teams[p])),
                                     c.ReportPosition(position=near(p, self.rnd), speed_kmh=40.0,
                                                      heading=90.0), supervisor(p))
        self.reports += 1

    def admit(self, p: str) -> None:
        centre = self._pick(self.centres[p])
        # A full centre refuses (OverCapacity) after recording the declined admission.
        r = self.service.admit_client(uuid.UUID(centre), c.AdmitClient(
            route=self.rnd.choice(list(ReferralRoute)), exercise=self._drill()), supervisor(p))
        self.clients.setdefault(centre, []).append(r["client_id"])

    def discharge(self, p: str) -> None:
        centre = self._pick([k for k in self.centres[p] if self.clients.get(k)])
        client = self.clients[centre].pop(self.rnd.randrange(len(self.clients[centre])))
        self.service.discharge_client(uuid.UUID(centre), c.DischargeClient(
            client_id=client, reason=self.rnd.choice(list(DischargeReason))), supervisor(p))

    def transfer(self, p: str) -> None:
        source = self._pick([k for k in self.centres[p] if self.clients.get(k)])
        dest = self._pick([k for k in self.centres[p] if k != source])
        client = self.rnd.choice(self.clients[source])
        self.service.transfer_client(uuid.UUID(source), c.TransferClient(client_id=client, to_centre_id=dest),
                                     supervisor(p))
        self.clients[source].remove(client)
        self.clients.setdefault(dest, []).append(client)

    def capacity(self, p: str) -> None:
        self.service.change_capacity(uuid.UUID(self._pick(self.centres[p])),
                                     c.ChangeCapacity(capacity=self.rnd.randint(1, 6)), supervisor(p))

    ACTIONS = (receive, classify, counsel, refer, escalate, open_incident, close_incident, dispatch, move,
               shift, check_in, report, admit, discharge, transfer, capacity)
    WEIGHTS = (14, 12, 4, 3, 5, 2, 4, 8, 12, 2, 4, 10, 5, 3, 1, 1)


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
