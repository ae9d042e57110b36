"""Replay: the boards rebuilt from the event store or from Kafka equal the live ones — at the
end of a 100,000-event stream, and at a moment in the middle (Jalali or ISO); exports; diff."""

from __future__ import annotations

import csv
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from consumers.follower import Follower
from consumers.replay import replay
from eoc.app.keyring import SQLiteKeyring
from eoc.app.service import EOCApplication
from eoc.audit.diff import diff_rows, without_telemetry
from eoc.audit.sources import KafkaSource, StoreSource
from eoc.cli import main
from events.envelope import Envelope, iso
from events.jalali import format_jalali, parse_moment
from projections import fold
from tests.support.audit import api_boards, cli_env, publish, stored_dicts, with_history
from tests.support.history import aggregates
from tests.support.served import free_port


def live_view(rows: dict[str, Any]) -> dict[str, Any]:
    return without_telemetry(rows)


# ---------------------------------------------------------------------- 100,000 events


@pytest.mark.slow
@pytest.mark.kafka
def test_replay_of_100k_events_from_the_store_and_from_kafka_equals_the_live_boards(
        kafka_bootstrap: str, kafka_topic: Any) -> None:
    app = EOCApplication(env={})
    follower = Follower(app).start()  # the live boards, folded as the events are written
    try:
        history = aggregates(app, keyring=SQLiteKeyring(":memory:"), seed=1403)
        written = history.run(100_000)
        head = app.recorder.max_notification_id()
        assert written >= 100_000 and head == written
        assert follower.wait_for(head, timeout=120)
        _, live = follower.snapshot()
    finally:
        follower.stop()
    live = live_view(live)
    assert len(live) > 200 and any(k.startswith("drill/") for k in live)

    from_store = replay(StoreSource(app))
    assert from_store.events == head and from_store.position == head
    assert diff_rows(live, live_view(from_store.rows)) == []

    topic = kafka_topic(partitions=8)
    publish(kafka_bootstrap, topic, stored_dicts(app))
    from_kafka = replay(KafkaSource(kafka_bootstrap, topic))
    assert from_kafka.events == head and not from_kafka.rejected
    assert diff_rows(live, live_view(from_kafka.rows)) == []


# ---------------------------------------------------------------------- to a moment


def _after(moment: str) -> None:
    """Let the wall clock pass ``moment`` (recorded_at has millisecond resolution)."""
    while iso(datetime.now(UTC)) <= moment:
        pass


@pytest.mark.kafka
def test_replay_to_a_moment_gives_the_boards_as_they_stood_then(
        make_system: Any, kafka_bootstrap: str, kafka_topic: Any) -> None:
    system = make_system()
    history = with_history(system, 1500, seed=11)
    _, then = system.follower.snapshot()  # what the EOC showed at that moment
    moment_text = max(v["recorded_at"] for v in stored_dicts(system.app))
    _after(moment_text)
    history.run(1500)
    system.follower.wait_for(system.app.recorder.max_notification_id())
    moment = datetime.fromisoformat(moment_text)

    from_store = replay(StoreSource(system.app), until=moment)
    assert diff_rows(live_view(then), live_view(from_store.rows)) == []
    assert from_store.events < system.app.recorder.max_notification_id()

    values = stored_dicts(system.app)
    topic = kafka_topic(partitions=3)
    stamps = [int(datetime.fromisoformat(v["recorded_at"]).timestamp() * 1000) for v in values]
    publish(kafka_bootstrap, topic, values, timestamps_ms=stamps)  # sent as they were recorded
    source = KafkaSource(kafka_bootstrap, topic)
    # The broker's offsets-for-times bound the read: with no lag allowed, it stops at the moment.
    assert source.count(moment, lag=timedelta(0)) < len(values)
    from_kafka = replay(source, until=moment, lag=timedelta(0))
    assert diff_rows(live_view(then), live_view(from_kafka.rows)) == []
    assert from_kafka.events == from_store.events


