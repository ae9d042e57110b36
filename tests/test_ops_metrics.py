"""Operators see the system: /metrics (Prometheus), /healthz (alive), /readyz (its
dependencies answer) and JSON log lines, from the embedded system and each cluster process.
The named figures must move when commands are given."""

from __future__ import annotations

import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from eoc.metrics import JsonFormatter, Metrics, Repeats, health_answer
from tests import scenario


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


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
    logger = logging.getLogger("kafka.test_ops")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for attempt in range(300):  # a client retrying while its broker is down
            logger.error("Bootstrap connection to %s failed (backoff %.2f secs)", "127.0.0.1:1", attempt / 100)
        try:
            raise ValueError("line one\nline two")
        except ValueError:
            logging.getLogger("kafka.test_ops").exception("with a traceback")
    finally:
        logger.removeHandler(handler)
    assert len(records) == 2
    for line in records:
        assert "\n" not in line
        entry = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(entry)
    assert json.loads(records[0])["level"] == "error"
    assert "line two" in json.loads(records[1])["exception"]


def test_ops_grafana_dashboard_shows_every_metric_and_prometheus_scrapes_every_process() -> None:
    import re
    from pathlib import Path

    import eoc.metrics

    root = Path(__file__).resolve().parents[1]
    named = set(re.findall(r"^(eoc_[a-z_]+)", eoc.metrics.__doc__ or "", re.M))
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
