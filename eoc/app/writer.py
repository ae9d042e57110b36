"""Group commit: the commands that arrive together are decided one by one and saved in one
transaction.

One writer thread per process takes every queued command, runs its handler against a unit
of work (aggregates loaded once per batch, each command seeing the ones before it), and
saves all of the batch's new events in a single transaction. A refused command leaves no
trace: the aggregates it touched are put back as they were before it. If the batch loses an
optimistic-concurrency race to another process, its aggregates are dropped from the cache
and each command is decided again on its own, from fresh state.

Why: one save per command is bounded by the store's commit (SQLite 0.3 ms, PostgreSQL
1.2 ms, RUNBOOK.md); one commit per batch is not.

Awaiting the writer (``on_loop``): the command API's endpoints are coroutines. They run the
service's synchronous method on the event loop's own thread, in a greenlet; where it hands a
handler to the writer, the greenlet gives the loop the job's future and is resumed with its
answer once the batch is committed (one wake-up of the loop per batch). No thread is held while
a command waits for its batch; what would block the loop in that method (a key made in the
keyring, a look-up in a store) goes through ``off_loop``, which runs it in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from copy import deepcopy
from typing import Any, TypeVar
from uuid import UUID

import greenlet
from eventsourcing.persistence import IntegrityError

from eoc.app import es_adapter
from eoc.app.idempotency import CLAIM, Claim
from eoc.app.recorders import Outcome

log = logging.getLogger(__name__)
T = TypeVar("T")


class _OnLoop(greenlet.greenlet):  # type: ignore[misc]
    """Synchronous code run for a coroutine on the event loop's thread (``on_loop``)."""


