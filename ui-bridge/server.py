"""The websocket bridge's server, and the dashboard page served beside the command API.

``start_embedded_bridge`` feeds the bridge from the in-process follower (``eoc demo``);
``start_bridge`` takes any feed (the Kafka board topic for ``eoc bridge``). The wire
protocol is described in ``ui_bridge.protocol``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import mimetypes
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from eoc.errors import Unauthorized
from projections.visibility import Unseal

from . import protocol as p
from .feed import BoardFeed, FollowerFeed
from .hub import Client, Hub

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"


@dataclass
class BridgeHandle:
    """A running bridge: ``await handle.stop()`` closes every socket with 1001 and stops the feed."""

    hub: Hub
    server: Server
    host: str
    port: int
    stopped: bool = False

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.server.close(close_connections=True, code=p.CLOSE_GOING_AWAY, reason="bridge stopping")
        await self.server.wait_closed()
        await self.hub.stop()


async def start_embedded_bridge(system: Any, *, host: str, port: int, **options: Any) -> BridgeHandle:
    """The bridge fed by the system's in-process follower."""
    return await start_bridge(FollowerFeed(system.follower), system.signer, system.unseal_place,
                              host=host, port=port, **options)


async def start_bridge(
    feed: BoardFeed,
    signer: Any,
    unseal: Unseal | None,
    *,
    host: str,
    port: int,
    serve_page: bool = False,
    map_tiles: str = "",
    ping_s: float = p.PING_S,
    write_limit: int = p.WRITE_LIMIT,
    **hub_options: Any,
) -> BridgeHandle:
    """Start the feed, then listen. With ``serve_page`` plain HTTP GETs get the dashboard too."""
    hub = Hub(feed, unseal, **hub_options)
    await hub.start()
    sessions = _Sessions(hub, signer)
    try:
        server = await serve(
            sessions.handle, host, port,
            process_request=functools.partial(_serve_page, map_tiles=map_tiles) if serve_page else None,
            ping_interval=ping_s, ping_timeout=2 * ping_s,
            write_limit=write_limit, max_size=64 * 1024,  # clients send only tiny messages
            compression=None,  # deflate per socket would cost more CPU than the frames themselves
        )
    except BaseException:
        await hub.stop()
        raise
    bound = server.sockets[0].getsockname()[1] if server.sockets else port
    return BridgeHandle(hub, server, host, bound)


class _Sessions:
    """One dashboard's session: authenticate, join its view, answer resync requests."""

    def __init__(self, hub: Hub, signer: Any) -> None:
        self.hub = hub
        self.signer = signer

    async def handle(self, conn: ServerConnection) -> None:
        try:
            claims = await self._authenticate(conn)
        except Unauthorized as refused:
            await conn.close(p.CLOSE_UNAUTHORIZED, str(refused)[:100])
            return
        except (ConnectionClosed, TimeoutError):
            await conn.close(p.CLOSE_UNAUTHORIZED, "no token")
            return
        client = Client(conn, str(claims.role), claims.province)
        self.hub.add(client)
        loop = asyncio.get_running_loop()
        # The token's expiry ends the session too: a wall screen must not outlive its token.
        expiry = loop.call_later(max(0.0, claims.exp - time.time()),
                                 lambda: asyncio.ensure_future(conn.close(p.CLOSE_UNAUTHORIZED, "token expired")))
        try:
            async for message in conn:
                if _message_type(message) == "resync":
                    self.hub.resync(client)
        except ConnectionClosed:
            pass
        finally:
            expiry.cancel()
            self.hub.remove(client)

    async def _authenticate(self, conn: ServerConnection) -> Any:
        query = parse_qs(urlsplit(conn.request.path if conn.request else "/").query)
        token = (query.get("token") or [None])[0]
        if token is None:
            # A client that keeps tokens out of addresses (and so out of proxy logs) sends it first.
            first = await asyncio.wait_for(conn.recv(), timeout=p.AUTH_TIMEOUT_S)
            try:
                token = json.loads(first).get("token")
            except (ValueError, AttributeError):
                token = None
            if not isinstance(token, str):
                raise Unauthorized('the first message must be {"token": "..."}')
        return self.signer.verify(token)


def _message_type(message: str | bytes) -> str | None:
    try:
        value = json.loads(message)
    except ValueError:
        return None
    return value.get("type") if isinstance(value, dict) else None


# ---------------------------------------------------------------------- the page


def page_config(bridge_port: int, map_tiles: str = "") -> dict[str, Any]:
    """What the page is told at /dashboard/config.json: where its bridge listens, and a
    deployment's own map tiles if it has a tile server (else only the shipped layers)."""
    config: dict[str, Any] = {"bridge_port": bridge_port, "bridge_path": "/"}
    if map_tiles:
        config["map_tiles"] = map_tiles
    return config


def mount_dashboard(api: Any, *, bridge_port: int, map_tiles: str = "") -> None:
    """Serve the dashboard at "/" of the API, and where its bridge listens at /dashboard/config.json."""
    from starlette.staticfiles import StaticFiles

    @api.get("/dashboard/config.json", include_in_schema=False)
    def dashboard_config() -> dict[str, Any]:
        return page_config(bridge_port, map_tiles)

    # Mounted last: the API's own routes, registered before, keep precedence over "/".
    api.mount("/", StaticFiles(directory=STATIC, html=True), name="dashboard")


def _serve_page(conn: ServerConnection, request: Request, map_tiles: str = "") -> Response | None:
    """For the standalone bridge: plain HTTP GETs get the page, on the websocket's own port."""
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return None
    path = unquote(urlsplit(request.path).path)
    if path == "/dashboard/config.json":
        config = page_config(conn.local_address[1], map_tiles)
        return _response(200, json.dumps(config).encode(), "application/json")
    name = "index.html" if path in ("", "/") else path.lstrip("/")
    target = (STATIC / name).resolve()
    if STATIC not in target.parents or not target.is_file():
        return _response(404, b"not found", "text/plain")
    ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return _response(200, target.read_bytes(), ctype)


def _response(status: int, body: bytes, ctype: str) -> Response:
    reason = {200: "OK", 404: "Not Found"}.get(status, "")
    if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
        ctype += "; charset=utf-8"
    headers = Headers([("Content-Type", ctype), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-cache")])
    return Response(status, reason, headers, body)
