"""Cluster mode: the bridge fed by a compacted board topic on the real Kafka broker.

The test writes the topic the way the relay and Faust workers do (key = row key, value =
JSON row, tombstone = gone), then checks that a dashboard gets the topic's newest state as
its snapshot and the later records as deltas, filtered for its role like in embedded mode.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from eoc.app.auth import TokenSigner
from events.sealing import new_key, seal, unseal
from projections.batches import batch_mark
from tests.support.bridge import Dashboard, board_topic
from ui_bridge.kafka_feed import KafkaBoardFeed
from ui_bridge.loop_thread import LoopThread
from ui_bridge.server import BridgeHandle, start_bridge

pytestmark = pytest.mark.kafka

SIGNER = TokenSigner(b"kafka-bridge-test-key-5e1c9a7b3d")
HOUSE_KEY = new_key()
HOUSE_AT = {"lat": 36.123456, "lon": 50.654321}


def team_row(team_id: str, province: str, status: str, name: str = "T") -> dict:
    return {"id": team_id, "name": name, "province": province, "county": "C", "status": status,
            "since": "2026-11-23T08:00:00.000Z"}


@pytest.fixture
def topic(kafka_bootstrap: str) -> Iterator[str]:
    with board_topic(kafka_bootstrap, 3, "bridge-test") as name:
        yield name


@pytest.fixture
def produce(kafka_bootstrap: str):
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")

    def send(topic: str, key: str, row: object | None, *, mark: bool = True) -> None:
        """One row as a worker publishes it: on its partition, then the batch's mark."""
        value = None if row is None else json.dumps(row).encode()
        producer.send(topic, key=key.encode(), value=value, partition=0)
        if mark:
            producer.send(topic, key=batch_mark(0).encode(), value=b"{}", partition=0)
        producer.flush()

    yield send
    producer.close()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


def start(loop_thread: LoopThread, bootstrap: str, topic: str) -> BridgeHandle:
    def unseal_place(centre_id: str, token: str):
        return unseal(HOUSE_KEY, token) if centre_id == "house-1" else None

    feed = KafkaBoardFeed(bootstrap, topic, wait_for_topic_s=30)
    return loop_thread.run(start_bridge(feed, SIGNER, unseal_place, host="127.0.0.1", port=0))


def test_snapshot_from_the_topic_then_deltas(kafka_bootstrap, topic, produce, loop_thread):
    produce(topic, "team/a", team_row("a", "QZV", "off_duty", "QZV-A"))
    produce(topic, "team/a", team_row("a", "QZV", "available", "QZV-A"))  # newest wins
    produce(topic, "team/gone", team_row("gone", "QZV", "available"))
    produce(topic, "team/gone", None)  # tombstone: not in the snapshot
    produce(topic, "team/alb", team_row("alb", "ALB", "available"))
    produce(topic, "drill/team/a", team_row("a", "QZV", "dispatched", "QZV-A"))
    handle = start(loop_thread, kafka_bootstrap, topic)
    try:
        qzv = Dashboard(handle, SIGNER.issue("dispatcher", "QZV"))
        snap = qzv.frame()
        assert snap["type"] == "snapshot"
        assert snap["rows"]["team/a"]["status"] == "available"
        assert snap["rows"]["drill/team/a"]["status"] == "dispatched"
        assert "team/gone" not in snap["rows"] and "team/alb" not in snap["rows"]

        produce(topic, "team/a", team_row("a", "QZV", "dispatched", "QZV-A"))
        qzv.until(lambda r: r["team/a"]["status"] == "dispatched")
        produce(topic, "drill/team/a", None)
        qzv.until(lambda r: "drill/team/a" not in r)
        produce(topic, "team/alb", team_row("alb", "ALB", "on_scene"))
        produce(topic, "team/b", team_row("b", "QZV", "available", "QZV-B"))
        qzv.until(lambda r: "team/b" in r)
        assert "team/alb" not in qzv.rows and all("ALB" not in raw for raw in qzv.raw)
    finally:
        loop_thread.run(handle.stop())