async def on_loop(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, synchronous, run on this event loop's thread; each awaitable it hands over
    (``_suspend``: the writer's answer, ``off_loop``'s thread) is awaited here and its result (or
    error) given back to it. A cancelled request still waits for what it handed over — a command
    given to the writer is finished, its keys kept or erased, as a thread would finish it — and is
    cancelled then."""
    run = _OnLoop(fn)
    run.gr_context = contextvars.copy_context()  # the request's context (the Idempotency-Key's claim)
    value = run.switch(*args)
    cancelled = False
    while not run.dead:
        step = asyncio.ensure_future(value)
        try:
            try:
                result = await asyncio.shield(step)
            except asyncio.CancelledError:
                if step.cancelled():
                    raise
                cancelled = True
                result = await step
        except BaseException as exc:
            value = run.throw(exc)
        else:
            value = run.switch(result)
    if cancelled:
        raise asyncio.CancelledError()
    return value  # type: ignore[no-any-return]


def _awaiting() -> bool:
    """Whether this code runs for a coroutine (``on_loop``), on the event loop's thread."""
    return isinstance(greenlet.getcurrent(), _OnLoop)


def _suspend(awaitable: Any) -> Any:
    """Inside ``on_loop``: give the loop ``awaitable``; its result when it is done (or its error)."""
    return greenlet.getcurrent().parent.switch(awaitable)


def off_loop(fn: Callable[..., T], *args: Any, executor: Executor | None = None) -> T:
    """``fn(*args)`` for something that may block (a store, a socket): in a worker thread when
    called for a coroutine on the event loop (``on_loop``), directly anywhere else. The thread is
    the loop's default pool's, or ``executor``'s (work that must not queue behind the pool's)."""
    if _awaiting():  # as asyncio.to_thread, on the executor given
        run = functools.partial(contextvars.copy_context().run, fn, *args)
        return _suspend(asyncio.get_running_loop().run_in_executor(executor, run))  # type: ignore[no-any-return]
    return fn(*args)


class Position:
    """Stands in a handler's answer for the log position its last event will get."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class UnitOfWork:
    """The aggregates of one batch, with the state to go back to if a command is refused."""

    def __init__(self, repository: Any) -> None:
        self.repository = repository
        self.aggregates: dict[UUID, Any] = {}
        self._before: dict[UUID, Any] = {}  # this command's first sight of each aggregate
        self._pending_at: dict[UUID, int] = {}

    def begin(self) -> None:
        self._before = {}
        self._pending_at = {}

    def get(self, aggregate_id: UUID) -> Any:
        agg = self.aggregates.get(aggregate_id)
        if agg is None:
            agg = self.repository.get(aggregate_id)  # a private copy from the cache or store
            self.aggregates[aggregate_id] = agg
            self._before.setdefault(aggregate_id, None)
        elif aggregate_id not in self._before:
            self._before[aggregate_id] = deepcopy(agg)
        self._pending_at.setdefault(aggregate_id, len(agg.pending_events))
        return agg

    def add(self, agg: Any) -> None:
        if agg.id not in self.aggregates:
            self.aggregates[agg.id] = agg
            self._before.setdefault(agg.id, None)
            self._pending_at.setdefault(agg.id, 0)

    def rollback(self) -> None:
        for aggregate_id, before in self._before.items():
            if before is None:
                self.aggregates.pop(aggregate_id, None)
            else:
                self.aggregates[aggregate_id] = before

    def command_events(self) -> list[Any]:
        """The events the current command added (in the order of its aggregates)."""
        events = []
        for aggregate_id, start in self._pending_at.items():
            agg = self.aggregates.get(aggregate_id)
            if agg is not None:
                events.extend(agg.pending_events[start:])
        return events


def resolved(result: Any) -> Any:
    """A handler's answer with its log positions filled in."""
    if isinstance(result, dict):
        return {k: (v.value if isinstance(v, Position) else v) for k, v in result.items()}
    return result


class _Job:
    __slots__ = ("claim", "done", "error", "events", "future", "handler", "position", "result")

    def __init__(self, handler: Callable[[], Any], claim: Claim | None = None,
                 future: asyncio.Future[None] | None = None) -> None:
        self.handler = handler
        self.claim = claim  # the Idempotency-Key it came with: its outcome is stored with its events
        # How its caller is told it is decided: a thread waits on ``done``; a coroutine awaits ``future``.
        self.future = future
        self.done = threading.Event() if future is None else None
        self.result: Any = None
        self.error: BaseException | None = None
        self.events: list[Any] = []
        self.position: Position | None = None


def _wake(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():  # (a cancelled caller's is)
            future.set_result(None)


class BatchWriter:
    """Runs command handlers on one thread and commits them in batches."""

    def __init__(self, app: Any, *, max_batch: int = 200, max_attempts: int = 30) -> None:
        self.app = app
        self.max_batch = max_batch
        self.max_attempts = max_attempts
        self.conflicts = 0
        self.batches = 0
        self.commands = 0
        self.on_batch: Callable[[int], None] | None = None  # told each batch's size (metrics)
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._local = threading.local()
        self._thread = threading.Thread(target=self._loop, name="eoc-writer", daemon=True)
        self._thread.start()

    # --- for handlers

    @property
    def uow(self) -> UnitOfWork | None:
        """The unit of work of the running command, on the writer thread; None elsewhere."""
        return getattr(self._local, "uow", None)

    def position(self) -> Position:
        job: _Job = self._local.job
        if job.position is None:
            job.position = Position()
        return job.position

    # --- for callers

    def run(self, handler: Callable[[], Any]) -> Any:
        """Decide and commit one command; returns its handler's answer or raises its refusal."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("a handler may not submit another command")
        if _awaiting():  # a coroutine's: the loop awaits the batch, no thread waits
            job = _Job(handler, CLAIM.get(), asyncio.get_running_loop().create_future())
            self._queue.put(job)
            _suspend(job.future)
        else:
            job = _Job(handler, CLAIM.get())
            self._queue.put(job)
            assert job.done is not None
            job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    # --- the writer thread

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            batch = [job]
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(more)
            try:
                self._commit(batch)
            except BaseException as exc:  # never leave a caller waiting
                log.exception("the writer failed a batch")
                for j in batch:
                    j.error = exc
            self._tell(batch)

    @staticmethod
    def _tell(batch: list[_Job]) -> None:
        """Wake each job's caller: a thread at once, the coroutines of a loop in one call."""
        loops: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for j in batch:
            if j.done is not None:
                j.done.set()
            elif j.future is not None:
                loops.setdefault(j.future.get_loop(), []).append(j.future)
        for loop, futures in loops.items():
            try:
                loop.call_soon_threadsafe(_wake, futures)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

    def _decide(self, batch: list[_Job], uow: UnitOfWork) -> list[_Job]:
        decided = []
        self._local.uow = uow
        try:
            for job in batch:
                self._local.job = job
                uow.begin()
                try:
                    job.result = job.handler()
                except Exception as exc:  # a refusal (or a bug): this command leaves no trace
                    uow.rollback()
                    job.error = exc
                    continue
                job.events = uow.command_events()
                decided.append(job)
        finally:
            self._local.uow = None
            self._local.job = None
        return decided

    def _commit(self, batch: list[_Job], attempt: int = 1) -> None:
        uow = UnitOfWork(self.app.repository)
        decided = self._decide(batch, uow)
        if not uow.aggregates:
            return
        # The log keeps the order in which commands were decided (and, inside a command, the
        # order its events were triggered): a board folding an incident must see it opened
        # before a team is sent to it, even when both happened in one batch.
        events = [e for job in decided for e in sorted(job.events, key=lambda e: e.timestamp)]
        for agg in uow.aggregates.values():
            agg.collect_events()
        try:
            recordings = self.app.save_in_order(events, uow.aggregates, self._outcomes(decided))
        except IntegrityError:
            # Another process wrote one of these aggregates first: forget what we cached
            # and decide each command again, alone, from fresh state.
            self.conflicts += 1
            self._evict(uow.aggregates)
            if attempt >= self.max_attempts:
                for job in decided:
                    job.error = IntegrityError("too many concurrent writers; try again")
                return
            time.sleep(random.uniform(0, 0.002 * attempt))
            for job in decided:
                job.error = job.result = job.position = None
                self._commit([job], attempt + 1)
            return
        except Exception:
            self._evict(uow.aggregates)
            raise
        for job in decided:
            if job.claim is not None:
                job.claim.stored = True  # its answer is its outcome, committed with its events
        self.batches += 1
        self.commands += len(decided)
        if self.on_batch is not None:
            try:  # committed: a failing count must not tell its commands they failed
                self.on_batch(len(decided))
            except Exception:
                log.exception("the batch callback failed; the batch stands")
        # Events are matched by (aggregate, version): a refused command's rollback may have
        # put back copies of the events that earlier commands of the batch triggered.
        ids = {(r.domain_event.originator_id, r.domain_event.originator_version): r.notification.id
               for r in recordings}
        for job in decided:
            if job.position is not None and job.events:
                job.position.value = max(ids[(e.originator_id, e.originator_version)] for e in job.events)

    @staticmethod
    def _outcomes(decided: list[_Job]) -> list[Outcome]:
        """What each command sent with an Idempotency-Key answers, written with the batch's events."""
        outcomes, start = [], 0
        for job in decided:
            first, start = start, start + len(job.events)
            if job.claim is None:
                continue

            def render(ids: Any, job: _Job = job, first: int = first, last: int = start) -> bytes:
                if job.position is not None and last > first:
                    job.position.value = max(ids[first:last])
                return json.dumps({"result": resolved(job.result)}, ensure_ascii=False, default=str).encode()

            outcomes.append(Outcome(job.claim.principal, job.claim.key, job.claim.request, job.claim.owner, render))
        return outcomes

    def _evict(self, aggregates: dict[UUID, Any]) -> None:
        es_adapter.forget_cached(self.app, aggregates)
