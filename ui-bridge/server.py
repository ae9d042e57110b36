"""The websocket bridge's server, and the dashboard page served beside the command API.

``start_embedded_bridge`` feeds the bridge from the in-process follower (``eoc demo``);
``start_bridge`` takes any feed (the Kafka board topic for ``eoc bridge``). The wire
protocol is described in ``ui_bridge.protocol``.
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
import logging
import mimetypes
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from eoc.app.access_log import record_secret_reads, secret_subjects
from eoc.app.metrics import health_answer, watch_hub
from eoc.domain.errors import Unauthorized
from eoc.http.transport import headers_for, server_ssl
from events import reference
from events.vocabulary import vocabulary
from projections.visibility import Unseal

from . import protocol as p
from .feed import BoardFeed, FollowerFeed
from .hub import Client, Hub

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
# The pages' words are data (static/words.json, static/work/words.json) that the pages import
# as modules: served as ``export default <the JSON>;`` at the same path with ``.js``. (A JSON
# module import, ``with { type: "json" }``, needs Chrome 123 / Firefox 138: on an older desk
# browser no page would load at all.)
DATA_MODULES = ("words.js", "work/words.js")


@functools.lru_cache(maxsize=len(DATA_MODULES) + 8)
def data_module(name: str) -> bytes | None:
    """The module a page imports for one of its data files, or None if ``name`` is not one.
    The pages' catalogue (words.js) gets the service's vocabulary from events/vocabulary.py,
    [Persian, English] per word: one vocabulary for the server, the terminal and the pages.
    Made once per process (the files ship with the release), not at every page load."""
    if name not in DATA_MODULES:
        return None
    data = json.loads((STATIC / name).with_suffix(".json").read_text(encoding="utf-8"))
    if name == "words.js":
        data["vocabulary"] = vocabulary()
    return b"export default " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b";\n"


@dataclass
class BridgeHandle:
    """A running bridge: ``await handle.stop()`` closes every socket with 1001 and stops the feed."""

    hub: Hub
    server: Server
    host: str
    port: int
    stopped: bool = False
    sessions: Any = None

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.sessions is not None:
            self.sessions.stop()
        self.server.close(close_connections=True, code=p.CLOSE_GOING_AWAY, reason="bridge stopping")
        await self.server.wait_closed()
        await self.hub.stop()


async def start_embedded_bridge(system: Any, *, host: str, port: int, **options: Any) -> BridgeHandle:
    """The bridge fed by the system's in-process follower."""
    settings = system.settings
    options.setdefault("access_log", system.access_log)
    options.setdefault("allowed_origins", settings.allowed_origins)
    options.setdefault("max_unauthenticated", settings.ws_max_unauthenticated)
    options.setdefault("max_per_user", settings.ws_max_per_user)
    options.setdefault("ssl", server_ssl(settings.tls_cert, settings.tls_key))
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
    api_url: str | None = None,
    api_port: int | None = None,
    ping_s: float = p.PING_S,
    write_limit: int = p.WRITE_LIMIT,
    access_log: Any = None,
    allowed_origins: tuple[str, ...] = (),
    max_unauthenticated: int = 200,
    max_per_user: int = 8,
    revocation_s: float = p.REVOCATION_S,
    ssl: Any = None,
    metrics: Any = None,
    **hub_options: Any,
) -> BridgeHandle:
    """Start the feed, then listen. With ``serve_page`` plain HTTP GETs get the dashboard too.

    The bridge has no sign-in of its own (a websocket server answers no POST): with
    ``api_url`` (or ``api_port``: the same host name on that port) its pages send people to
    the API's same page, where they sign in and the dashboard then connects back here.

    Pages from another site may not open a socket (``Origin`` must be this host's, or one of
    ``allowed_origins``); at most ``max_unauthenticated`` sockets may wait for their token and
    a user may hold ``max_per_user`` dashboards; revoked sessions are closed within
    ``revocation_s`` (about a second)."""
    if access_log is not None:
        hub_options.setdefault("on_read", _access_recorder(access_log))
    hub = Hub(feed, unseal, **hub_options)
    await hub.start()
    sessions = _Sessions(hub, signer, max_unauthenticated=max_unauthenticated, max_per_user=max_per_user)
    page = (functools.partial(_serve_page, map_tiles=map_tiles, api_url=api_url, api_port=api_port)
            if serve_page else None)
    if metrics is not None:  # ``eoc.app.metrics.Metrics``: /metrics, /healthz, /readyz on this port
        watch_hub(metrics, hub)
        page = functools.partial(_serve_health, metrics=metrics, then=page)
    guard = _OriginGuard(allowed_origins, page)
    try:
        server = await serve(
            sessions.handle, host, port, ssl=ssl,
            process_request=guard,
            ping_interval=ping_s, ping_timeout=2 * ping_s,
            write_limit=write_limit, max_size=p.MAX_MESSAGE,  # 1009 before an oversize message is read
            compression=None,  # deflate per socket would cost more CPU than the frames themselves
        )
    except BaseException:
        await hub.stop()
        raise
    bound = server.sockets[0].getsockname()[1] if server.sockets else port
    sessions.watch(revocation_s)
    return BridgeHandle(hub, server, host, bound, sessions=sessions)