def test_a_jalali_moment_cuts_by_when_events_happened(make_system: Any) -> None:
    system = make_system()
    with_history(system, 1200, seed=12, start=datetime(2024, 8, 26, 12, 0, tzinfo=UTC), mean_gap_s=120)
    # 7 Shahrivar 1403, 02:13 Iran time = 2024-08-27T22:43Z, inside the simulated day and a half
    moment = parse_moment("7 Shahrivar 1403 02:13")
    assert moment == parse_moment("۱۴۰۳/۰۶/۰۷ ۰۲:۱۳") == parse_moment("2024-08-27T22:43:00Z")
    envelopes = [Envelope.from_dict(v) for v in stored_dicts(system.app)]
    expected = fold(e for e in envelopes if e.occurred_at <= iso(moment)).rows
    got = replay(StoreSource(system.app), until=moment, by="occurred")
    assert 0 < got.events < len(envelopes)
    assert got.rows == expected
    assert got.to_dict()["moment"]["jalali"] == "1403-06-07 02:13:00"


# ---------------------------------------------------------------------- the command


def test_replay_command_exports_json_and_csv_as_an_auditor_sees_them(
        make_system: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    system = make_system()
    history = with_history(system, 800, seed=13)
    cli_env(monkeypatch, system)
    at = format_jalali(history.now + timedelta(hours=1))  # Jalali, Iran time, after the last event
    out = tmp_path / "boards.json"
    assert main(["replay", "--at", at, "--by", "occurred", "--format", "json", "--out", str(out)]) == 0
    assert "replay from store" in capsys.readouterr().err  # the progress bar
    data = json.loads(out.read_text())
    assert data["moment"]["jalali"].startswith(at) and data["events"] == system.app.recorder.max_notification_id()
    rows = data["rows"]
    centres = [r for k, r in rows.items() if k.startswith("centre/")]
    assert centres and all(all(c.startswith("#") for c in r["clients"]) for r in centres)  # no client ids
    assert all(r["location"] is None and "sealed_location" not in r for r in centres if r["secret"])
    assert {"teams", "incidents", "centres", "figures", "alerts"} <= set(data["summary"])

    csv_dir = tmp_path / "csv"
    assert main(["replay", "--quiet", "--format", "csv", "--out", str(csv_dir)]) == 0
    files = {p.stem: p for p in csv_dir.glob("*.csv")}
    assert {"team", "centre", "figures", "applied"} <= set(files)
    with files["team"].open() as f:
        teams = list(csv.DictReader(f))
    assert len(teams) == sum(1 for k in rows if k.startswith("team/"))
    assert {"key", "status", "since", "province"} <= set(teams[0])

    assert main(["replay", "--quiet", "--at", at, "--by", "occurred"]) == 0
    table = capsys.readouterr().out
    assert "Teams" in table and "IRST" in table and "Key figures" in table


# ---------------------------------------------------------------------- diff against the live boards


def test_diff_against_the_live_boards(make_system: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    system = make_system()
    with_history(system, 600, seed=14)
    cli_env(monkeypatch, system)
    live = api_boards(system)
    path = tmp_path / "live.json"
    path.write_text(json.dumps(live))
    assert main(["diff", "--quiet", "--live-file", str(path)]) == 0
    assert "equals the live boards" in capsys.readouterr().out

    team_key = next(k for k in live["rows"] if k.startswith("team/"))
    real = live["rows"][team_key]["status"]
    live["rows"][team_key] = {**live["rows"][team_key], "status": "on_scene" if real != "on_scene" else "available"}
    del live["rows"][next(k for k in live["rows"] if k.startswith("incident/") or k.startswith("figures/"))]
    path.write_text(json.dumps(live))
    assert main(["diff", "--quiet", "--live-file", str(path)]) == 1
    out = capsys.readouterr().out
    assert "differs from the live boards in 2 rows" in out
    assert f"~ {team_key}:" in out and f"status: \"{live['rows'][team_key]['status']}\" → \"{real}\"" in out
    assert "+ " in out  # the row the live side lost is in the replay


def test_diff_against_a_running_system(make_system: Any, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    import uvicorn

    from eoc.http.api import create_api

    system = make_system()
    with_history(system, 300, seed=15)
    cli_env(monkeypatch, system)
    server = uvicorn.Server(uvicorn.Config(create_api(system), host="127.0.0.1", port=free_port(),
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                pytest.fail("the API server did not start")
            thread.join(0.01)
        url = f"http://127.0.0.1:{server.config.port}"
        assert main(["diff", "--quiet", "--live", url]) == 0
        assert "equals the live boards" in capsys.readouterr().out
    finally:
        server.should_exit = True
        thread.join(10)
