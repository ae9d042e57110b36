"""The websocket bridge on a loop thread and a test dashboard that reads its frames."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from ui_bridge.loop_thread import LoopThread
from ui_bridge.server import BridgeHandle, start_embedded_bridge

ALB = {"province": "ALB", "county": "Karaj"}
IN_KARAJ = {"lat": 35.84, "lon": 50.94}


@contextlib.contextmanager
def board_topic(bootstrap: str, partitions: int, client_id: str) -> Iterator[str]:
    """A compacted board topic of its own on the real broker, named as a deployment's prefix
    then the topic; deleted afterwards."""
    from kafka.admin import KafkaAdminClient, NewTopic

    name = f"test-{uuid.uuid4().hex[:8]}.eoc.boards"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id)
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                  topic_configs={"cleanup.policy": "compact"})])
    try:
        yield name
    finally:
        admin.delete_topics([name])
        admin.close()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


@pytest.fixture
def bridge(system, loop_thread) -> Iterator[Callable[..., BridgeHandle]]:
    handles: list[BridgeHandle] = []

    def start(**options: Any) -> BridgeHandle:
        handle = loop_thread.run(start_embedded_bridge(system, host="127.0.0.1", port=options.pop("port", 0),
                                                       **options))
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        loop_thread.run(handle.stop())


class Dashboard:
    """A test dashboard: keeps the raw frames and applies them as the page does, checking order."""

    def __init__(self, handle: BridgeHandle, token: str | None, *, in_query: bool = True) -> None:
        url = f"ws://127.0.0.1:{handle.port}/" + (f"?token={token}" if token and in_query else "")
        self.ws: ClientConnection = connect(url, open_timeout=5, max_size=None, legacy=True)
        if token and not in_query:
            self.ws.send(json.dumps({"token": token}))
        self.raw: list[str] = []
        self.rows: dict[str, Any] = {}
        self.seq = -1
        self.snapshots = 0
        self.deltas = 0

    def frame(self, timeout: float = 5.0) -> dict[str, Any]:
        raw = self.ws.recv(timeout=timeout)
        assert isinstance(raw, str), "frames are JSON text"
        self.raw.append(raw)
        frame = json.loads(raw)
        if frame["type"] == "snapshot":
            self.rows, self.seq = dict(frame["rows"]), frame["seq"]
            self.snapshots += 1
        elif frame["type"] == "delta":
            assert frame["prev"] == self.seq, f"gap: prev {frame['prev']} after {self.seq}"
            assert frame["seq"] > self.seq
            self.seq = frame["seq"]
            self.deltas += 1
            for key, row in frame["changes"].items():
                if row is None:
                    self.rows.pop(key, None)
                else:
                    self.rows[key] = row
        return frame

    def until(self, done: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        """Read frames until ``done(rows)``; fails after ``timeout`` without it."""
        deadline = time.monotonic() + timeout
        while not done(self.rows):
            left = deadline - time.monotonic()
            assert left > 0, f"not seen within {timeout}s; rows: {sorted(self.rows)[:20]}"
            try:
                self.frame(timeout=left)
            except TimeoutError:
                continue
        return self.rows

    def close(self) -> None:
        self.ws.close()
