"""Audit holds in cluster mode too (issue 14): `eoc diff --live` against a cluster API under
live traffic exits 0 every time (per-province positions, the board topic read untorn, the
position track replayed with the log); `eoc verify` finds the checkpoints the cluster's signer
(`eoc checkpoint --follow`) made, and fails loudly on a deployment that signs none. (A missed
check-in raising its alert in cluster mode: tests/integration/cluster/test_cluster_watchdog.py.)"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from consumers.telemetry import TelemetryPublisher
from eoc.cli import main
from tests.support.cluster import cluster_history, wait_until
from tests.support.served import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

SECRET = "test-key-3f9a1c7e5b2d8046aa17c93e51"


def _cli_env(monkeypatch: pytest.MonkeyPatch, cluster: Any, tmp_path: Path, **extra: str) -> None:
    """The auditor's shell: the cluster's PostgreSQL and Kafka, a data directory of its own."""
    for key, value in {"EOC_STORE": "postgres", "EOC_PG_DSN": cluster.pg_dsn, "EOC_KAFKA_BOOTSTRAP": cluster.bootstrap,
                       "EOC_TOPIC_PREFIX": cluster.prefix, "EOC_TOKEN_SECRET": SECRET,
                       "EOC_DATA_DIR": str(tmp_path / "auditor"), **extra}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("EOC_USERS_DSN", raising=False)


def test_diff_live_is_equal_every_time_under_cluster_traffic(cluster: Any, writer: Any, clock: Any, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # Position reports take the cluster's path: the track in PostgreSQL, then eoc.telemetry.positions.
    publisher = TelemetryPublisher(cluster.bootstrap, cluster.layout)
    track = writer.follower.track

    def cluster_path(kept: list[Any], shown: list[Any]) -> None:  # as eoc.main.cluster.build_api sends them
        if kept:
            publisher.publish_many(track.append_many(kept))
        if shown:
            publisher.publish_shown(shown)

    writer.service.telemetry_many = cluster_path
    port = free_port()
    cluster.start("relay")
    cluster.start("worker")
    cluster.start("api", "--port", str(port))
    history = cluster_history(writer.service, clock, seed=1414, telemetry=True)
    history.setup()
    done = threading.Event()
    failed: list[BaseException] = []

    def traffic() -> None:
        try:
            while not done.is_set():
                history.run(20)
                publisher.flush(5)
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            failed.append(exc)

    _cli_env(monkeypatch, cluster, tmp_path)
    url = f"http://127.0.0.1:{port}"
    import httpx

    def boards_up() -> bool:
        try:
            r = httpx.get(url + "/api/v1/boards", headers={"Authorization": "Bearer " + writer.signer.issue("auditor", "IR")})
            return r.status_code == 200 and r.json()["as_of"]["position"] > 0
        except httpx.HTTPError:
            return False

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        wait_until(boards_up, timeout=120, what="the cluster API's boards")
        results = []
        for _ in range(5):
            code = main(["diff", "--quiet", "--live", url, "--with-telemetry"])
            results.append((code, capsys.readouterr().out))
            time.sleep(1)
        # The same with the history read from eoc.events (the track from PostgreSQL).
        code = main(["diff", "--quiet", "--from", "kafka", "--live", url, "--with-telemetry"])
        results.append((code, capsys.readouterr().out))
    finally:
        done.set()
        worker.join(60)
        publisher.close()
    assert not failed, failed
    assert [code for code, _ in results] == [0] * 6, "\n".join(out for _, out in results) + cluster.logs()
    positions = [int(out.split("to position ")[1].split(" ")[0]) for _, out in results[:5]]
    assert len(set(positions)) >= 2  # the boards moved between the runs: live traffic
    assert track.size()["points"] > 0 and all(p.alive for p in cluster.processes.values()), cluster.logs()


def test_verify_finds_the_clusters_signed_checkpoints_and_fails_loudly_without(
        cluster: Any, writer: Any, clock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "audit_ed25519.pem"
    _cli_env(monkeypatch, cluster, tmp_path, EOC_AUDIT_KEY=str(key))
    history = cluster_history(writer.service, clock, seed=7)
    history.setup()
    history.run(300)
    # A deployment that signs nothing: verify fails, and says why.
    assert main(["verify", "--quiet"]) == 1
    assert "NO SIGNED CHECKPOINT" in capsys.readouterr().err
    # The cluster's signer, as docker-compose.yml runs it beside the relay.
    cluster.start("relay")
    cluster.start("checkpoint", "--follow", "--publish", "table,kafka", "--every-events", "100",
                  "--every-seconds", "1", EOC_AUDIT_KEY=str(key))
    head = writer.app.recorder.max_notification_id()

    def signed_to_head() -> bool:
        from eoc.audit.checkpoints import PostgresCheckpointLog

        log = PostgresCheckpointLog(cluster.pg_dsn)
        try:
            return any(c["position"] >= head for c in log.load())
        finally:
            log.close()

    wait_until(signed_to_head, timeout=120, what="a signed checkpoint of the whole log")
    history.run(200)  # more traffic: signed again within a second
    head = writer.app.recorder.max_notification_id()
    wait_until(signed_to_head, timeout=120, what="a checkpoint of the new head")
    capsys.readouterr()
    assert main(["verify", "--quiet"]) == 0
    out = capsys.readouterr().out
    signed = int(out.split(" signed checkpoints")[0].rsplit(", ", 1)[1])
    assert signed >= 2 and "OK: every link and checkpoint holds." in out
    # The same from the topics: the relay's eoc.events against the checkpoints on Kafka.
    wait_until(lambda: main(["verify", "--quiet", "--from", "kafka", "--checkpoints", "kafka"]) == 0,
               timeout=120, what="verify from Kafka", every=2)
    assert all(p.alive for p in cluster.processes.values()), cluster.logs()
