"""The Faust worker: the same projections as the embedded follower, over the Kafka topics.

One agent reads ``eoc.events`` and ``eoc.telemetry.positions`` together (co-partitioned: a
province's events and its teams' positions share a partition number) and folds every record
with ``projections.fold.apply`` into a ``Board`` whose rows live in a Faust table (``board``,
changelog ``<app>-board-changelog``), so that a restarted worker gets its state back. After
each batch the changed rows go to the compacted ``eoc.boards`` topic (a tombstone for a deleted
row), and the hourly figures the batch changed (calls per hour per province and category, read
off the key-figures rows: projections/hourly.py) go to ``eoc.figures.hourly``.
A record that cannot be decoded or folded goes to ``eoc.events.dlq`` with the reason; the
worker goes on.

Why the table is written per batch, with a commit record, and not key by key. A Faust table
writes one changelog record per assignment, as it happens. A worker killed in the middle of
an event would then leave part of the event's rows in the changelog — its per-province
``applied/<province>`` position but not the figure it counted, or the other way round — and
after recovery the event would be lost or counted twice. So the rows of a batch are written
to the table's store as the fold goes (the next event of the batch must see them) and made
durable together at the end of the batch:

1. one *commit record* (key ``~commit/<partition>``) holding every row the batch changed and
   the hourly figures it changed, then the rows one by one, all to the same changelog partition — so
   what survives a crash is a prefix: no commit record and no row, or the commit record and
   some of the rows;
2. the rows to ``eoc.boards`` (on the same partition, ended by a batch mark, so that readers
   show the batch whole: ``projections.batches``), the hourly figures to their topic, dead letters;
3. wait until Kafka has acknowledged all of it, and only then acknowledge the batch's source
   records (Faust commits offsets of acknowledged records only).

On recovery (``redo``) the commit record of each partition this worker now owns is applied
again — the rows to the store, the changelog and ``eoc.boards``, the hourly figures to theirs —
which completes a batch cut short, and is harmless otherwise (the values are absolute).

Which source records are folded is decided here too, not left to Faust's committed offsets:
the commit record carries the next offset to fold of each source partition. A record that
comes again (Faust resumes from its last committed offset, which lags) is skipped without
even being decoded; and since Faust can *skip* records around a recovery (its fetcher and its
seek to the committed offsets race), a record that comes after a gap makes the worker seek
back to the first missing offset instead of folding on. Behind that, the fold itself skips
what it has folded (positions at or below ``applied/<province>``), and position reports are
latest-by-time, so idempotent as well.

A table recovery that stops making progress — faust-streaming can wait for ever on a changelog
partition it never starts to read ("Still fetching changelog ... have offset -1", its issues
#155 and #74), and the worker then serves nothing — ends the process (``RecoveryWatchdog``):
its supervisor starts it again, and a fresh recovery reads the changelog.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import faust

from consumers.faust_adapter import (
    RecoveryProgress,
    changelog_topic_name,
    owned_partitions,
    read_again_from,
    recovery_progress,
    rows_of,
    take_batches,
)
from consumers.kafka_codec import (
    BATCH_HEADER,
    DeadLetter,
    dead_letter_headers,
    decode_batch,
    decode_event,
    encode_row,
    header,
    relayed,
)
from consumers.topics import Layout
from events.envelope import Envelope
from events.undecodable import undecodable_of
from projections import apply, undecodable
from projections.batches import batch_mark, batch_mark_row
from projections.hourly import BatchBoard, hourly_changes

log = logging.getLogger(__name__)

MAX_POLL_RECORDS = 2_000  # four of the worker's largest batches (batch_max)
COMMIT_PREFIX = "~commit/"  # never a board row key: rows start with a letter
EXIT_RECOVERY_STALLED = 75  # EX_TEMPFAIL: started again, the worker recovers afresh


def commit_key(partition: int) -> str:
    return f"{COMMIT_PREFIX}{partition}"


class BoardProcessor:
    """Folds batches of records into the board table and publishes what changed."""

    def __init__(self, app: faust.App, layout: Layout, board: Any) -> None:
        self.app = app
        self.layout = layout
        self.board_table = board
        self.partition_of = layout.partition_for
        self.sources = (layout.events, layout.telemetry)
        self.folded = 0
        self.duplicates = 0
        self.dead_letters = 0
        self.batches = 0
        self.crash_after: tuple[int, int] | None = None  # (batches, rows): see _die_torn
        # The next offset to fold, per source (topic, partition): durable in the commit records,
        # so that what Faust delivers twice is skipped and what it skips is read again.
        self.next_offset: dict[tuple[str, int], int] = {}
        self.redelivered = 0
        self.rewinds = 0

    # ------------------------------------------------------------------ the hot path

    async def process(self, events: Sequence[Any]) -> None:
        rows = rows_of(self.board_table)  # the memory store's dict: key -> row
        boards: dict[int, BatchBoard] = {}
        dead: list[tuple[Any, DeadLetter]] = []
        telemetry_topic, partition_of = self.layout.telemetry, self.partition_of
        next_offset, rewind = self.next_offset, {}
        folded = duplicates = redelivered = 0
        for event in events:
            message = event.message
            partition = message.partition
            tp = (message.topic, partition)
            if tp in rewind:
                continue
            expected = next_offset.get(tp)
            if expected is not None and message.offset != expected:
                if message.offset < expected:  # delivered again: folded and durable already
                    redelivered += 1
                    continue
                # A gap: Faust skipped records (it can, around a recovery or a rebalance).
                # Fold nothing more of this partition now; read it again from the gap.
                rewind[tp] = expected
                continue
            next_offset[tp] = message.offset + 1
            if (row := undecodable_of(_headers(message.headers), message.value)) is not None:
                # A stored row that is not an event: the same dead-letter row as every runner's.
                board = boards.get(partition)
                if board is None:
                    board = boards[partition] = BatchBoard(rows)
                undecodable(board, *row)
                dead.append((message, DeadLetter("not_an_event", row[1])))
                continue
            if message.topic == telemetry_topic and header(_headers(message.headers), BATCH_HEADER) is not None:
                # Reports only shown, a request's at once (consumers/kafka_codec.py): each folded
                # as a single report would be; a broken one is the record's dead letter.
                try:
                    items = decode_batch(message.value, partition=partition, partition_of=partition_of)
                except DeadLetter as letter:
                    items = [letter]
                board = boards.get(partition)
                if board is None:
                    board = boards[partition] = BatchBoard(rows)
                bad = [(i, item) for i, item in enumerate(items) if isinstance(item, DeadLetter)]
                for item in items:
                    if not isinstance(item, DeadLetter) and apply(board, item):
                        folded += 1
                if bad:  # the record once on the dead-letter topic, naming its items that failed
                    first = bad[0][1]
                    dead.append((message, DeadLetter(first.kind, f"{len(bad)} of {len(items)} reports of the batch: "
                                                     + "; ".join(f"#{i} {d.reason}" for i, d in bad[:5]))))
                continue
            try:
                envelope = decode_event(message.value, telemetry=message.topic == telemetry_topic,
                                        partition=partition, partition_of=partition_of)
            except DeadLetter as letter:
                if letter.envelope is None or not relayed(_headers(message.headers), letter.envelope):
                    dead.append((message, letter))  # not a stored event: the topic's dead letter only
                    continue
                # A stored event whose payload breaks its schema: the fold refuses it as every
                # runner does (the same dead-letter row and reason as the follower's and replay's).
                envelope = letter.envelope
            board = boards.get(partition)
            if board is None:
                board = boards[partition] = BatchBoard(rows)
            # A poison event writes none of its rows: it becomes a dead-letter row on the
            # board (as in every runner) and a record on the dead-letter topic.
            def dead_letter(e: Envelope, reason: str, message: Any = message) -> None:
                kind = "invalid" if reason.startswith("InvalidPayload") else "fold_failed"
                dead.append((message, DeadLetter(kind, reason)))

            fresh = apply(board, envelope, dead_letter)
            if not fresh:
                duplicates += 1
                continue
            folded += 1
        self.folded += folded
        self.duplicates += duplicates
        self.redelivered += redelivered
        await self.commit(boards, dead)
        self.batches += 1
        if rewind:
            for (topic, partition), offset in rewind.items():
                log.warning("records missing before %s[%d]@%d; reading again from there", topic, partition, offset)
            self.rewinds += len(rewind)
            await read_again_from(self.app, rewind)

    async def commit(self, boards: dict[int, BatchBoard], dead: list) -> None:
        """Make the batch durable (see the module docstring), then return."""
        sends: list[Any] = []
        if dead:
            # Dead letters first: the commit records below move the source offsets past them.
            sends.extend([await self._dead_letter(message, letter) for message, letter in dead])
            await self.app.producer.flush()
        for partition, board in sorted(boards.items()):
            changes = board.take_changes()
            if not changes:
                continue
            offsets = {topic: self.next_offset[(topic, partition)] for topic in self.sources
                       if (topic, partition) in self.next_offset}
            record = {"rows": changes, "hourly": hourly_changes(board.before, changes), "offsets": offsets}
            rows_of(self.board_table)[commit_key(partition)] = record
            sends.append(await self._changelog(self.board_table, partition, commit_key(partition), record))
            crash = self.crash_after[1] if self.crash_after and self.batches >= self.crash_after[0] else None
            sends.extend(await self._apply_commit(partition, record, crash_after_rows=crash))
        if sends:
            await self.app.producer.flush()
            for fut in sends:
                if not fut.done() or fut.cancelled() or fut.exception() is not None:
                    self._fatal(f"Kafka did not take the batch: {fut!r}")

    async def _apply_commit(self, partition: int, record: dict[str, Any], *,
                            crash_after_rows: int | None = None) -> list[Any]:
        """Write a committed batch's rows and hourly figures everywhere they belong."""
        producer, boards_topic = self.app.producer, self.layout.boards
        sends = []
        for i, (key, row) in enumerate(record["rows"].items()):
            if i == crash_after_rows:
                await self._die_torn()
            sends.append(await self._changelog(self.board_table, partition, key, row))
            # On the events' partition, in order, then the batch's mark: readers show a batch
            # whole or not at all (projections.batches).
            sends.append(await producer.send(boards_topic, key.encode(), encode_row(row), partition, None, None))
        if record["rows"]:
            mark = batch_mark_row(partition, len(record["rows"]), record["offsets"])
            sends.append(await producer.send(boards_topic, batch_mark(partition).encode(), encode_row(mark),
                                             partition, None, None))
        # A commit record of a worker before the hourly figures were a projection has "windows"
        # instead (counts of its own windowed table): not sent again, the next batch's cells are.
        for key, hourly in record.get("hourly", {}).items():
            sends.append(await producer.send(self.layout.figures_hourly, key.encode(), _json(hourly),
                                             None, None, None))
        return sends

    async def _changelog(self, table: Any, partition: int, key: Any, value: Any) -> Any:
        # The table's own serialisers (json) so that Faust's recovery reads these records back.
        return await self.app.producer.send(
            changelog_topic_name(table), _json(key), None if value is None else _json(value),
            partition, None, None)

    async def _dead_letter(self, message: Any, letter: DeadLetter) -> Any:
        self.dead_letters += 1
        log.warning("dead letter from %s[%s]@%s: %s", message.topic, message.partition, message.offset, letter)
        headers = dead_letter_headers(kind=letter.kind, reason=letter.reason, topic=message.topic,
                                      partition=message.partition, offset=message.offset,
                                      headers=_headers(message.headers))
        return await self.app.producer.send(self.layout.dlq, message.key, message.value, None, None, headers)

    # ------------------------------------------------------------------ recovery and upkeep

    async def redo(self) -> None:
        """After recovery: apply again the last commit record of every partition we own."""
        mine = owned_partitions(self.app, self.layout.events)
        rows = rows_of(self.board_table)
        self._forget_others(mine)
        sends: list[Any] = []
        self.next_offset = {}
        for partition in sorted(mine):
            record = rows.get(commit_key(partition))
            if not record:
                continue
            for topic, offset in record.get("offsets", {}).items():
                self.next_offset[(topic, partition)] = offset
            for key, row in record["rows"].items():
                if row is None:
                    rows.pop(key, None)
                else:
                    rows[key] = row
            sends.extend(await self._apply_commit(partition, record))
        if sends:
            await self.app.producer.flush()
        log.info("recovered partitions %s: %d rows in the board table", sorted(mine), len(rows))

    def _forget_others(self, mine: set[int]) -> None:
        """Drop the rows of partitions another worker owns now. A partition that comes back is
        read again from the start of its changelog (the memory store keeps no offsets), and a
        row left over from before could have been deleted meanwhile."""
        rows, partition_of = rows_of(self.board_table), self.partition_of
        for key in [k for k, row in rows.items() if _partition_of_row(k, row, partition_of) not in (None, *mine)]:
            del rows[key]

    async def _die_torn(self) -> None:
        # Fault injection (EOC_WORKER_CRASH_AFTER, for the tests only): end the process the
        # way kill -9 would at the worst moment — the commit record and some of the batch's
        # rows are in Kafka, the other rows are not, and nothing is acknowledged.
        await self.app.producer.flush()
        log.critical("EOC_WORKER_CRASH_AFTER: dying in the middle of batch %d", self.batches)
        logging.shutdown()
        os._exit(137)

    def _fatal(self, why: str) -> None:
        # The store is ahead of what Kafka holds; the only safe way on is recovery from the
        # changelog, so the process ends and its supervisor starts it again.
        log.critical("%s; the worker exits to recover from its changelog", why)
        logging.shutdown()
        os._exit(70)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _partition_of_row(key: str, row: Any, partition_of: Any) -> int | None:
    """The source partition a board row belongs to (None if it cannot be told)."""
    if key.startswith(COMMIT_PREFIX):
        return int(key[len(COMMIT_PREFIX):])
    parts = key.split("/")
    if parts[0] == "drill":
        parts = parts[1:]
    if parts[0] in ("applied", "figures", "period-figures", "figures-days") and len(parts) > 1:
        return partition_of(parts[1])
    if isinstance(row, dict) and isinstance(row.get("province"), str):
        return partition_of(row["province"])
    return None


