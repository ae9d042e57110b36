"""The simulator's many small tasks (a call, a team, a stay), started and ended together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from eoc.simulator.client import Finished
from eoc.simulator.stats import SimStats

log = logging.getLogger("eoc.simulator")


class TaskSet:
    """Runs coroutines as tasks; a task that fails is logged and counted, the others go on."""

    def __init__(self, stats: SimStats) -> None:
        self.stats = stats
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not isinstance(exc, Finished):
            self.stats.task_errors += 1
            log.error("simulator task %s failed", task.get_name(), exc_info=exc)

    async def cancel_all(self) -> None:
        while self._tasks:  # a task may start another as it ends: repeat until none is left
            tasks = list(self._tasks)
            self._tasks.difference_update(tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
