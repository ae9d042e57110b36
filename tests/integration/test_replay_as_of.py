"""Replay reproduces what was shown: board snapshots taken under live traffic carry what they
are as of (per-province log positions, the latest recording time); a replay to those positions
gives the same rows, byte for byte after canonical JSON — team positions included (those the
events carry; telemetry is kept out of this history)."""

from __future__ import annotations

import threading
import time
from typing import Any

from consumers.replay import replay
from eoc.audit.sources import StoreSource
from eoc.cli import main
from events.envelope import canonical_json
from projections.visibility import visible_rows
from tests.support.audit import cli_env
from tests.support.history import run_history
from tests.support.system import Api


def test_snapshots_under_live_traffic_replay_to_their_as_of(api: Api, monkeypatch: Any, tmp_path: Any) -> None:
    system = api.system
    system.service.telemetry_many = lambda kept, shown: None  # no telemetry: every position comes from an event
    done = threading.Event()

    def traffic() -> None:
        try:
            run_history(system.service, 700, seed=71)
        finally:
            done.set()

    worker = threading.Thread(target=traffic)
    worker.start()
    snapshots: list[dict[str, Any]] = []
    while not done.is_set() or len(snapshots) < 3:
        r = api.http.get("/api/v1/boards", headers=api.token("auditor", "IR"))
        assert r.status_code == 200
        snapshots.append(r.json())
        time.sleep(0.05)
    worker.join()
    mid_traffic = [s for s in snapshots if 0 < s["position"]]
    assert len(mid_traffic) >= 3 and len({s["position"] for s in mid_traffic}) >= 2
    source = StoreSource(system.app)
    with_positions = 0
    for snap in mid_traffic:
        as_of = snap["as_of"]
        assert as_of["position"] == snap["position"] == max(as_of["positions"].values())
        assert set(as_of["positions"]) <= {"QZV", "ALB", "KSH", "MZN", "THR"}
        assert as_of["recorded_at"] and all(snap["rows"][f"as-of/{p}"]["position"] == n
                                            for p, n in as_of["positions"].items())
        replayed = replay(source, positions=as_of["positions"])
        rows = visible_rows(replayed.rows, "auditor", "IR")
        with_positions += any(k.startswith("position/") for k in rows)  # positions included
        assert canonical_json(rows) == canonical_json(snap["rows"]), snap["position"]
    assert with_positions >= 2
    # The CLI does the same from a saved snapshot: `eoc diff --live-file` and `replay --positions`.
    cli_env(monkeypatch, system)
    saved = tmp_path / "boards.json"
    saved.write_text(canonical_json(mid_traffic[len(mid_traffic) // 2]).decode(), encoding="utf-8")
    assert main(["diff", "--quiet", "--live-file", str(saved), "--with-telemetry"]) == 0
    out = tmp_path / "replayed.json"
    assert main(["replay", "--quiet", "--positions", str(saved), "--format", "json", "--out", str(out)]) == 0


def test_diff_honours_as_and_province(api: Api, monkeypatch: Any, tmp_path: Any, capsys: Any) -> None:
    """`eoc diff --as dispatcher --province QZV` compares what a Qazvin dispatcher sees, no more."""
    run_history(api.system.service, 150, seed=5)
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id(), timeout=30)
    answer = api.http.get("/api/v1/boards", headers=api.token("auditor", "IR")).json()
    alb = next(k for k, r in answer["rows"].items() if isinstance(r, dict) and r.get("province") == "ALB")
    answer["rows"][alb] = {**answer["rows"][alb], "tampered": True}  # a difference outside Qazvin only
    saved = tmp_path / "boards.json"
    saved.write_text(canonical_json(answer).decode(), encoding="utf-8")
    cli_env(monkeypatch, api.system)
    assert main(["diff", "--quiet", "--live-file", str(saved)]) == 1
    capsys.readouterr()
    assert main(["diff", "--quiet", "--live-file", str(saved), "--as", "dispatcher", "--province", "QZV"]) == 0
    assert main(["diff", "--quiet", "--live-file", str(saved), "--as", "dispatcher", "--province", "ALB"]) == 1


def test_replay_at_a_snapshots_as_of_lands_on_its_exact_positions(make_system: Any, monkeypatch: Any,
                                                                  tmp_path: Any) -> None:
    """Every event of this history is recorded in one millisecond (the clock stands still
    between position reports), so a moment alone cannot tell where a snapshot stood:
    `eoc replay --at <as_of.at>` takes the positions the moment names. Snapshots over HTTP and
    the websocket, under live traffic with kept position reports, replay byte-equal after
    canonical JSON, team positions and as-of rows included."""
    import json
    from datetime import UTC, datetime, timedelta

    from tests.support.bridge import Dashboard
    from tests.support.system import FakeClock
    from ui_bridge.loop_thread import LoopThread
    from ui_bridge.server import start_embedded_bridge

    clock = FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
    system = make_system(clock=clock)
    api = Api(system)
    run_history(system.service, 80, seed=9)  # teams, centres, calls: all at one moment
    teams = [(k.split("/")[1], r["province"]) for k, r in system.follower.snapshot()[1].items()
             if k.startswith("team/")]
    loop = LoopThread()
    handle = loop.run(start_embedded_bridge(system, host="127.0.0.1", port=0))
    dash = Dashboard(handle, system.signer.issue("auditor", "IR"))
    done = threading.Event()

    def traffic() -> None:
        try:
            for i in range(300):
                if i % 25 == 0:  # a position report half a minute later: kept (one per team per 30 s)
                    t, province = teams[(i // 25) % len(teams)]
                    api.ok(f"/teams/{t}/position", {"position": {"lat": 36.2 + i / 1e4, "lon": 50.0},
                                                    "reported_at": clock.advance(seconds=31).isoformat()},
                           province=province)
                run_history(system.service, 1, seed=500 + i)
        finally:
            done.set()

    snapshots: list[tuple[str, dict[str, Any]]] = []
    try:
        dash.frame()
        worker = threading.Thread(target=traffic)
        worker.start()
        while not done.is_set() or len(snapshots) < 6:
            r = api.http.get("/api/v1/boards", headers=api.token("auditor", "IR"))
            snapshots.append(("http", r.json()))
            dash.ws.send(json.dumps({"type": "resync"}))
            frame = dash.frame()
            while frame["type"] != "snapshot":
                frame = dash.frame()
            snapshots.append(("websocket", frame))
            time.sleep(0.1)
        worker.join()
    finally:
        dash.close()
        loop.run(handle.stop())
        loop.close()
    cli_env(monkeypatch, system)
    mid = [s for s in snapshots if 0 < s[1]["as_of"]["position"]]
    chosen = mid[:: max(1, len(mid) // 8)][:8] + [mid[-1]]
    assert {channel for channel, _ in chosen} == {"http", "websocket"}
    assert any(snap["as_of"]["telemetry"] for _, snap in chosen)
    source = StoreSource(system.app, track=system.follower.track)
    torn_by_time = 0
    for n, (channel, snap) in enumerate(chosen):
        as_of = snap["as_of"]
        assert as_of["at"].startswith(as_of["recorded_at"] + "@")
        out = tmp_path / f"replay-{n}.json"
        assert main(["replay", "--quiet", "--at", as_of["at"], "--format", "json", "--out", str(out)]) == 0
        replayed = json.loads(out.read_text(encoding="utf-8"))
        assert canonical_json(replayed["rows"]) == canonical_json(snap["rows"]), (channel, as_of["at"])
        assert any(k.startswith("position/") for k in replayed["rows"])  # positions included
        from events.jalali import parse_moment

        by_time = replay(source, until=parse_moment(as_of["recorded_at"]))
        torn_by_time += canonical_json(visible_rows(by_time.rows, "auditor", "IR")) != canonical_json(snap["rows"])
    assert torn_by_time  # the moment alone lands elsewhere: the positions are what makes it exact
