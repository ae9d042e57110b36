"""The bridge's wire protocol: what a dashboard receives and may send, as JSON text frames.

Connecting
    ``ws://<host>:<port>/?token=<token>`` with an access token of a signed-in user (the
    sign-in page keeps it in the tab's sessionStorage, never in the address). A client that cannot put the
    token in the address may connect to ``ws://<host>:<port>/`` and send
    ``{"token": "<token>"}`` as its first message within ``AUTH_TIMEOUT_S``. A missing, bad
    or expired token closes the socket with code 4401 and the reason as the close reason;
    the token's expiry also closes a live socket with 4401 (the page asks for a new token),
    and so, within about ``REVOCATION_S``, do logout, "end all sessions" and disabling the
    user ("session ended"). A page from another site is refused at the handshake (``Origin``);
    at most so many sockets may wait for their token (else 1013) and one user may hold at
    most so many dashboards (else 4429).

Frames the bridge sends, in this order
    ``{"type": "snapshot", "seq": N, "rows": {key: row}, "role": r, "province": p,
    "now": t, "as_of": {...}}``
        every board row this role and province may see, consistent with sequence number N
        (each row of the type its key's kind has on a screen: projections/rows.py
        ``SEEN_KINDS``, published in events/asyncapi.yaml as ``DashboardRow``);
        ``as_of`` says what they are as of, as ``GET /api/v1/boards`` does: the log and
        position-track positions folded per province, the latest recording time, and ``at``
        (``eoc replay --at`` with it gives these rows back exactly).
        Rows pass through ``projections.visibility.visible_row``: outside the province a row
        is absent; a safe or health house appears without name, county, location or client
        ids unless the role may see secret places of that province (centre staff and the
        provincial supervisor of the province), for whom the sealed location is opened.
        In a demo the bridge's clock is the simulation's: ``now`` is the simulated moment and
        the snapshot says so with ``"clock": {"simulated": true, "rate": R}``, R simulated
        seconds to the real second (the page's clock runs that fast between frames).
    ``{"type": "delta", "seq": S, "prev": P, "changes": {key: row | null}, "now": t}``
        the rows changed in one tick (``TICK_S``, 50 ms), as the client may see them; null
        means the row is gone. ``prev`` is the sequence number of the frame this client was
        sent before (snapshot or delta). Sequence numbers are the feed's and are shared by
        all clients: a tick whose changes this client may not see is not sent to it, so its
        ``seq`` jumps, but ``prev`` always equals the ``seq`` of the client's previous frame.
        A client whose last applied ``seq`` differs from ``prev`` has missed a frame: it sends
        ``{"type": "resync"}`` and gets a fresh snapshot. A delta whose ``seq`` is not above
        the client's last one (already contained in its snapshot) is ignored.
    ``{"type": "heartbeat", "seq": N, "now": t}``
        every ``HEARTBEAT_S`` seconds, so that a wall screen can show that it is live even
        when nothing changes (besides the protocol's own ping/pong every ``PING_S``).

Slow clients
    Frames to a client whose socket is not draining wait in a short per-client backlog; when
    it holds more than ``MAX_BACKLOG`` frames, the backlog is dropped and the client is sent
    a fresh snapshot once its socket drains, followed by deltas as usual. A slow client
    never delays the others.

Messages a client may send
    ``{"token": "..."}`` (first message only, see above), ``{"type": "resync"}``. Anything
    else is ignored. A message (or frame) over ``MAX_MESSAGE`` bytes (64 KB, the command API's
    body limit too) is refused before it is read: the socket is closed with 1009 (message too
    big, the websocket's 413) and the reason ``frame with N bytes exceeds limit of 65536
    bytes``, as the first message and at any time after it.

Closing
    The bridge closes with 1001 (going away) when it shuts down; the page reconnects with
    backoff and starts again from a snapshot.

Why ticks
    A frame per delta per client does not reach a thousand dashboards on two cores
    (RUNBOOK.md: about 110 broadcasts a second to 1,000 sockets). The bridge therefore merges
    the changes of a tick, serialises each distinct view (role, province) once per tick, and
    writes the prebuilt frame to every socket of that view. The tick throttles on its leading
    edge: a change that comes when the last frame left a tick ago or more goes out at once,
    so a quiet board shows a command without the tick's wait; only changes that follow
    within the tick wait for its end.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from events.envelope import compact_json

# The bridge's throttle (ui-bridge/hub.py): frames leave at most every TICK_S, and at least
# MIN_GAP_S apart; between the two the gap is FLUSH_SHARE times what the last frames cost to
# make and write, so the loop spends at most about a 1/FLUSH_SHARE of its time on frames.
TICK_S = 0.05
MIN_GAP_S = 0.004
FLUSH_SHARE = 4.0
HEARTBEAT_S = 5.0
PING_S = 10.0
AUTH_TIMEOUT_S = 10.0
MAX_BACKLOG = 64  # frames; about three seconds of ticks
WRITE_LIMIT = 256 * 1024  # bytes waiting in a socket's buffer before it counts as not draining

REVOCATION_S = 1.0  # how often the bridge looks for ended sessions and disabled users

MAX_MESSAGE = 64 * 1024  # bytes a client may send in one message: its messages are tiny

CLOSE_GOING_AWAY = 1001
CLOSE_TOO_BIG = 1009  # a message over MAX_MESSAGE (closed by the websockets library, before it is read)
CLOSE_TRY_AGAIN = 1013  # too many sockets waiting to sign in: try again later
CLOSE_UNAUTHORIZED = 4401  # 4000-4999: for the application; the page stops and asks for a token
CLOSE_TOO_MANY = 4429  # this user holds too many dashboards already


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps(value: Any) -> str:
    # Persian stays Persian on the wire: half the bytes of \\u escapes. Every delta is serialised
    # once per view a tick: orjson (events.envelope.compact_json), several times faster.
    return compact_json(value).decode()


def snapshot_frame(seq: int, role: str, province: str, now: str, rows_json: str,
                   clock: dict[str, Any] | None = None, as_of: dict[str, Any] | None = None) -> str:
    """A snapshot frame around rows already serialised once for the view at this seq; ``as_of``
    (projections.as_of of the rows: log and track positions per province, the latest
    recording time, and ``at`` for ``eoc replay --at``) says exactly what it shows."""
    head = dumps({"type": "snapshot", "seq": seq, "role": role, "province": province, "now": now,
                  **({"clock": clock} if clock else {}), **({"as_of": as_of} if as_of is not None else {})})
    return head[:-1] + ',"rows":' + rows_json + "}"


def delta_frame(seq: int, prev: int, changes_json: str, now: str) -> str:
    """A delta frame around changes already serialised once for the whole view."""
    return f'{{"type":"delta","seq":{seq},"prev":{prev},"now":"{now}","changes":{changes_json}}}'


def heartbeat_frame(seq: int, now: str) -> str:
    return f'{{"type":"heartbeat","seq":{seq},"now":"{now}"}}'
