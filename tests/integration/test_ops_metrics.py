"""Operators see the system: /metrics (Prometheus), /healthz (alive), /readyz (its
dependencies answer) and JSON log lines, from the embedded system and each cluster process.
The named figures must move when commands are given."""

from __future__ import annotations

import json
import logging

import pytest

from eoc.app.metrics import JsonFormatter, LibraryTracebacks, Metrics, Repeats, health_answer
from tests.support import scenario
from tests.support.metrics import samples, value


def test_ops_metrics_embedded_move_after_commands(api) -> None:
    http = api.http
    before = http.get("/metrics")
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    b = before.text
    team = scenario.team(api)
    api.ok(f"/teams/{team}/position", {"position": scenario.IN_QAZVIN})
    refused = api.post("/teams", {**scenario.QZV, "name": "", "home": scenario.IN_QAZVIN})
    assert refused.status_code == 422
    assert api.system.follower.wait_for(api.system.app.recorder.max_notification_id(), timeout=30)
    after = http.get("/metrics").text

    assert value(after, "eoc_commands_total", kind="register_team", outcome="accepted") == \
        value(b, "eoc_commands_total", kind="register_team", outcome="accepted") + 1
    assert value(after, "eoc_commands_total", kind="register_team", outcome="refused") == 1
    assert value(after, "eoc_commands_total", kind="start_shift", outcome="accepted") == 1
    assert value(after, "eoc_commands_total", kind="report_position", outcome="accepted") == 1
    assert value(after, "eoc_writer_batch_size_count") >= value(b, "eoc_writer_batch_size_count") + 2
    assert value(after, "eoc_telemetry_reports_total", outcome="published") == 1
    assert ("eoc_follower_lag_events", (("runner", "embedded"),)) in samples(after)
    assert value(after, "eoc_writer_conflicts_total") == 0
    assert value(after, "eoc_dependency_up", dependency="store") == 1

    assert http.get("/healthz").json()["status"] == "alive"
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"store": "ok"}


def test_ops_metrics_readiness_names_the_dependency_that_is_down() -> None:
    metrics = Metrics("test")
    metrics.check("kafka", lambda: "127.0.0.1:1: Connection refused")
    metrics.check("store", lambda: None)
    status, body, _ = health_answer(metrics, "/readyz")  # type: ignore[misc]
    answer = json.loads(body)
    assert status == 503 and answer["checks"] == {"kafka": "127.0.0.1:1: Connection refused", "store": "ok"}
    assert health_answer(metrics, "/healthz")[0] == 200  # type: ignore[index]


def test_ops_logs_are_one_json_object_a_line_and_repeats_are_held_back() -> None:
    records = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(Repeats(every_s=60))
    handler.addFilter(LibraryTracebacks())
    logger, ours = logging.getLogger("kafka.test_ops"), logging.getLogger("eoc.test_ops")
    for each in (logger, ours):
        each.propagate = False
        each.addHandler(handler)
    try:
        for attempt in range(300):  # a client retrying while its broker is down
            logger.error("Bootstrap connection to %s failed (backoff %.2f secs)", "127.0.0.1:1", attempt / 100)
        try:
            raise ValueError("line one\nline two")
        except ValueError:
            ours.exception("with a traceback")  # our own code's: the traceback is kept, in the line
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError:
            logger.exception("Error receiving network data from %s", "broker 1")  # the client's own
    finally:
        for each in (logger, ours):
            each.removeHandler(handler)
    assert len(records) == 3
    for line in records:
        assert "\n" not in line
        entry = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(entry)
    assert json.loads(records[0])["level"] == "error"
    assert "line two" in json.loads(records[1])["exception"]
    client = json.loads(records[2])
    assert "exception" not in client and "Traceback" not in records[2]
    assert client["message"] == ("Error receiving network data from broker 1 "
                                 "(ConnectionResetError: [Errno 104] Connection reset by peer)")


