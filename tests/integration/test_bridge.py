"""The websocket bridge over real sockets: authentication, snapshot then deltas in order,
re-sync after a gap, batching per tick, slow clients, heartbeats and clean shutdown.

The bridge runs on a loop thread against an embedded system (SQLite); commands go through
the command API, so every frame checked here came from a stored event and the follower.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.bridge import ALB, IN_KARAJ, Dashboard
from tests.support.scenario import incident, team


@pytest.fixture
def store() -> str:
    return "sqlite"  # the bridge reads the follower; both stores feed it the same way


def token(system, role: str = "dispatcher", province: str = "QZV", **kw: Any) -> str:
    return system.signer.issue(role, province, **kw)


# ---------------------------------------------------------------------- connecting


def test_snapshot_first_then_deltas_of_commands(system, api, bridge):
    before = team(api, name="QZV-Before")
    # The answer comes once the command is stored; the board has it once the follower folded it.
    assert system.follower.wait_for(system.app.recorder.max_notification_id() or 0, timeout=10)
    handle = bridge()
    dash = Dashboard(handle, token(system))
    first = dash.frame()
    assert first["type"] == "snapshot"
    assert (first["role"], first["province"]) == ("dispatcher", "QZV")
    assert first["rows"][f"team/{before}"]["name"] == "QZV-Before"
    assert first["now"].endswith("Z")

    inc = incident(api)
    api.ok(f"/teams/{before}/dispatch", {"incident_id": inc}, role="dispatcher")
    rows = dash.until(lambda r: r.get(f"team/{before}", {}).get("status") == "dispatched")
    assert rows[f"incident/{inc}"]["teams"] == [before]
    assert dash.deltas >= 1 and dash.snapshots == 1

    api.ok(f"/incidents/{inc}/close", {"outcome": "resolved_on_scene"}, role="dispatcher")
    dash.until(lambda r: f"incident/{inc}" not in r)  # a deleted row arrives as null


def test_the_token_may_come_as_the_first_message(system, bridge):
    handle = bridge()
    dash = Dashboard(handle, token(system, "national_eoc", "IR"), in_query=False)
    frame = dash.frame()
    assert (frame["type"], frame["role"], frame["province"]) == ("snapshot", "national_eoc", "IR")


@pytest.mark.parametrize("bad", ["not-a-token", "e30.c2ln", "expired"])
def test_a_bad_or_expired_token_is_closed_with_4401(system, bridge, bad):
    handle = bridge()
    if bad == "expired":
        bad = system.signer.issue("dispatcher", "QZV", ttl_s=-10)
    dash = Dashboard(handle, bad)
    with pytest.raises(ConnectionClosed) as closed:
        dash.frame()
    assert closed.value.rcvd.code == 4401
    assert closed.value.rcvd.reason  # says why, for the page to show


def test_a_token_with_a_non_ascii_character_as_the_first_message_is_closed_with_4401(system, bridge):
    """The hostile-input review found this closed with 1011 (a TypeError in the signature check)."""
    dash = Dashboard(bridge(), "e30.c2l\u00e9.sig", in_query=False)
    with pytest.raises(ConnectionClosed) as closed:
        dash.frame()
    assert closed.value.rcvd.code == 4401


@pytest.mark.parametrize("when", ["first message", "later"])
def test_an_oversize_message_is_closed_with_1009_and_a_reason(system, bridge, when):
    """The websocket's frame limit (64 KB): refused before it is read, with a close code and a
    reason that say so; the bridge serves the next dashboard as before."""
    from ui_bridge import protocol as p

    handle = bridge()
    if when == "first message":
        dash = Dashboard(handle, None, in_query=False)
        dash.ws.send(json.dumps({"token": token(system), "pad": "x" * p.MAX_MESSAGE}))
    else:
        dash = Dashboard(handle, token(system))
        assert dash.frame()["type"] == "snapshot"
        dash.ws.send(json.dumps({"type": "resync", "pad": "x" * p.MAX_MESSAGE}))
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            dash.frame()
    assert closed.value.rcvd.code == p.CLOSE_TOO_BIG == 1009
    assert "exceeds limit of 65536 bytes" in closed.value.rcvd.reason
    # A message just under the limit is still a message (here a resync: a fresh snapshot).
    other = Dashboard(handle, token(system))
    assert other.frame()["type"] == "snapshot"
    other.ws.send(json.dumps({"type": "resync", "pad": "x" * (p.MAX_MESSAGE - 100)}))
    assert any(other.frame()["type"] == "snapshot" for _ in range(5))  # (a heartbeat may come first)


def test_a_session_ends_when_its_token_expires(system, bridge):
    dash = Dashboard(bridge(), system.signer.issue("dispatcher", "QZV", ttl_s=1))
    assert dash.frame()["type"] == "snapshot"
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            dash.frame(timeout=10)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "token expired")


def test_a_token_signed_with_another_secret_is_refused(system, bridge):
    from eoc.app.auth import TokenSigner

    forged = TokenSigner(b"another-secret-another-secret").issue("national_eoc", "IR")
    dash = Dashboard(bridge(), forged)
    with pytest.raises(ConnectionClosed) as closed:
        dash.frame()
    assert closed.value.rcvd.code == 4401


# ---------------------------------------------------------------------- order, scope, gaps


def test_a_delta_out_of_scope_is_not_sent_but_prev_keeps_the_chain(system, api, bridge):
    handle = bridge()
    qzv = Dashboard(handle, token(system, "dispatcher", "QZV"))
    alb = Dashboard(handle, token(system, "dispatcher", "ALB"))
    nation = Dashboard(handle, token(system, "national_eoc", "IR"))
    for d in (qzv, alb, nation):
        d.frame()
    for i in range(3):  # QZV changes that the ALB dispatcher may not see, each in its own tick
        t = team(api, name=f"QZV-{i}", on_shift=False)
        nation.until(lambda r, t=t: f"team/{t}" in r)
    karaj = api.ok("/teams", {**ALB, "name": "ALB-1", "home": IN_KARAJ}, province="ALB")["team_id"]
    alb.until(lambda r: f"team/{karaj}" in r)
    nation.until(lambda r: f"team/{karaj}" in r)
    qzv.until(lambda r: f"team/{t}" in r)
    # The ALB dashboard got one delta where the nation got four: its seq jumped over the QZV
    # ticks, and its prev still matched its previous frame (Dashboard checks every prev).
    assert (alb.deltas, nation.deltas) == (1, 4)
    assert not any(r.get("province") == "QZV" for r in alb.rows.values() if isinstance(r, dict))
    assert sum(k.startswith("team/") for k in nation.rows) == 4
    assert all(r.get("province") == "QZV" for r in qzv.rows.values() if isinstance(r, dict))
    assert not any(k.startswith("applied/ALB") for k in qzv.rows)


def test_resync_answers_with_a_fresh_snapshot(system, api, bridge):
    handle = bridge()
    dash = Dashboard(handle, token(system))
    dash.frame()
    t = team(api)
    # On shift: registered (off duty) and the shift's start may come in two ticks.
    dash.until(lambda r: r.get(f"team/{t}", {}).get("status") == "available")
    dash.ws.send(json.dumps({"type": "resync"}))
    frame = dash.frame()
    while frame["type"] != "snapshot":
        frame = dash.frame()
    assert frame["rows"][f"team/{t}"]["status"] == "available"
    assert frame["seq"] >= dash.seq


def test_changes_of_one_tick_go_out_as_one_frame(system, api, bridge, loop_thread):
    # A long tick makes "the same tick" certain; the merge is what is checked, not speed.
    t = team(api)
    handle = bridge(tick_s=0.5, min_gap_s=0.5)  # a fixed half-second gap
    dash = Dashboard(handle, token(system))
    dash.frame()
    def report(i: int) -> None:
        system.follower.apply_telemetry(position_report(t, 36.0 + i / 100, later_ms=i))

    # All 20 reports are folded before the loop gets to run the next tick: one frame carries them.
    loop_thread.run(_call_on_loop(lambda: [report(i) for i in range(20)]))
    frame = dash.frame()
    assert frame["type"] == "delta"
    assert frame["changes"][f"position/{t}"]["lat"] == pytest.approx(36.19)
    assert frame["seq"] - frame["prev"] >= 20  # twenty sequence numbers, one frame


def position_report(team_id: str, lat: float, lon: float = 50.0, province: str = "QZV", later_ms: int = 0):
    """A team's position report as the command service hands it to the follower (telemetry).

    The newest report by its time wins: ``later_ms`` orders reports made within one millisecond.
    """
    from datetime import UTC, datetime, timedelta
    from uuid import uuid4

    from events.envelope import Envelope, iso

    now = iso(datetime.now(UTC) + timedelta(milliseconds=later_ms))
    return Envelope(type="TeamPositionReported", version=1, id=str(uuid4()), aggregate_id=team_id,
                    aggregate_version=2, occurred_at=now, recorded_at=now, province=province, county="Qazvin",
                    actor={"role": "team", "user": "tablet"}, exercise=False,
                    payload={"position": {"lat": lat, "lon": lon}, "speed_kmh": 40.0, "heading": 90.0})


async def _call_on_loop(fn: Callable[[], Any]) -> Any:
    # Runs on the bridge's loop: the follower hops its deltas onto this loop, so none of them
    # can be flushed before fn returns.
    return fn()


def test_heartbeats_keep_an_idle_screen_alive(system, bridge):
    handle = bridge(heartbeat_s=0.2)
    dash = Dashboard(handle, token(system))
    first = dash.frame()
    beat = dash.frame(timeout=5)
    assert beat["type"] == "heartbeat" and beat["seq"] == first["seq"]


def test_shutdown_closes_every_socket_with_1001(system, bridge, loop_thread):
    handle = bridge()
    dashes = [Dashboard(handle, token(system, "national_eoc", "IR")) for _ in range(3)]
    for d in dashes:
        d.frame()
    loop_thread.run(handle.stop())
    for d in dashes:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                d.frame()
        assert closed.value.rcvd.code == 1001


def test_a_restarted_bridge_on_the_same_port_serves_the_current_board(system, api, bridge, loop_thread):
    handle = bridge()
    port = handle.port
    loop_thread.run(handle.stop())
    t = team(api, name="made-while-down")
    # The snapshot is the follower's: on a loaded machine it may fold the team a moment later.
    assert system.follower.wait_for(system.app.recorder.max_notification_id() or 0, timeout=10)
    again = bridge(port=port)
    dash = Dashboard(again, token(system))
    assert dash.frame()["rows"][f"team/{t}"]["name"] == "made-while-down"


# ---------------------------------------------------------------------- slow clients


class Stalled:
    """A raw client that completes the handshake and then never reads: a frozen wall screen."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall((f"GET /?token={token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def frames(self, timeout: float = 5.0) -> Iterator[dict[str, Any]]:
        """Start reading at last: the frames it gets from here on."""
        self.sock.settimeout(timeout)
        buf = b""
        while True:
            while len(buf) < 2 or len(buf) < _frame_len(buf):
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    return
                buf += chunk
            n = _frame_len(buf)
            opcode, payload, buf = buf[0] & 0x0F, buf[_head_len(buf):n], buf[n:]
            if opcode == 1:
                yield json.loads(payload)

    def close(self) -> None:
        self.sock.close()


def _head_len(buf: bytes) -> int:
    size = buf[1] & 0x7F
    return 2 if size < 126 else 4 if size == 126 else 10


def _frame_len(buf: bytes) -> int:
    if len(buf) < 2:
        return 2
    size = buf[1] & 0x7F
    if size == 126:
        if len(buf) < 4:
            return 4
        size = int.from_bytes(buf[2:4], "big")
    elif size == 127:
        if len(buf) < 10:
            return 10
        size = int.from_bytes(buf[2:10], "big")
    return _head_len(buf) + size


class ManualFeed:
    """A feed the test pushes rows into (the hub does not care where rows come from)."""

    def __init__(self) -> None:
        self.on_changes: Callable[[int, dict[str, Any]], None] | None = None
        self.seq = 0

    async def start(self, on_changes):
        self.on_changes = on_changes
        return 0, {}

    async def stop(self) -> None:
        self.on_changes = None

    async def push(self, changes: dict[str, Any]) -> int:
        self.seq += 1
        assert self.on_changes is not None
        self.on_changes(self.seq, changes)
        return self.seq


def test_a_stalled_client_gets_a_snapshot_and_never_holds_up_the_others(system, loop_thread):
    from ui_bridge.server import start_bridge

    feed = ManualFeed()
    handle = loop_thread.run(start_bridge(feed, system.signer, None, host="127.0.0.1", port=0,
                                          max_backlog=4, write_limit=1024, tick_s=0.01))
    try:
        stalled = Stalled(handle.port, token(system))
        live = Dashboard(handle, token(system))
        live.frame()
        # Big rows, many ticks: far more than the stalled socket's buffers and backlog can hold.
        padding = "x" * 100_000
        for i in range(120):
            loop_thread.run(feed.push({"team/t1": {"id": "t1", "province": "QZV", "n": i, "pad": padding}}))
            # The live dashboard reads on and gets every change while the other one is stalled.
            live.until(lambda r, i=i: r.get("team/t1", {}).get("n") == i)
        assert handle.hub.stats.overflows >= 1, "the stalled client's backlog never overflowed"
        # The stalled screen wakes up: after what was already in its socket it gets a snapshot
        # of the newest board, not the 120 frames one by one.
        seen = []
        for frame in stalled.frames():
            seen.append(frame)
            if frame["type"] == "snapshot" and len(seen) > 1:
                break
        assert seen[0]["type"] == "snapshot" and seen[-1]["type"] == "snapshot"
        assert seen[-1]["rows"]["team/t1"]["n"] == 119
        assert len(seen) < 100
        deltas = [f for f in seen if f["type"] == "delta"]
        assert [f["prev"] for f in deltas[1:]] == [f["seq"] for f in deltas[:-1]]
        stalled.close()
    finally:
        loop_thread.run(handle.stop())


# ---------------------------------------------------------------------- leading-edge tick


def test_a_lone_delta_is_sent_without_waiting_for_the_tick(system, loop_thread):
    """An hour-long gap: a delta that arrives is only seen if it was sent on the tick's
    leading edge; the next change within the tick waits for the tick's end (ordering, not speed)."""
    from ui_bridge.server import start_bridge

    feed = ManualFeed()
    handle = loop_thread.run(start_bridge(feed, system.signer, None, host="127.0.0.1", port=0, tick_s=3600,
                                          min_gap_s=3600))
    try:
        dash = Dashboard(handle, token(system))
        assert dash.frame()["type"] == "snapshot"
        first = loop_thread.run(feed.push({"team/t1": {"id": "t1", "province": "QZV", "n": 1}}))
        frame = dash.frame(timeout=10)  # the tick ends in an hour: this frame is the leading edge
        assert (frame["type"], frame["seq"], frame["changes"]["team/t1"]["n"]) == ("delta", first, 1)

        # A second change within the same tick is held for the tick's end, merged with a third.
        loop_thread.run(feed.push({"team/t1": {"id": "t1", "province": "QZV", "n": 2}}))
        last = loop_thread.run(feed.push({"team/t2": {"id": "t2", "province": "QZV", "n": 3}}))
        loop_thread.run(_yield_a_few_turns())
        hub = handle.hub
        assert hub.stats.ticks == 1 and set(hub._pending) == {"team/t1", "team/t2"}
        assert hub.throttle.due is not None and hub.throttle.due.when() > loop_thread.loop.time() + 3000

        loop_thread.run(_call_on_loop(hub.flush))  # what the tick's end does
        frame = dash.frame(timeout=10)
        assert (frame["prev"], frame["seq"]) == (first, last)
        assert frame["changes"]["team/t1"]["n"] == 2 and frame["changes"]["team/t2"]["n"] == 3
    finally:
        loop_thread.run(handle.stop())


async def _yield_a_few_turns() -> None:
    import asyncio

    for _ in range(5):
        await asyncio.sleep(0)


# ---------------------------------------------------------------------- a demo's simulated clock


def test_demo_bridge_frames_carry_the_simulated_clock(system, loop_thread):
    """In a demo the bridge's clock is the simulation's: frames carry the simulated moment and
    the snapshot says that it is simulated and how fast it runs (the page's clock follows)."""
    from ui_bridge.server import start_bridge

    feed = ManualFeed()
    moment = "2026-11-30T05:30:00.000Z"
    handle = loop_thread.run(start_bridge(feed, system.signer, None, host="127.0.0.1", port=0,
                                          now=lambda: moment, clock=lambda: {"simulated": True, "rate": 600.0}))
    try:
        dash = Dashboard(handle, token(system))
        snapshot = dash.frame()
        assert snapshot["type"] == "snapshot" and snapshot["now"] == moment
        assert snapshot["clock"] == {"simulated": True, "rate": 600.0}
        loop_thread.run(feed.push({"team/t1": {"id": "t1", "province": "QZV", "n": 1}}))
        delta = dash.frame(timeout=10)
        assert delta["type"] == "delta" and delta["now"] == moment
    finally:
        loop_thread.run(handle.stop())
    plain = loop_thread.run(start_bridge(ManualFeed(), system.signer, None, host="127.0.0.1", port=0))
    try:
        assert "clock" not in Dashboard(plain, token(system)).frame()  # a real clock says nothing
    finally:
        loop_thread.run(plain.stop())
