"""Pins what ui-bridge/flow.py relies on in websockets: a real server on 127.0.0.1 writes to a
client that does not read until the connection reports itself backed up, then the client
reads and the connection is no longer backed up."""

from __future__ import annotations

import asyncio
import base64
import os
from importlib.metadata import version

from websockets.asyncio.client import connect
from websockets.asyncio.connection import broadcast
from websockets.asyncio.server import serve

from ui_bridge import protocol as p
from ui_bridge.flow import is_backed_up

FRAME = base64.b64encode(os.urandom(49152)).decode()  # 64 KB that compression cannot shrink much
MOST = 64 * 1024 * 1024 // len(FRAME)  # frames: 64 MB at most before giving up
WAIT_S = 30.0  # a bound so a broken library fails instead of hanging; not a speed claim


def test_the_installed_major_version_is_the_one_flow_was_written_for():
    assert version("websockets").split(".")[0] == "17"


def test_a_socket_backs_up_while_its_client_does_not_read_and_recovers_when_it_does():
    asyncio.run(asyncio.wait_for(_backs_up_and_recovers(), WAIT_S * 2))


async def _backs_up_and_recovers():
    backed_up, sent_count, release = asyncio.Event(), [0], asyncio.Event()
    observed: dict[str, bool] = {}

    async def handler(conn):
        observed["at_start"] = is_backed_up(conn)
        while not is_backed_up(conn) and sent_count[0] < MOST:
            broadcast([conn], FRAME)  # as the hub writes: into the buffer, no waiting
            sent_count[0] += 1
            await asyncio.sleep(0)  # let the loop move bytes to the socket
        observed["backed_up"] = is_backed_up(conn)
        backed_up.set()
        await release.wait()
        # The client has read everything: the buffer has fallen below its low-water mark.
        observed["after_reading"] = is_backed_up(conn)
        await conn.close()

    # Served as ui_bridge.server serves the dashboards: its write limit, no compression.
    async with serve(handler, "127.0.0.1", 0, write_limit=p.WRITE_LIMIT, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", max_queue=1) as client:
            await asyncio.wait_for(backed_up.wait(), WAIT_S)
            assert observed["at_start"] is False
            assert observed["backed_up"] is True, f"not backed up after {sent_count[0]} frames"
            for _ in range(sent_count[0]):
                assert await asyncio.wait_for(client.recv(), WAIT_S) == FRAME
            release.set()
            await asyncio.wait_for(client.wait_closed(), WAIT_S)
    assert observed["after_reading"] is False