def test_ops_grafana_dashboard_shows_every_metric_and_prometheus_scrapes_every_process() -> None:
    import re
    from pathlib import Path

    import eoc.app.metrics

    root = Path(__file__).resolve().parents[2]
    named = set(re.findall(r"^(eoc_[a-z_]+)", eoc.app.metrics.__doc__ or "", re.M))
    assert {"eoc_commands_total", "eoc_writer_batch_size", "eoc_writer_conflicts_total", "eoc_follower_lag_events",
            "eoc_relay_lag_events", "eoc_dead_letters_total", "eoc_bridge_clients", "eoc_bridge_backlog_frames",
            "eoc_telemetry_reports_total"} <= named
    dashboard = json.loads((root / "docs/grafana/dashboards/eoc.json").read_text(encoding="utf-8"))
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    for name in named:
        assert name in exprs, f"the dashboard does not show {name}"
    assert "faust_" in exprs  # the workers' own sensor too
    scrape = (root / "docs/prometheus.yml").read_text(encoding="utf-8")
    compose = (root / "docker-compose.yml").read_text(encoding="utf-8")
    for target in ("api:8123", "relay:9100", "worker-1:6066", "worker-2:6066", "bridge:8124"):
        assert target in scrape
    assert "EOC_METRICS_PORT: 9100" in compose and "EOC_WORKER_WEB_PORT: 6066" in compose
    for service in ("\n  prometheus:\n", "\n  grafana:\n"):
        assert service in compose
    assert "./docs/prometheus.yml:/etc/prometheus/prometheus.yml" in compose
    assert "./docs/grafana/provisioning:/etc/grafana/provisioning" in compose
    caddy = (root / "docs/Caddyfile").read_text(encoding="utf-8")
    assert caddy.count("@inside path /metrics /readyz") == 2  # the figures stay inside the compose network
    assert "reverse_proxy grafana:3000" in caddy
    datasource = (root / "docs/grafana/provisioning/datasources/prometheus.yml").read_text(encoding="utf-8")
    assert "uid: eoc-prometheus" in datasource and "http://prometheus:9090" in datasource


# ---------------------------------------------------------------------- telemetry through an outage


class _FakeProducer:
    """Records what is sent; raises as a producer does when Kafka stops answering."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.broken = False

    def send(self, topic: str, **_: object):
        from kafka.errors import KafkaTimeoutError

        if self.broken:
            raise KafkaTimeoutError("Failed to update metadata after 5.0 secs.")
        self.sent.append(topic)

        class Future:
            def add_errback(self, _fn: object) -> None:
                pass

        return Future()

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass


def _position(n: int):
    from datetime import UTC, datetime
    from uuid import uuid4

    from events.envelope import Envelope, iso

    now = iso(datetime.now(UTC))
    return Envelope(type="TeamPositionReported", version=1, id=str(uuid4()), aggregate_id=f"team-{n}",
                    aggregate_version=2, occurred_at=now, recorded_at=now, province="QZV", county="Qazvin",
                    actor={"role": "team", "user": "tablet"}, exercise=False,
                    payload={"position": {"lat": 36.2, "lon": 50.0}, "speed_kmh": 0.0, "heading": 0.0})


def test_ops_telemetry_waits_for_kafka_within_a_bound_and_goes_out_when_it_is_back() -> None:
    import socket

    from consumers.telemetry import Backpressure, TelemetryPublisher
    from consumers.topics import Layout
    from tests.support.cluster import wait_until
    from tests.support.served import free_port

    port = free_port()
    producers: list[_FakeProducer] = []

    def make() -> _FakeProducer:
        producers.append(_FakeProducer())
        return producers[-1]

    layout = Layout(prefix="t.")
    publisher = TelemetryPublisher(f"127.0.0.1:{port}", layout, buffer=2, retry_s=0.1,
                                   make_producer=make)  # type: ignore[arg-type]
    listener = socket.socket()
    try:
        publisher.publish(_position(1))
        publisher.publish(_position(2))
        with pytest.raises(Backpressure, match="Kafka"):
            publisher.publish(_position(3))
        assert publisher.counts() == {"published": 0, "held": 2, "refused": 1, "failed": 0, "shown": 0, "dropped": 0}
        wait_until(lambda: publisher.down, timeout=30, what="the publisher to see Kafka down")
        assert "127.0.0.1" in str(publisher.down)
        # Kafka comes back: the held reports go out, in order, and new ones go straight on.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(8)
        wait_until(lambda: publisher.published == 2, timeout=30, what="the held reports to go out")
        assert publisher.down is None and publisher.buffered == 0
        assert producers[0].sent == [layout.telemetry, layout.positions_latest] * 2
        publisher.publish(_position(4))
        assert publisher.published == 3
        # Kafka goes away in the middle: the producer gives up, the report waits, then goes out
        # with a new producer once Kafka answers again.
        producers[0].broken = True
        publisher.publish(_position(5))
        assert publisher.buffered == 1 and publisher.down
        wait_until(lambda: publisher.published == 4 and len(producers) == 2, timeout=30,
                        what="the report held in the middle of an outage to go out")
    finally:
        listener.close()
        publisher.close()