def test_secret_rows_from_the_topic_are_redacted_per_role(kafka_bootstrap, topic, produce, loop_thread):
    sealed = seal(HOUSE_KEY, HOUSE_AT)
    house = {"id": "house-1", "name": "Khaneh-Omid-Kafka", "kind": "safe_house", "province": "QZV",
             "county": "Qazvin", "capacity": 2, "occupied": 1, "secret": True, "location": None,
             "sealed_location": sealed, "open": True, "declined": 0, "admitted": 1,
             "clients": {"CL-KAFKA-1234": {"since": "2026-11-23T08:00:00.000Z", "holding_until": None}}}
    produce(topic, "centre/house-1", house)
    handle = start(loop_thread, kafka_bootstrap, topic)
    try:
        staff = Dashboard(handle, SIGNER.issue("centre_staff", "QZV"))
        nation = Dashboard(handle, SIGNER.issue("national_eoc", "IR"))
        assert staff.frame()["rows"]["centre/house-1"]["location"] == HOUSE_AT
        first = nation.frame()["rows"]  # the nation: secret places only as counts per province
        assert "centre/house-1" not in first and first["secret_places/QZV"]["suppressed"] is True
        produce(topic, "centre/house-1", {**house, "occupied": 2, "clients": {
            **house["clients"], "CL-KAFKA-5678": {"since": "2026-11-23T09:00:00.000Z", "holding_until": None}}})
        staff.until(lambda r: r["centre/house-1"]["occupied"] == 2)
        nation.until(lambda r: nation.deltas > 0)  # the count row of QZV was sent again, still suppressed
        assert "centre/house-1" not in nation.rows and nation.rows["secret_places/QZV"]["occupied"] is None
        nation_raw, staff_raw = "\n".join(nation.raw), "\n".join(staff.raw)
        for secret in ("36.123456", "Khaneh-Omid-Kafka", "CL-KAFKA-1234", "CL-KAFKA-5678", sealed):
            assert secret not in nation_raw
        for seen in ("36.123456", "Khaneh-Omid-Kafka", "CL-KAFKA-5678"):
            assert seen in staff_raw
        assert sealed not in staff_raw
    finally:
        loop_thread.run(handle.stop())


def test_eoc_bridge_runs_standalone_against_kafka(kafka_bootstrap, topic, produce, tmp_path):
    """The ``eoc bridge`` command: settings from the environment, page and socket on one port."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    from types import SimpleNamespace

    import httpx
    from websockets.exceptions import ConnectionClosed

    produce(topic, "team/a", team_row("a", "QZV", "available", "QZV-A"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "EOC_TOKEN_SECRET": "kafka-bridge-test-key-5e1c9a7b3d", "EOC_DATA_DIR": str(tmp_path),
           "EOC_KAFKA_BOOTSTRAP": kafka_bootstrap, "EOC_HOST": "127.0.0.1", "EOC_STORE": "sqlite",
           "EOC_TOPIC_PREFIX": topic.removesuffix("eoc.boards")}  # the topic comes from the layout
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from eoc.cli import main; sys.exit(main())",
                             "bridge", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "eoc bridge did not start listening"
                time.sleep(0.1)
        # A page needs a session, signed in at the API: the standalone bridge sends the browser
        # there (the API's port on this host, EOC_PORT), and serves the page's scripts itself.
        assert page.status_code == 302 and page.headers["location"] == "http://127.0.0.1:8123/"
        script = httpx.get(f"http://127.0.0.1:{port}/app.js", timeout=5)
        assert script.status_code == 200 and "WebSocket" in script.text
        dash = Dashboard(SimpleNamespace(port=port), SIGNER.issue("dispatcher", "QZV"))
        assert dash.frame()["rows"]["team/a"]["name"] == "QZV-A"
        produce(topic, "team/a", team_row("a", "QZV", "en_route", "QZV-A"))
        dash.until(lambda r: r["team/a"]["status"] == "en_route")
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                dash.frame()
        assert closed.value.rcvd.code == 1001
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
