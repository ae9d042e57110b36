"""A system's command API served for real on a free loopback port (for curl, browsers, clients)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from bench.procs import free_port


def free_port_pair() -> int:
    """A port whose next one is free too: a server started with only ``--port`` puts its
    bridge on port + 1, and a lone free port's neighbour may be someone else's (a CI run
    once failed so: the bridge found its port taken)."""
    for _ in range(200):
        port = free_port()
        if port >= 65535:
            continue
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two neighbouring free ports on 127.0.0.1")


@contextlib.contextmanager
def served(system: Any, port: int | None = None) -> Iterator[str]:
    """The command API of ``system`` in a background thread; yields its base URL."""
    from eoc.http.api import create_api

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(system), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="served-api", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the API did not start on port {port}")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def embedded(system: Any, port: int | None = None) -> Iterator[str]:
    """The whole embedded system as ``eoc demo`` serves it (API, dashboard, bridge, signed
    checkpoints), without the simulator, on a loop thread; yields the API's base URL."""
    import asyncio

    from eoc.main.runtime import serve_embedded
    from ui_bridge.loop_thread import LoopThread

    async def make_event() -> asyncio.Event:
        return asyncio.Event()

    port, bridge_port = port or free_port(), free_port()
    loop = LoopThread("embedded")
    ready = threading.Event()
    stop = loop.run(make_event())
    running = loop.spawn(lambda: serve_embedded(system, host="127.0.0.1", port=port, bridge_port=bridge_port,
                                                on_ready=lambda _: ready.set(), stop=stop))
    try:
        if not ready.wait(30):
            raise RuntimeError(f"the embedded system did not start: {running}")
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call(stop.set)
        try:
            running.result(20)
        finally:
            loop.close()
