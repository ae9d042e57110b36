"""The load generator counts answers the same way whether it paces requests or sends flat out:
a 2xx is answered, a 4xx is answered and refused, a 5xx failed, a transport error failed and
noted by kind; every answer has a latency and a status count."""

from __future__ import annotations

import asyncio
import itertools

from bench.loadgen import Run, flat_out, paced

STATUSES = (200, 404, 503, 0)  # 0: the transport fails


def _send():
    turn = itertools.cycle(STATUSES)

    async def send(_due: float) -> int:
        status = next(turn)
        if status == 0:
            raise ConnectionError("refused by the test")
        return status

    return send


def _check(run: Run) -> None:
    assert run.started >= len(STATUSES)
    transport_errors = sum(run.errors.values())
    answers = sum(run.statuses.values())
    assert transport_errors > 0 and "ConnectionError: refused by the test" in run.errors
    assert len(run.latencies_ms) == answers == run.started - transport_errors
    assert run.answered == run.statuses.get(200, 0) + run.statuses.get(404, 0)
    assert run.refused == run.statuses.get(404, 0) > 0
    assert run.failed == run.statuses.get(503, 0) + transport_errors
    assert run.statuses.get(503, 0) > 0


def test_paced_counts_answers_refusals_and_failures() -> None:
    _check(asyncio.run(paced(_send(), rate=400, seconds=0.1)))


def test_flat_out_counts_answers_refusals_and_failures() -> None:
    _check(asyncio.run(flat_out(_send(), connections=2, seconds=0.02)))


async def _keep_alive_server(idle_s: float, opened: list[int]) -> asyncio.Server:
    """An HTTP/1.1 server that answers 200 and lets a keep-alive connection go after ``idle_s``
    without a request (as uvicorn does after 5 s)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened.append(1)
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), idle_s)
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def _after_idle(monkeypatch, reopen_after_s: float) -> tuple[list[int], list[int]]:
    """Two requests on one connection with a pause longer than the server keeps it: the
    statuses (0: the transport failed) and the connections the server saw."""
    from bench import loadgen

    monkeypatch.setattr(loadgen, "IDLE_REOPEN_S", reopen_after_s)

    async def scenario() -> tuple[list[int], list[int]]:
        opened: list[int] = []
        server = await _keep_alive_server(0.2, opened)
        port = server.sockets[0].getsockname()[1]
        conn = await loadgen.Connection("127.0.0.1", port).open()
        statuses = []
        try:
            for _ in range(2):
                try:
                    statuses.append((await conn.request("POST", "/x", b"{}"))[0])
                except loadgen.HttpError:
                    statuses.append(0)
                await asyncio.sleep(0.4)  # the server has let the connection go meanwhile
        finally:
            conn.close()
            server.close()
            await server.wait_closed()
        return statuses, opened

    return asyncio.run(scenario())


def test_a_connection_idle_longer_than_the_server_keeps_it_is_opened_afresh(monkeypatch) -> None:
    statuses, opened = _after_idle(monkeypatch, reopen_after_s=0.1)
    assert statuses == [200, 200]
    assert len(opened) == 2


def test_without_reopening_an_idle_connection_the_request_after_the_pause_fails(monkeypatch) -> None:
    # What the windows of the suite counted as failed requests before (8 of 499 a round).
    statuses, opened = _after_idle(monkeypatch, reopen_after_s=60.0)
    assert statuses == [200, 0]
    assert len(opened) == 1


def test_a_mix_command_carries_an_idempotency_key_as_the_workspaces_send_it_and_a_position_report_none() -> None:
    """The suite's commands take the workspaces' path (ui-bridge/static/work/core.js: every action
    with its own Idempotency-Key; a team's position report is a query, without one)."""
    from bench.loadgen import Pool

    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                heads.append(head)
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        pool = await Pool("127.0.0.1", server.sockets[0].getsockname()[1], 1).open()
        try:
            await pool.post_timed("/api/v1/calls", {"province": "QZV"}, "t0k3n", key="bench-1")
            await pool.post_timed("/api/v1/calls", {"province": "QZV"}, "t0k3n", key="bench-2")
            await pool.post_timed("/api/v1/teams/x/position", {}, "t0k3n")
        finally:
            pool.close()
            server.close()
            await server.wait_closed()

    asyncio.run(scenario())
    keys = [[line for line in head.split(b"\r\n") if line.lower().startswith(b"idempotency-key:")] for head in heads]
    assert keys == [[b"Idempotency-Key: bench-1"], [b"Idempotency-Key: bench-2"], []]
    assert all(b"Authorization: Bearer t0k3n" in head for head in heads)

    from bench.mix import Command
    assert Command("/api/v1/calls", {}, "QZV", "receive_call").keyed
    assert not Command("/api/v1/teams/x/position", {}, "QZV", "report_position").keyed


def test_a_reports_time_to_the_map_runs_until_it_or_a_newer_position_is_shown() -> None:
    """bench.watch.time_to_map: a report thinned away counts until a newer one reaches the map,
    one never caught up with counts to the end of the watch — a map that moves once in 30 s
    cannot read as fresh."""
    from bench.watch import time_to_map

    sent = {"a": [100.0, 100.1, 100.2, 100.6], "b": [100.0, 130.0]}
    shown = {
        # a: its 100.2 report shown at 100.5 (carrying 100.0 and 100.1 with it); 100.6 never.
        "a": [(100.2, 100.5)],
        # b: only the first report, at 100.3; its 130.0 report is never shown (a 30 s map).
        "b": [(100.0, 100.3)],
    }
    delays, never = time_to_map(sent, shown, until=131.0)
    assert never == 2
    assert [round(d) for d in delays] == [500, 400, 300, 30400, 300, 1000]
    # A frame that shows an older position than a report does not count for it, even when later.
    delays, never = time_to_map({"c": [10.0]}, {"c": [(9.0, 10.5), (10.0, 10.8)]}, until=11.0)
    assert [round(d) for d in delays] == [800] and never == 0
