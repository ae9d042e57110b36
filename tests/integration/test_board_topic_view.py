"""The cluster API's view of the boards (``consumers.board_topic.BoardTopicView``) on the real
broker: the compacted topic read from its beginning, then followed; a worker's batch shown whole
or not at all; the highest folded log position; listeners told each whole batch; a prompt stop.

The topic is written as the Faust workers write it (key = row key, value = JSON row, tombstone
= gone, then the batch's mark on the same partition).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from consumers.board_topic import BoardTopicView, read_boards
from projections.batches import batch_mark
from tests.support.bridge import board_topic

pytestmark = pytest.mark.kafka


@pytest.fixture
def topic(kafka_bootstrap: str) -> Iterator[str]:
    with board_topic(kafka_bootstrap, 2, "board-view-test") as name:
        yield name


@pytest.fixture
def produce(kafka_bootstrap: str) -> Iterator[Callable[..., None]]:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")

    def send(topic: str, partition: int, rows: dict[str, Any], *, mark: bool = True) -> None:
        """Rows (None: a tombstone) on one partition, then the batch's mark unless told not to."""
        for key, row in rows.items():
            value = None if row is None else json.dumps(row).encode()
            producer.send(topic, key=key.encode(), value=value, partition=partition)
        if mark:
            producer.send(topic, key=batch_mark(partition).encode(), value=b"{}", partition=partition)
        producer.flush()

    yield send
    producer.close()


def until(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def team(team_id: str, status: str) -> dict[str, Any]:
    return {"id": team_id, "name": f"QZV-{team_id}", "province": "QZV", "status": status}


def test_the_view_reads_the_topic_then_follows_it_a_whole_batch_at_a_time(kafka_bootstrap, topic, produce):
    produce(topic, 0, {"team/a": team("a", "off_duty"), "applied/QZV": 7})
    produce(topic, 0, {"team/a": team("a", "available")})  # the newest value wins
    produce(topic, 1, {"team/gone": team("gone", "available")})
    produce(topic, 1, {"team/gone": None, "applied/ALB": 4})  # a tombstone: not on the board
    produce(topic, 1, {"team/half": team("half", "available")}, mark=False)  # its batch has not ended

    view = BoardTopicView(kafka_bootstrap, topic)
    told: list[tuple[int, dict[str, Any]]] = []
    view.listeners.append(lambda sequence, changes: told.append((sequence, dict(changes))))
    view.start()
    try:
        until(lambda: "applied/ALB" in view.snapshot()[1], "the view to read the topic to its end")
        _, rows = view.snapshot()
        assert rows["team/a"]["status"] == "available"
        assert "team/gone" not in rows
        assert "team/half" not in rows, "half a batch is never shown"
        assert not any(key.startswith("~") for key in rows), "batch marks are not rows"
        assert view.position == 7  # the highest applied position over the provinces

        seen = view.sequence
        produce(topic, 1, {"applied/ALB": 9})  # the half batch ends with this mark
        until(lambda: view.position == 9, "the view to follow the topic")
        sequence, rows = view.snapshot()
        assert sequence > seen
        assert rows["team/half"]["status"] == "available" and rows["applied/ALB"] == 9
        assert any("team/half" in changes and changes["applied/ALB"] == 9 for _, changes in told), told

        produce(topic, 0, {"team/a": None})
        until(lambda: "team/a" not in view.snapshot()[1], "a tombstone to delete the row")
        assert told[-1][1] == {"team/a": None}, "listeners are told a deleted row as None"
        assert [s for s, _ in told] == sorted({s for s, _ in told}), "each batch told once, in order"
        assert view.snapshot()[1] == read_boards(kafka_bootstrap, topic), "the view equals a fresh read"
    finally:
        started = time.monotonic()
        view.stop()
        stopped = time.monotonic() - started
    assert view._thread is not None and not view._thread.is_alive()
    assert stopped < 3.0, f"stop took {stopped:.1f} s"
    assert not any(t.name == "eoc-board-topic" and t.is_alive() for t in threading.enumerate())


def test_the_view_waits_for_an_absent_broker_and_says_so_once(caplog):
    view = BoardTopicView("127.0.0.1:9", "nowhere.eoc.boards")  # port 9: nothing listens
    with caplog.at_level("INFO", logger="consumers.board_topic"):
        view.start()
        time.sleep(2.5)
        view.stop()
    assert view._thread is not None and not view._thread.is_alive()
    lines = [r.getMessage() for r in caplog.records if r.name == "consumers.board_topic"]
    assert len(lines) == 1 and "cannot read nowhere.eoc.boards" in lines[0], lines
    assert view.snapshot() == (0, {})
