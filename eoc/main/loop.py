"""The event loop of a process that serves HTTP or websockets: uvloop's, as ``uvicorn.run``
chooses it (``uvicorn[standard]``); the asyncio one where uvloop is not installed. And the
heap of a long-running process settled once it has started (``settle_heap``)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_serving(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on uvloop's event loop, the heap settled first."""
    settle_heap()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] installs it (not on Windows)
        factory = None
    else:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def settle_heap() -> None:
    """Start-up's objects (modules, models and their schemas, settings, routes: some 160,000 in
    the cluster API) out of the collector's sight before serving (``gc.freeze``): a full
    collection then walks only what was made since. Each full collection stops every thread of
    the process; in the cluster API at 10,000 position reports a second one came every two
    seconds and took 75–112 ms, walking those start-up objects again to free nothing; frozen,
    12–19 ms (BENCHMARKS.md, session 18). The frozen objects are never freed, which they would
    not have been anyway."""
    gc.collect()
    gc.freeze()