def _headers(headers: Any) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)


class RecoveryWatchdog:
    """Tells a table recovery that has made no progress for ``stall_s`` seconds: under way, and
    no changelog partition read any further (nor the partitions changed) all that time."""

    def __init__(self, stall_s: float, read: Callable[[], RecoveryProgress],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_s = stall_s
        self.read = read
        self.clock = clock
        self._seen: dict[tuple[str, int], int] | None = None
        self._since = 0.0

    def check(self) -> str | None:
        """None while recovery is done or moving; once stalled past the bound, what to log."""
        progress, now = self.read(), self.clock()
        if not progress.in_recovery:
            self._seen = None
            return None
        if progress.offsets != self._seen:
            self._seen, self._since = progress.offsets, now
            return None
        stalled = now - self._since
        if stalled < self.stall_s:
            return None
        behind = ", ".join(f"{topic}[{partition}] at offset {progress.offsets.get((topic, partition), -1)} "
                           f"of {high}" for (topic, partition), high in sorted(progress.highwaters.items())
                           if high > progress.offsets.get((topic, partition), -1))
        return (f"table recovery made no progress for {stalled:.0f} s (EOC_WORKER_RECOVERY_STALL_S="
                f"{self.stall_s:g}; {progress.remaining} changelog records left: {behind or 'none'}); "
                f"the worker exits so that its supervisor starts it again")

    def watch(self, every_s: float) -> threading.Thread:
        """Check every ``every_s`` seconds on a thread of its own (Faust starts its timers only
        after the first recovery); a stall ends the process with ``EXIT_RECOVERY_STALLED``."""

        def run() -> None:
            while True:
                time.sleep(every_s)
                try:
                    stalled = self.check()
                except RuntimeError:  # the tables changed under the copy: look again next time
                    continue
                if stalled is not None:
                    log.critical(stalled)
                    logging.shutdown()
                    os._exit(EXIT_RECOVERY_STALLED)
                    return  # (os._exit does not return; a test's stand-in does)

        thread = threading.Thread(target=run, name="eoc-recovery-watchdog", daemon=True)
        thread.start()
        return thread


# ---------------------------------------------------------------------- the Faust application


def create_app(
    bootstrap: str,
    layout: Layout,
    *,
    web_port: int | None = None,
    batch_max: int = 500,
    batch_within_s: float = 0.002,
    commit_interval_s: float = 1.0,
    session_timeout_s: float = 10.0,
    instance_id: str | None = None,
    crash_after: tuple[int, int] | None = None,
    datadir: str | None = None,
    heartbeat: Any = None,
    web_bind: str = "127.0.0.1",
) -> tuple[faust.App, BoardProcessor]:
    """The worker's Faust app, its agent and tables. Topics must exist (``eoc topics``).

    ``instance_id`` makes the worker a static member of its consumer group: restarted with the
    same id it takes its partitions back at once instead of after a rebalance; a worker gone
    for good gives them up after ``session_timeout_s``.
    """
    app = faust.App(
        layout.worker_app,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=datadir or f"{layout.worker_app}-data",  # Faust's own files (tables are in memory)
        topic_partitions=layout.partitions,
        topic_replication_factor=layout.replication,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_bind=web_bind,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger=0.001,
        producer_max_request_size=16 * 1024 * 1024,
        consumer_max_fetch_size=16 * 1024 * 1024,
        # At most so many records decoded a poll. Without a bound the consumer decoded every
        # record fetched at once: behind a backlog (a burst, a catch-up after an outage) up to
        # 800,000 records, 120 MB of Python objects waiting for the streams, whose high-water
        # mark the process kept (tracemalloc in session 19: BENCHMARKS.md).
        broker_max_poll_records=MAX_POLL_RECORDS,
        # No standby copies: a memory store reads an active partition from the start of its
        # changelog whenever it is assigned, so a standby copy would not be used.
        table_standby_replicas=0,
        broker_commit_interval=commit_interval_s,
        broker_session_timeout=session_timeout_s,
        broker_heartbeat_interval=min(3.0, session_timeout_s / 3),
        consumer_group_instance_id=instance_id,
        stream_wait_empty=True,
    )
    source = app.topic(layout.events, layout.telemetry, key_type=bytes, value_type=bytes,
                       key_serializer="raw", value_serializer="raw", partitions=layout.partitions)
    # The table's keys and values are JSON in its changelog (Faust's default).
    board = app.Table("board", partitions=layout.partitions,
                      help="every board row, sharded like the events (by province)")
    processor = BoardProcessor(app, layout, board)
    processor.crash_after = crash_after

    @app.agent(source, name="fold")
    async def fold(stream: faust.StreamT) -> None:
        # A batch closes batch_within_s after its first event (or at batch_max): Faust's own
        # take_events wakes every batch_within_s even with no event (consumers/faust_adapter.py).
        async for events in take_batches(stream, batch_max, batch_within_s):
            await processor.process(events)

    board.on_recover(processor.redo)
    if heartbeat is not None:
        @app.timer(5.0)
        async def beat() -> None:  # the event loop is alive (for a container's health check)
            heartbeat()

    return app, processor


def run_worker(app: faust.App, *, loglevel: str = "warn", logging_config: dict[str, Any] | None = None,
               recovery_stall_s: float = 0.0) -> None:
    """Run the worker until SIGTERM/SIGINT (blocks); ``logging_config``: a dictConfig for the
    records of every library (the cluster's JSON lines). ``recovery_stall_s`` (0: never): a
    table recovery with no progress for that long ends the process (``RecoveryWatchdog``)."""
    if recovery_stall_s > 0:
        RecoveryWatchdog(recovery_stall_s, lambda: recovery_progress(app)).watch(min(5.0, recovery_stall_s / 4))
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False,
                          logging_config=logging_config)
    worker.execute_from_commandline()
