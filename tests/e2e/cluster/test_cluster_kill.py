"""kill -9 of the relay, and separately of a Faust worker, in the middle of a stream of
several thousand events: after each restart the boards on eoc.boards (the latest value of
every row) equal a replay of the event store from scratch — nothing lost, nothing counted
twice. The processes are the real ``eoc relay`` and ``eoc worker``, killed with SIGKILL."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

from consumers.kafka_codec import POSITION_HEADER, header
from consumers.topics import BOARD_CHANGELOG
from tests.support.cluster import boards_converge, cluster_history, replay, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

COMMANDS = 5200  # about 4,200 stored events (some commands are refused by the rules)
EVENTS = 4200
KILLS = 2


@pytest.mark.parametrize("victim", ["relay", "worker"])
def test_kill_9_in_the_middle_of_a_stream_loses_nothing_and_counts_nothing_twice(victim, cluster, writer, clock,
                                                                                 tmp_path):
    layout = cluster.layout
    # Each process's own progress: the relay's is what reaches eoc.events, the worker's what
    # reaches eoc.boards.
    output = cluster.reader(layout.events if victim == "relay" else layout.boards, rows=False)
    processes = {"relay": cluster.start("relay"), "worker": cluster.start("worker", EOC_WORKER_ID="worker-1")}
    process = processes[victim]
    history = cluster_history(writer.service, clock, seed=4242)
    failure: list[BaseException] = []

    def write() -> None:
        try:
            history.setup()
            history.run(COMMANDS)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failure.append(exc)

    t0 = time.monotonic()
    thread = threading.Thread(target=write, name="history", daemon=True)
    thread.start()
    timings: dict[str, object] = {"victim": victim, "kills": []}

    def stored() -> int:
        return writer.app.recorder.max_notification_id() or 0

    for k in range(1, KILLS + 1):
        # Kill at 1/3 and 2/3 of the stream, when the victim is busy (its output is moving).
        wait_until(lambda: stored() >= k * EVENTS // (KILLS + 1), timeout=300, what="the stream to go on")
        floor = output.end_offsets() + 200
        wait_until(lambda: output.end_offsets() >= floor, timeout=120, what=f"{victim} to make progress")
        at = time.monotonic()
        before = stored()
        process.kill9()
        # Let a backlog build up while it is down (the stream goes on).
        wait_until(lambda: stored() >= before + 300 or not thread.is_alive(), timeout=60,
                   what="more events while the victim is down")
        down = time.monotonic() - at
        restarted, mark = time.monotonic(), output.end_offsets()
        process.start()
        # Back at work: its output moves again (there is a backlog of 300 events or more).
        wait_until(lambda: output.end_offsets() > mark, timeout=120, what=f"{victim} to resume")
        timings["kills"].append({"at_s": round(at - t0, 2), "stored_at_kill": before,
                                 "down_s": round(down, 2), "resumed_after_s": round(time.monotonic() - restarted, 2)})
    thread.join(300)
    assert not failure, failure
    written = time.monotonic()
    timings["stream_s"] = round(written - t0, 2)
    timings["events"] = stored()

    expected = replay(writer.app)
    boards = cluster.reader(layout.boards)
    boards_converge(boards, expected, timeout=180, cluster=cluster)
    timings["converged_after_stream_s"] = round(time.monotonic() - written, 2)
    assert process.starts == KILLS + 1
    assert stored() > 4000

    if victim == "relay":
        # The audit stream itself: every stored event exactly once, no gap, no duplicate.
        output.catch_up()
        published = Counter(int(header(r.headers, POSITION_HEADER)) for r in output.records)
        positions = [n.id for n in writer.app.recorder.select_notifications(start=0, limit=100_000)]
        assert sorted(published) == positions
        assert max(published.values()) == 1
    print("\nkill -9 timings:", json.dumps(timings))
    (tmp_path / "timings.json").write_text(json.dumps(timings))


def test_a_worker_dying_halfway_through_making_a_batch_durable_completes_it_on_recovery(cluster, writer, clock):
    """The worst moment to die, made to happen: the batch's commit record and two of its rows
    are in the changelog, the other rows are not, nothing is acknowledged. The restarted
    worker redoes the batch from the commit record; the boards equal a replay."""
    layout = cluster.layout
    boards = cluster.reader(layout.boards)
    cluster.start("relay")
    # Some state first, folded whole by a worker that then stops cleanly...
    first = cluster.start("worker-first", EOC_WORKER_ID="worker-1")
    history = cluster_history(writer.service, clock, seed=77)
    history.setup()
    wait_until(lambda: boards.catch_up() >= 0 and len(boards.rows) > 10, timeout=120, what="a first batch")
    first.stop()
    # ...then one that dies in its first batch of more than two rows.
    worker = cluster.start("worker", EOC_WORKER_ID="worker-1", EOC_WORKER_CRASH_AFTER="0:2")
    history.run(150)
    wait_until(lambda: not worker.alive, timeout=120, what="the worker to die halfway through a batch")
    assert worker.proc.returncode == 137, cluster.logs()

    # The changelog holds the torn batch: a commit record, then only 2 of its rows. (After the
    # other partitions' last commit records come all their rows, and again, from the redo
    # at the start of the worker that died.)
    changelog = cluster.reader(layout.name(BOARD_CHANGELOG), rows=False)
    changelog.catch_up()
    torn = []
    for partition in {r.partition for r in changelog.records}:
        records = [r for r in changelog.records if r.partition == partition]
        last = max(i for i, r in enumerate(records) if json.loads(r.key).startswith("~commit/"))
        committed = list(json.loads(records[last].value)["rows"])
        after = [json.loads(r.key) for r in records[last + 1:]]
        if len(after) < len(committed):
            torn.append((committed, after))
    assert len(torn) == 1
    committed, after = torn[0]
    assert len(committed) > 2 and after == committed[:2]
    # Its two rows reached eoc.boards too (flushed before dying), but not the batch's mark: no
    # reader shows them (projections.batches); the redo below sends the batch whole.
    boards.catch_up()
    assert boards.gate is not None and boards.gate.held >= 2

    cluster.start("worker-again", EOC_WORKER_ID="worker-1")
    history.run(100)
    boards_converge(boards, replay(writer.app), timeout=120, cluster=cluster)


def test_two_workers_share_the_partitions_and_one_takes_over_when_the_other_dies(cluster, writer, clock):
    """As deployed (docker-compose runs two workers): a second worker joins in the middle of a
    stream (the partitions are shared out again), then the first is killed and the second
    takes its partitions over from their changelogs. The boards equal a replay."""
    layout = cluster.layout
    boards = cluster.reader(layout.boards)
    cluster.start("relay")
    first = cluster.start("worker-1", EOC_WORKER_ID="worker-1", EOC_WORKER_SESSION_S="6")
    history = cluster_history(writer.service, clock, seed=31337)
    history.setup()
    history.run(800)
    second = cluster.start("worker-2", EOC_WORKER_ID="worker-2", EOC_WORKER_SESSION_S="6")
    history.run(800)

    def shared() -> bool:  # each has recovered its share of the partitions after the rebalance
        # Every run of each worker: one whose recovery stalled exits and is restarted (its
        # supervisor, here the harness), and the run after it logs the recovery (worker-1.2.log).
        logs = ["".join(f.read_text() for f in sorted(cluster.workdir.glob(f"worker-{i}.*.log"))) for i in (1, 2)]
        return logs[0].count("recovered partitions") >= 2 and "recovered partitions" in logs[1]

    wait_until(shared, timeout=120, what="the two workers to share the partitions")
    boards_converge(boards, replay(writer.app), timeout=180, cluster=cluster)
    first.kill9()
    history.run(800)
    boards_converge(boards, replay(writer.app), timeout=180, cluster=cluster)
    assert second.alive
