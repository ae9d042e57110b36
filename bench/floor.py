"""The floor: the same stack as the product with nothing of the product in it.

    python -m bench.floor --port 18000 --ws-port 18001

One process, one event loop (uvloop, ``eoc.main.loop``), like ``eoc demo``:
* FastAPI + uvicorn (the versions and settings the command API runs with: httptools) serving
  ``POST /api/v1/noop`` — a small validated JSON body, an ``async`` handler like the API's own
  (they await the group-commit writer on the loop), a small JSON answer; no token, no store, no
  follower;
* ``POST /api/v1/command`` — the same small validated body, and at once (no tick) a small frame
  broadcast to every websocket subscriber: a delta frame in the bridge's format carrying
  ``applied/<province>``, the command's number for the province, which the answer gives as its
  ``position`` — what a stored command's answer and its board frame carry, with nothing between
  (no store, no follower, no views);
* ``POST /api/v1/position`` — a handler like ``noop``'s, and the report goes into a bare
  "map": the latest row per team, broadcast to every websocket subscriber on the bridge's throttle
  (``ui_bridge.throttle``: a gap of 4 to 50 ms after each frame, by what frames cost) in its delta
  frame format (no follower, no views, no visibility filter, no per-client bookkeeping);
  ``POST /api/v1/positions`` the same for a batch of reports (a gateway's second of them); the
  map shows what the product's shows (eoc/app/track.py): of a batch each team's newest report,
  at most one per team per quarter second;
* a ``websockets`` server: every client subscribes to the bare map and the commands' frames.

What the suite divides by: the HTTP framework's floor (requests a second), send to frame on
the bare broadcast endpoint (the least "command to board" can cost on this stack, timed by the
same dashboard client as the system's), and the bare map's staleness and CPU at the telemetry
scenario's rates.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from eoc.app.track import Thinning
from eoc.main.loop import run_serving
from ui_bridge.protocol import TICK_S as TICK
from ui_bridge.throttle import Throttle

TICK_S = TICK  # the bridge's longest gap (ui_bridge.protocol)


class Noop(BaseModel):
    model_config = ConfigDict(extra="forbid")
    province: str = Field(min_length=3, max_length=3)
    county: str = Field(min_length=1, max_length=60)
    note: str | None = None


class Point(BaseModel):
    lat: float = Field(ge=24.0, le=40.5)
    lon: float = Field(ge=44.0, le=63.5)


class Position(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team_id: str
    province: str
    position: Point
    reported_at: str


class Positions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reports: list[Position] = Field(min_length=1, max_length=5_000)


def create_app(on_position: Any, on_command: Any = None) -> Any:
    from fastapi import FastAPI

    app = FastAPI(title="floor")

    @app.post("/api/v1/command")
    async def command(body: Noop) -> dict[str, Any]:
        return {"ok": True, "province": body.province, "position": on_command(body.province)}

    @app.post("/api/v1/noop")
    async def noop(body: Noop) -> dict[str, Any]:
        return {"ok": True, "province": body.province}

    @app.post("/api/v1/position", status_code=202)
    async def position(body: Position) -> dict[str, Any]:
        on_position(body.team_id, {"team_id": body.team_id, "province": body.province,
                                   "lat": body.position.lat, "lon": body.position.lon, "at": body.reported_at})
        return {"team_id": body.team_id, "reported_at": body.reported_at}

    @app.post("/api/v1/positions", status_code=202)
    async def positions(body: Positions) -> dict[str, Any]:  # a gateway's batch, as the telemetry scenario sends it
        newest = {r.team_id: r for r in sorted(body.reports, key=lambda r: r.reported_at)}  # the product's rule
        for report in newest.values():
            on_position(report.team_id, {"team_id": report.team_id, "province": report.province,
                                         "lat": report.position.lat, "lon": report.position.lon,
                                         "at": report.reported_at})
        return {"reports": [{"team_id": r.team_id, "reported_at": r.reported_at} for r in body.reports]}

    return app


async def hold_subscriber(ws: Any, subscribers: set[Any], seq: int) -> None:
    """A bare map's subscriber: an empty snapshot at ``seq``, then every broadcast until it leaves."""
    from ui_bridge import protocol as p

    await ws.send(p.snapshot_frame(seq, "national_eoc", "IR", p.now_iso(), "{}"))
    subscribers.add(ws)
    try:
        await ws.wait_closed()
    finally:
        subscribers.discard(ws)


async def serve(port: int, ws_port: int, stop: asyncio.Event) -> None:
    import uvicorn
    from websockets.asyncio.server import broadcast
    from websockets.asyncio.server import serve as ws_serve

    from ui_bridge import protocol as p

    loop = asyncio.get_running_loop()
    subscribers: set[Any] = set()
    pending: dict[str, Any] = {}
    lock = threading.Lock()  # the pending rows of the map (kept a lock: cheap, and safe from any thread)
    seq = 0
    applied: dict[str, int] = {}

    def on_command(province: str) -> int:
        """On the loop (an async handler): number the command, broadcast its frame now."""
        nonlocal seq
        position = applied[province] = applied.get(province, 0) + 1
        prev, seq = seq, seq + 1
        changes = p.dumps({f"applied/{province}": position})
        broadcast(subscribers, p.delta_frame(seq, prev, changes, p.now_iso()).encode(), text=True)
        return position

    live_map = Thinning()  # the product's live-map rule (eoc/app/track.py), nothing else of it

    def on_position(team: str, row: dict[str, Any]) -> None:
        # A report newer than the team's shown one by a quarter second or more — so the floor
        # shows the same reports the system does.
        if not live_map.show(team, row["at"]):
            return
        with lock:
            pending[f"position/{team}"] = row
        throttle.poke(loop)  # the handlers run on the loop

    async def handler(ws: Any) -> None:
        await hold_subscriber(ws, subscribers, seq)

    def send_map() -> None:
        nonlocal seq, pending
        with lock:
            changes, pending = pending, {}
        if changes:
            prev, seq = seq, seq + 1
            broadcast(subscribers, p.delta_frame(seq, prev, p.dumps(changes), p.now_iso()).encode(), text=True)

    throttle = Throttle(send_map, tick_s=TICK_S)  # the bridge's throttle

    server = uvicorn.Server(uvicorn.Config(create_app(on_position, on_command), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    async with ws_serve(handler, "127.0.0.1", ws_port, compression=None, ping_interval=p.PING_S,
                        write_limit=p.WRITE_LIMIT, max_size=1 << 20):
        api = asyncio.create_task(server.serve())
        await stop.wait()
        server.should_exit = True
        throttle.cancel()
        await api


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ws-port", type=int, required=True)
    args = parser.parse_args()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(args.port, args.ws_port, stop)

    run_serving(run())  # the event loop the system's processes serve on (uvloop)


if __name__ == "__main__":
    main()
