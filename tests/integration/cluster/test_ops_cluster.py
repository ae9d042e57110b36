"""The cluster processes as an operator runs them: with Kafka out of reach each says so in one
line and keeps what does not need Kafka going (the API takes commands); when Kafka comes
back they go on by themselves; and each serves /metrics, /healthz and /readyz.

Kafka is never stopped here (it is shared): the processes are pointed at a ``Gate``, a port
on this machine that refuses connections until the test opens it, then forwards them to the
real broker. Clients bootstrap through it, so the processes see "Kafka down" and then
"Kafka back" exactly as after an outage of the bootstrap address.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from consumers.telemetry import kafka_down
from eoc.app.auth import TokenSigner
from events.envelope import iso
from tests.support import scenario
from tests.support.cluster import boards_converge, cluster_env, cluster_history, replay, wait_until
from tests.support.metrics import value
from tests.support.served import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SECRET = b"test-key-3f9a1c7e5b2d8046aa17c93e51"


class Gate:
    """A closed port that, once opened, forwards every connection to ``target``."""

    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        self.target = (host, int(port))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._server: socket.socket | None = None
        self._closed = threading.Event()

    def open(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self._server is not None
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._closed.set()
        if self._server is not None:
            self._server.close()


@pytest.fixture
def gate(kafka_bootstrap: str):
    g = Gate(kafka_bootstrap)
    yield g
    g.close()


def _eoc(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    eoc = Path(sys.executable).with_name("eoc")
    cmd = [str(eoc)] if eoc.exists() else [sys.executable, "-m", "eoc.cli"]
    return subprocess.run([*cmd, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=180)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _log(cluster, name: str) -> str:
    return (cluster.workdir / f"{name}.1.log").read_text(errors="replace")


def _kafka_lines(text: str) -> list[str]:
    """The log lines about Kafka being out of reach, whoever wrote them."""
    return [line for line in _lines(text) if "127.0.0.1" in line and ("down" in line or "ailed" in line
                                                                      or "rror" in line)]


def test_ops_fault_topics_with_kafka_down_is_one_line(tmp_path: Path, fresh_pg_dsn: str) -> None:
    closed = f"127.0.0.1:{free_port()}"
    env = cluster_env(bootstrap=closed, pg_dsn=fresh_pg_dsn, prefix="t-down.")
    done = _eoc("topics", env=env, cwd=tmp_path)
    output = _lines(done.stdout + done.stderr)
    assert done.returncode != 0
    assert len(output) == 1 and f"Kafka at {closed} is down" in output[0], output
    assert "Traceback" not in done.stderr


def test_ops_fault_api_takes_commands_with_kafka_down_and_reconnects(cluster, gate: Gate) -> None:
    port = free_port()
    api = cluster.start("api", EOC_KAFKA_BOOTSTRAP=gate.address, EOC_PORT=str(port), EOC_TELEMETRY_BUFFER="2")
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    token = TokenSigner(SECRET).issue("provincial_supervisor", "QZV", sub="ops-test")
    auth = {"Authorization": f"Bearer {token}"}

    def answering() -> bool:
        assert api.alive, cluster.logs()
        try:
            return http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answering, timeout=120, what="the API to answer with Kafka down")
    ready = http.get("/readyz")
    assert ready.status_code == 503 and "kafka" in ready.json()["checks"]
    assert ready.json()["checks"]["store"] == "ok"

    # Commands need only PostgreSQL.
    team = http.post("/api/v1/teams", json={**scenario.QZV, "name": "QZV-1", "home": scenario.IN_QAZVIN},
                     headers=auth)
    assert team.status_code == 201, team.text
    team_id = team.json()["team_id"]
    shift = http.post(f"/api/v1/teams/{team_id}/shift/start",
                      json={"shift": "morning", "members": ["staff-1", "staff-2"]}, headers=auth)
    assert shift.status_code == 200, shift.text
    # Position reports wait for Kafka, up to the buffer's bound; then a clear 503. The reports
    # are taken 40 s apart, so each is kept in the position track (at most one per 30 s).
    def report(seconds_ago: int) -> httpx.Response:
        at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
        return http.post(f"/api/v1/teams/{team_id}/position", headers=auth,
                         json={"position": scenario.IN_QAZVIN, "reported_at": iso(at)})

    for ago in (120, 80):
        held = report(ago)
        assert held.status_code == 202 and held.json()["kept"], held.text
    full = report(40)
    assert full.status_code == 503 and full.headers.get("Retry-After")
    assert full.json()["error"] == "dependency_unavailable" and "Kafka" in full.json()["reason"]
    metrics = http.get("/metrics").text
    assert value(metrics, "eoc_commands_total", kind="register_team", outcome="accepted") == 1
    assert value(metrics, "eoc_commands_total", kind="report_position", outcome="unavailable") == 1
    assert value(metrics, "eoc_telemetry_buffered") == 2
    assert value(metrics, "eoc_telemetry_reports_total", outcome="refused") == 1
    assert value(metrics, "eoc_dependency_up", dependency="kafka") == 0

    time.sleep(3)  # an outage of some seconds: still one line about it, not one per attempt
    down_lines = _kafka_lines(_log(cluster, "api"))
    assert 1 <= len(down_lines) <= 3, down_lines
    assert "Traceback" not in _log(cluster, "api")

    gate.open()  # Kafka is back: the held reports go out, the API is ready again
    wait_until(lambda: http.get("/readyz").status_code == 200, timeout=60, what="the API to see Kafka again")
    wait_until(lambda: value(http.get("/metrics").text, "eoc_telemetry_reports_total", outcome="published") == 2,
               timeout=60, what="the held position reports to be published")
    reader = cluster.reader(cluster.layout.positions_latest, rows=False)
    wait_until(lambda: reader.catch_up() >= 0 and len(reader.records) == 2, timeout=60,
               what="the two held reports on the positions topic")
    assert any("is back" in line for line in _lines(_log(cluster, "api"))), _log(cluster, "api")
    for line in _lines(_log(cluster, "api")):
        json.loads(line)  # structured logs: one JSON object a line


def test_ops_fault_relay_and_worker_wait_for_kafka_then_go_on(cluster, gate: Gate, writer, clock) -> None:
    history = cluster_history(writer.service, clock, seed=4242)
    history.setup()
    history.run(150)
    relay = cluster.start("relay", EOC_KAFKA_BOOTSTRAP=gate.address)
    worker = cluster.start("worker", EOC_KAFKA_BOOTSTRAP=gate.address)
    wait_until(lambda: _kafka_lines(_log(cluster, "relay")) and _kafka_lines(_log(cluster, "worker")),
               timeout=120, what="the relay and the worker to say that Kafka is down")
    time.sleep(5)  # still one line each after some seconds of outage
    for name in ("relay", "worker"):
        assert cluster.processes[name].alive, cluster.logs()
        assert len(_kafka_lines(_log(cluster, name))) == 1, _log(cluster, name)
    gate.open()
    boards = cluster.reader(cluster.layout.boards)
    boards_converge(boards, replay(writer.app), timeout=240, cluster=cluster)
    history.run(100)  # and they go on following
    boards_converge(boards, replay(writer.app), timeout=240, cluster=cluster)
    assert relay.alive and worker.alive
    for name in ("relay", "worker"):
        text = _log(cluster, name)
        assert "Traceback" not in text, text[-3000:]
        assert any("is back" in line for line in _lines(text)), text[-3000:]


def test_ops_metrics_cluster_processes(cluster, writer, clock) -> None:
    api_port, relay_port, worker_port, bridge_port = (free_port() for _ in range(4))
    cluster.start("relay", EOC_METRICS_PORT=str(relay_port))
    cluster.start("worker", EOC_WORKER_WEB_PORT=str(worker_port))
    cluster.start("api", EOC_PORT=str(api_port))
    cluster.start("bridge", "--port", str(bridge_port), "--no-page")
    urls = {"api": f"http://127.0.0.1:{api_port}", "relay": f"http://127.0.0.1:{relay_port}",
            "worker": f"http://127.0.0.1:{worker_port}", "bridge": f"http://127.0.0.1:{bridge_port}"}

    def scrape(name: str) -> str | None:
        try:
            answer = httpx.get(urls[name] + "/metrics", timeout=10)
        except httpx.TransportError:
            return None
        return answer.text if answer.status_code == 200 else None

    for name in urls:
        wait_until(lambda name=name: all(p.alive for p in cluster.processes.values()) and scrape(name),
                   timeout=180, what=f"the {name}'s /metrics ({cluster.logs()[-2000:]})")
        assert httpx.get(urls[name] + "/healthz", timeout=10).json()["status"] == "alive"
        wait_until(lambda name=name: httpx.get(urls[name] + "/readyz", timeout=10).status_code == 200,
                   timeout=120, what=f"the {name} to be ready")
    before = {name: scrape(name) or "" for name in urls}

    token = TokenSigner(SECRET).issue("provincial_supervisor", "QZV", sub="ops-test")
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=urls["api"], timeout=30) as http:
        team = http.post("/api/v1/teams", json={**scenario.QZV, "name": "QZV-1", "home": scenario.IN_QAZVIN},
                         headers=auth)
        assert team.status_code == 201, team.text
        team_id = team.json()["team_id"]
        assert http.post(f"/api/v1/teams/{team_id}/shift/start", headers=auth,
                         json={"shift": "morning", "members": ["s-1", "s-2"]}).status_code == 200
        assert http.post(f"/api/v1/teams/{team_id}/position", json={"position": scenario.IN_QAZVIN},
                         headers=auth).status_code == 202
    history = cluster_history(writer.service, clock, seed=77)
    history.setup()
    history.run(50)

    api = scrape("api") or ""
    assert value(api, "eoc_commands_total", kind="register_team", outcome="accepted") == 1
    assert value(api, "eoc_writer_batch_size_count") >= 2
    assert value(api, "eoc_dependency_up", dependency="kafka") == 1
    wait_until(lambda: value(scrape("api") or "", "eoc_telemetry_reports_total", outcome="published") == 1,
               timeout=60, what="the api's telemetry counter")
    wait_until(lambda: value(scrape("relay") or "", "eoc_relay_sent_total") > value(before["relay"], "eoc_relay_sent_total"),
               timeout=120, what="the relay's sent counter to move")
    wait_until(lambda: value(scrape("relay") or "", "eoc_relay_lag_events") == 0 and
               ("eoc_relay_lag_events" in (scrape("relay") or "")), timeout=120, what="the relay to catch up")
    wait_until(lambda: value(scrape("worker") or "", "eoc_worker_folded_total") > 0,
               timeout=180, what="the worker's folded counter to move")
    worker = scrape("worker") or ""
    assert "faust_" in worker, "Faust's own Prometheus sensor"
    assert ("eoc_dead_letters_total" in worker)
    wait_until(lambda: value(scrape("api") or "", "eoc_follower_lag_events", runner="workers") == 0,
               timeout=180, what="the boards topic to catch up with the store")
    bridge = scrape("bridge") or ""
    assert value(bridge, "eoc_bridge_clients") == 0 and "eoc_bridge_backlog_frames" in bridge
    assert value(bridge, "eoc_dependency_up", dependency="kafka") == 1
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{bridge_port}/?token={token}", open_timeout=30) as dashboard:
        assert json.loads(dashboard.recv(timeout=30))["type"] == "snapshot"
        wait_until(lambda: value(scrape("bridge") or "", "eoc_bridge_clients") == 1, timeout=30,
                   what="the bridge to count the open dashboard")


def _services(*args: str) -> None:
    done = subprocess.run([str(Path(__file__).resolve().parents[3] / "scripts" / "services"), *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"scripts/services {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


def test_ops_fault_relay_and_worker_ride_out_kafka_going_down_mid_run(cluster, writer, clock) -> None:
    """Not the bootstrap address but the broker itself goes, while the relay and the worker are
    connected and following: the store keeps taking commands, the processes stay up and say so
    in a few lines (not a traceback, not hundreds of errors), and when the broker is back the
    boards catch up with everything written meanwhile, nothing lost or counted twice."""
    history = cluster_history(writer.service, clock, seed=5150)
    history.setup()
    history.run(80)
    relay = cluster.start("relay")
    worker = cluster.start("worker")
    boards_converge(cluster.reader(cluster.layout.boards), replay(writer.app), timeout=240, cluster=cluster)
    _services("stop", "kafka")
    try:
        assert kafka_down(cluster.bootstrap) is not None, "the broker is down"
        history.run(80)  # the line goes on taking calls: the store does not need Kafka
        time.sleep(8)
        assert relay.alive and worker.alive, cluster.logs()
    finally:
        _services("start", "kafka")
    history.run(40)
    boards_converge(cluster.reader(cluster.layout.boards), replay(writer.app), timeout=300, cluster=cluster)
    assert relay.alive and worker.alive
    for name in ("relay", "worker"):
        text = _log(cluster, name)
        assert "Traceback" not in text, text[-3000:]
        assert len(_lines(text)) < 200, f"{name}: {len(_lines(text))} lines\n{text[-3000:]}"
