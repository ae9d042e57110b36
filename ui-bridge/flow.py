"""Flow control of a dashboard's socket, as the websockets library (pyproject: >=17,<18) has it.

``is_backed_up``: the connection's ``paused`` flag, which websockets' asyncio connection keeps
as asyncio's transports report their write buffer: set when it rises above the high-water mark
(``write_limit``), cleared when the client has read enough for it to fall below the low one.
It is not documented API; ``tests/integration/test_adapter_websockets.py`` pins it against a real server
and a client that stops reading, so that an upgrade that changes it fails there.
"""

from __future__ import annotations

from typing import Any


def is_backed_up(conn: Any) -> bool:
    """True while the socket's write buffer is over its limit: the client is not keeping up."""
    return bool(conn.paused)
