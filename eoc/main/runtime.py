"""The embedded system in one process: command API, follower, websocket bridge, simulator.

One asyncio loop runs the API (uvicorn), the bridge (websockets) and, for the demo, the
simulated province; the follower runs on its own thread and is woken by every commit.

The loop is uvloop's and uvicorn parses HTTP with httptools (``uvicorn[standard]``), as
``uvicorn.run`` chooses them for the cluster's API: a process that serves HTTP is started with
``eoc.main.loop.run_serving``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import uvicorn

from eoc.app.metrics import watch_hub
from eoc.app.system import System
from eoc.app.watchdog import Watchdog
from eoc.http.api import create_api
from ui_bridge.server import mount_dashboard, start_embedded_bridge

log = logging.getLogger(__name__)


@dataclass
class Addresses:
    api: str
    dashboard: str
    bridge: str


async def serve_embedded(
    system: System,
    *,
    host: str,
    port: int,
    bridge_port: int,
    background: Callable[[str], Coroutine[Any, Any, None]] | None = None,
    on_ready: Callable[[Addresses], None] | None = None,
    stop: asyncio.Event | None = None,
    bridge_options: dict[str, Any] | None = None,
) -> None:
    """Serve until ``stop`` is set (or the task is cancelled).

    ``background`` (e.g. the simulator) is started once the API answers, with its base URL.
    """

    api = create_api(system)
    mount_dashboard(api, bridge_port=bridge_port, map_tiles=system.settings.map_tiles)
    tls = system.settings.tls_cert is not None
    server = uvicorn.Server(uvicorn.Config(
        api, host=host, port=port, log_level="warning", access_log=False,
        ssl_certfile=str(system.settings.tls_cert) if tls else None,
        ssl_keyfile=str(system.settings.tls_key) if tls else None))
    # ``bridge_options``: e.g. the demo's simulated clock (``now``, ``clock``) for the bridge's frames.
    bridge = await start_embedded_bridge(system, host=host, port=bridge_port, **(bridge_options or {}))
    if system.metrics is not None:
        watch_hub(system.metrics, bridge.hub)  # the embedded bridge's figures on the API's /metrics
    if system.checkpoints is None:
        system.start_checkpoints()  # auditors get signed checkpoints of the embedded log too
    api_task = asyncio.create_task(server.serve(), name="api")
    while not server.started:
        if api_task.done():
            await api_task  # raises the reason it could not start
            raise RuntimeError("the API stopped before it started")
        await asyncio.sleep(0.02)
    base = f"{'https' if tls else 'http'}://{host}:{port}"
    tasks: list[asyncio.Task[Any]] = [api_task, asyncio.create_task(_watch(Watchdog(system)), name="watchdog")]
    if background is not None:
        tasks.append(asyncio.create_task(background(base), name="background"))
    if on_ready is not None:
        on_ready(Addresses(api=f"{base}/docs", dashboard=f"{base}/",
                           bridge=f"{'wss' if tls else 'ws'}://{host}:{bridge_port}/"))
    for task in tasks[1:]:
        task.add_done_callback(_log_failure)
    waiter = asyncio.create_task((stop or asyncio.Event()).wait(), name="stop")
    try:
        # Serve until asked to stop or until the API itself fails; a background task that
        # ends (a bounded simulation) or fails (logged) leaves the system serving.
        await asyncio.wait([api_task, waiter], return_when=asyncio.FIRST_COMPLETED)
        if api_task.done() and api_task.exception():
            raise api_task.exception()  # type: ignore[misc]
    finally:
        server.should_exit = True
        for task in [*tasks[1:], waiter]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(asyncio.CancelledError):
            await api_task
        await bridge.stop()


async def _watch(dog: Watchdog, every_s: float = 30.0) -> None:
    """Sweep for overdue safety check-ins, for as long as the system runs."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(dog.sweep)
        except Exception:  # the watchdog must outlive a bad sweep
            log.exception("safety watchdog sweep failed")


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s failed", task.get_name(), exc_info=task.exception())
