"""A worker's batch of board rows is shown whole or not at all (projections.batches): the
cluster's readers of eoc.boards (the API's view, the bridge, the exchange feed) never show
half a batch, which no replay makes."""

from __future__ import annotations

from projections.batches import BatchGate, apply_changes, batch_mark, is_mark


def test_rows_are_held_until_their_batch_mark_then_released_together():
    gate = BatchGate()
    assert gate.feed(0, [("team/a", {"status": "dispatched"}), ("as-of/QZV", {"position": 9})]) == {}
    assert gate.held == 2
    released = gate.feed(0, [("applied/QZV", 9), (batch_mark(0), {"rows": 3})])
    assert released == {"team/a": {"status": "dispatched"}, "as-of/QZV": {"position": 9}, "applied/QZV": 9}
    assert gate.held == 0 and not any(is_mark(k) for k in released)


def test_partitions_are_gated_apart():
    gate = BatchGate()
    gate.feed(0, [("team/a", 1)])
    assert gate.feed(1, [("team/b", 2), (batch_mark(1), {})]) == {"team/b": 2}  # 0's batch is not done
    assert gate.held == 1
    assert gate.feed(0, [(batch_mark(0), {})]) == {"team/a": 1}


def test_several_batches_in_one_read_keep_the_latest_value_and_deletions():
    gate = BatchGate()
    rows = {"incident/x": {"state": "open"}, "team/a": 0}
    changes = gate.feed(0, [("team/a", 1), (batch_mark(0), {}), ("team/a", 2), ("incident/x", None),
                            (batch_mark(0), {}), ("team/a", 3)])  # the third batch is cut short
    assert changes == {"team/a": 2, "incident/x": None}
    apply_changes(rows, changes)
    assert rows == {"team/a": 2}
    assert gate.held == 1


def test_a_mark_alone_releases_nothing():
    assert BatchGate().feed(3, [(batch_mark(3), {"rows": 0})]) == {}