def _access_recorder(access_log: Any) -> Any:

    def on_read(clients: list[Client], rows: dict[str, Any], channel: str) -> None:
        # The rows are looked through once for every dashboard they went to (one view's frame:
        # a thousand national boards, tens of frames a second); an entry for each that was told.
        found = secret_subjects(rows)
        for client in clients if found else ():
            try:  # one entry that fails to be written must not cost the others theirs
                record_secret_reads(access_log, client.user, client.role, client.province, "websocket", rows,
                                    found=found, frame=channel)
            except Exception:
                log.exception("recording a read in the access log failed")

    return on_read


class _OriginGuard:
    """Refuse the handshake of a page from another site (cross-site websocket hijacking)."""

    def __init__(self, allowed: tuple[str, ...], then: Any) -> None:
        self.allowed = {o.rstrip("/") for o in allowed}
        self.then = then

    def __call__(self, conn: ServerConnection, request: Request) -> Response | None:
        origin = request.headers.get("Origin")
        if origin is not None and request.headers.get("Upgrade", "").lower() == "websocket":
            host = (request.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
            if origin.rstrip("/") not in self.allowed and urlsplit(origin).hostname != host:
                return _response(403, b"this page's origin may not open the bridge", "text/plain")
        return self.then(conn, request) if self.then is not None else None


class _Sessions:
    """One dashboard's session: authenticate, join its view, answer resync requests."""

    def __init__(self, hub: Hub, signer: Any, *, max_unauthenticated: int = 200, max_per_user: int = 8) -> None:
        self.hub = hub
        self.signer = signer
        self.max_unauthenticated = max_unauthenticated
        self.max_per_user = max_per_user
        self.waiting = 0  # sockets that have not yet given a good token
        self.live: dict[Client, Any] = {}  # client -> its claims
        self._watcher: asyncio.Task[None] | None = None

    def watch(self, every_s: float) -> None:
        if getattr(self.signer, "revoked_since", None) is not None:
            self._watcher = asyncio.create_task(self._watch_revocations(every_s), name="bridge-revocations")

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()

    async def _watch_revocations(self, every_s: float) -> None:
        """Close the dashboards of ended sessions and disabled users within seconds."""
        since = time.time()
        while True:
            await asyncio.sleep(every_s)
            asked = time.time()
            try:
                sids, users = await asyncio.to_thread(self.signer.revoked_since, since - 2 * every_s)
            except Exception:
                log.exception("checking revoked sessions failed")
                continue
            since = asked
            for client, claims in list(self.live.items()):
                ended = (claims.sid is not None and claims.sid in sids) or (
                    claims.sub in users and claims.sid is None and claims.iat <= users[claims.sub])
                if ended:
                    asyncio.ensure_future(client.conn.close(p.CLOSE_UNAUTHORIZED, "session ended"))

    async def handle(self, conn: ServerConnection) -> None:
        if self.waiting >= self.max_unauthenticated:
            await conn.close(p.CLOSE_TRY_AGAIN, "too many connections waiting to sign in")
            return
        self.waiting += 1
        try:
            claims = await self._authenticate(conn)
        except Unauthorized as refused:
            await conn.close(p.CLOSE_UNAUTHORIZED, str(refused)[:100])
            return
        except (ConnectionClosed, TimeoutError):
            await conn.close(p.CLOSE_UNAUTHORIZED, "no token")
            return
        finally:
            self.waiting -= 1
        if sum(1 for c in self.live.values() if c.sub == claims.sub) >= self.max_per_user:
            await conn.close(p.CLOSE_TOO_MANY, "too many dashboards open for this user")
            return
        client = Client(conn, str(claims.role), claims.province, user=claims.sub, session=claims.sid)
        self.live[client] = claims
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
            self.live.pop(client, None)
            self.hub.remove(client)

    async def _authenticate(self, conn: ServerConnection) -> Any:
        query = parse_qs(urlsplit(conn.request.path if conn.request else "/").query)
        token = query["token"][0] if query.get("token") else None
        if token is None:
            # A client that keeps tokens out of addresses (and so out of proxy logs) sends it first.
            first = await asyncio.wait_for(conn.recv(), timeout=p.AUTH_TIMEOUT_S)
            try:
                token = json.loads(first).get("token")
            except (ValueError, AttributeError):
                token = None
            if not isinstance(token, str):
                raise Unauthorized('the first message must be {"token": "..."}')
        return await asyncio.to_thread(self.signer.verify, token)  # the directory is asked too


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


def _fold(name: str) -> str:
    """A name as the page compares it (i18n.js fold): letters only, no accents, lower case."""
    plain = unicodedata.normalize("NFD", name)
    return re.sub(r"[^a-z]", "", "".join(ch for ch in plain if not unicodedata.combining(ch)).lower())


@functools.lru_cache(maxsize=1)
def county_names() -> dict[str, str]:
    """Counties' Persian names for the page, from the reference table (events/data):
    "<province>/<folded English name or alias>" -> Persian name."""

    out: dict[str, str] = {}
    for code, province in reference.provinces().items():
        for county in province.counties:
            for name in (county.name, *county.aliases):
                if _fold(name):
                    out.setdefault(f"{code}/{_fold(name)}", county.name_fa)
    return out


def mount_dashboard(api: Any, *, bridge_port: int, map_tiles: str = "") -> None:
    """Serve the dashboard at "/" of the API, and where its bridge listens at /dashboard/config.json."""
    from starlette.responses import Response as HTTPResponse
    from starlette.staticfiles import StaticFiles

    @api.get("/dashboard/config.json", include_in_schema=False)
    def dashboard_config() -> dict[str, Any]:
        return page_config(bridge_port, map_tiles)

    @api.get("/dashboard/counties.json", include_in_schema=False)
    def dashboard_counties() -> dict[str, str]:
        return county_names()

    def module_of(name: str) -> Any:
        def words_module() -> HTTPResponse:
            return HTTPResponse(data_module(name), media_type="text/javascript")
        return words_module

    for name in DATA_MODULES:
        api.add_api_route(f"/{name}", module_of(name), methods=["GET"], include_in_schema=False)

    # Mounted last: the API's own routes, registered before, keep precedence over "/".
    api.mount("/", StaticFiles(directory=STATIC, html=True), name="dashboard")


SIGN_IN_ELSEWHERE = """<!doctype html>
<html lang="fa" dir="rtl"><head><meta charset="utf-8"><title>ورود · Sign in</title></head>
<body><main>
<h1>ورود به سامانه · Sign in</h1>
<p>ورود از راه نشانی سامانه انجام می‌شود؛ داشبورد پس از ورود به همین‌جا وصل می‌شود.</p>
<p dir="ltr">People sign in at the system's address; the dashboard then connects to this bridge.</p>
<p><a id="signin" href="{url}">{url}</a></p>
</main></body></html>
"""


def _api_page(request: Request, path: str, api_url: str | None, api_port: int | None) -> str | None:
    """Where a page of the bridge is found on the API (None: no API known)."""
    if api_url:
        base = api_url.rstrip("/")
    elif api_port:
        host = urlsplit("//" + (request.headers.get("Host") or "localhost")).hostname or "localhost"
        host = f"[{host}]" if ":" in host else host
        scheme = "https" if request.headers.get("X-Forwarded-Proto") == "https" else "http"
        base = f"{scheme}://{host}:{api_port}"
    else:
        return None
    query = urlsplit(request.path).query
    return f"{base}{path or '/'}" + (f"?{query}" if query else "")


def _serve_page(conn: ServerConnection, request: Request, map_tiles: str = "", api_url: str | None = None,
                api_port: int | None = None) -> Response | None:
    """For the standalone bridge: plain HTTP GETs get the page, on the websocket's own port.

    A page needs a session, which is signed in (a POST) at the API: with the API's address
    known, the pages (``/`` and ``*.html``) send the browser there with a clear message (a
    one-time link's ``#link=`` travels along: a browser keeps the fragment through a redirect)."""
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return None
    path = unquote(urlsplit(request.path).path)
    if path in ("", "/") or path.endswith(".html"):
        there = _api_page(request, path, api_url, api_port)
        if there is not None:
            body = SIGN_IN_ELSEWHERE.format(url=html.escape(there, quote=True)).encode()
            response = _response(302, body, "text/html")
            response.headers["Location"] = there
            return response
    if path == "/dashboard/config.json":
        config = page_config(conn.local_address[1], map_tiles)
        return _response(200, json.dumps(config).encode(), "application/json")
    if path == "/dashboard/counties.json":
        return _response(200, json.dumps(county_names(), ensure_ascii=False).encode(), "application/json")
    name = "index.html" if path in ("", "/") else path.lstrip("/")
    if (module := data_module(name)) is not None:
        return _response(200, module, "text/javascript")
    target = (STATIC / name).resolve()
    if STATIC not in target.parents or not target.is_file():
        return _response(404, b"not found", "text/plain")
    ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return _response(200, target.read_bytes(), ctype)


def _serve_health(conn: ServerConnection, request: Request, *, metrics: Any, then: Any) -> Response | None:
    """The operators' endpoints of a standalone bridge, on its own port."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        answer = health_answer(metrics, unquote(urlsplit(request.path).path))
        if answer is not None:
            status, body, ctype = answer
            return _response(status, body, ctype)
    return then(conn, request) if then is not None else None


def _response(status: int, body: bytes, ctype: str) -> Response:
    reason = {200: "OK", 302: "Found", 403: "Forbidden", 404: "Not Found", 503: "Service Unavailable"}.get(status, "")
    if (ctype.startswith("text/") and "charset" not in ctype) or ctype in ("application/javascript", "application/json"):
        ctype += "; charset=utf-8"
    headers = Headers([("Content-Type", ctype), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-cache"), *headers_for("/").items()])
    return Response(status, reason, headers, body)
