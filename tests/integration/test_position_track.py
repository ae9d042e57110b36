"""The bounded position track (eoc/app/track.py): the map moves with a team's reports (up to
four a second), and history keeps at most one report per team per 30 s beside the events' own
positions, so a replay shows the positions history holds — the position rows' last kept
points, `eoc diff --with-telemetry` equal under live traffic with position reports."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consumers.replay import replay
from eoc.app.limits import Limits
from eoc.app.track import THIN_S
from eoc.audit.diff import kept_positions
from eoc.audit.sources import StoreSource
from eoc.cli import main
from events.envelope import canonical_json, iso
from events.places import PROVINCES
from projections.teams import kept_position
from projections.visibility import visible_rows
from tests.support.audit import cli_env
from tests.support.history import logged_envelopes, run_history
from tests.support.scenario import IN_QAZVIN, team
from tests.support.served import served
from tests.support.system import Api, FakeClock


def _report(api: Api, team_id: str, at: datetime, where: dict[str, float], province: str = "QZV") -> dict[str, Any]:
    return api.ok(f"/teams/{team_id}/position", {"position": where, "reported_at": iso(at)}, province=province)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=2))


@pytest.fixture
def api(make_system: Any, clock: FakeClock) -> Api:
    """The system runs on a clock the test moves: reports a day long take no day."""
    return Api(make_system(clock=clock))


def test_the_map_moves_with_every_report_and_history_keeps_one_per_team_per_30_s(api: Api, clock: FakeClock) -> None:
    t = team(api)
    start = clock.advance(minutes=1)
    first = {"lat": 36.30, "lon": 50.05}
    assert _report(api, t, start, first) | {"team_id": t} == {
        "team_id": t, "reported_at": iso(start), "kept": True, "shown": True}
    # 10 s later: not kept, but shown — the map moves; the row names the point history keeps.
    answer = _report(api, t, start + timedelta(seconds=10), {"lat": 36.31, "lon": 50.06})
    assert (answer["kept"], answer["shown"]) == (False, True)
    row = api.http.get("/api/v1/boards", headers=api.token()).json()["rows"][f"position/{t}"]
    assert (row["lat"], row["lon"], row["at"]) == (36.31, 50.06, iso(start + timedelta(seconds=10)))
    assert row["kept"] == {"lat": 36.30, "lon": 50.05, "at": iso(start)}
    # An older report than the map's moves nothing, and is not kept.
    assert _report(api, t, start + timedelta(seconds=5), first) | {"team_id": t} == {
        "team_id": t, "reported_at": iso(start + timedelta(seconds=5)), "kept": False, "shown": False}
    clock.advance(seconds=THIN_S)
    assert _report(api, t, start + timedelta(seconds=THIN_S), {"lat": 36.32, "lon": 50.07})["kept"] is True
    answer = api.http.get("/api/v1/boards", headers=api.token()).json()
    assert answer["rows"][f"position/{t}"]["lat"] == 36.32
    assert "kept" not in answer["rows"][f"position/{t}"]  # the map's position is history's again
    track = api.system.follower.track
    kept = list(track.points())
    assert [p.payload["position"]["lat"] for p in kept] == [36.30, 36.32]
    assert [p.position for p in kept] == [1, 2]  # each point's place in the track
    # The snapshot names the last track point it folded, per province.
    assert answer["as_of"]["telemetry"] == {"QZV": 2} and answer["as_of"]["at"].endswith("~QZV=2")


def test_the_track_measured_per_team_per_day(api: Api, clock: FakeClock) -> None:
    """A team reporting every 10 s for a day keeps 2,880 points (one per 30 s), about 1.2 MB
    (BENCHMARKS.md and docs/telemetry.md give the figures; `python -m bench.track` measures)."""
    api.system.limits = Limits.default(0.0)  # one tablet's two hours sent at once: no abuse limit
    t = team(api)
    kept = 0
    for _ in range(720):  # two hours of a day at one report every 10 s
        kept += _report(api, t, clock.advance(seconds=10), {"lat": 36.27, "lon": round(50.0 + kept * 1e-5, 5)})["kept"]
    size = api.system.follower.track.size()
    assert size["points"] == kept == 2880 // 12 and size["teams"] == 1
    assert 300 < size["bytes"] / size["points"] < 700  # bytes per point (its envelope as JSON)


def test_diff_with_telemetry_is_equal_under_live_traffic_with_position_reports(
        api: Api, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    system = api.system
    run_history(system.service, 60, seed=3)  # teams and centres first
    teams = [(k.split("/")[1], r["province"]) for k, r in system.follower.snapshot()[1].items()
             if k.startswith("team/")]
    assert teams
    rnd = random.Random(11)
    done = threading.Event()

    def traffic() -> None:
        try:
            for i in range(400):
                if i % 2:
                    run_history(system.service, 1, seed=1000 + i)
                else:
                    t, province = rnd.choice(teams)
                    place = PROVINCES[province]
                    _report(api, t, clock.advance(seconds=11),
                            {"lat": round(place.lat + rnd.uniform(-0.1, 0.1), 5),
                             "lon": round(place.lon + rnd.uniform(-0.1, 0.1), 5)},
                            province=province)
        finally:
            done.set()

    cli_env(monkeypatch, system)
    with served(system) as url:
        worker = threading.Thread(target=traffic)
        worker.start()
        runs = 0
        while not done.is_set() or runs < 3:
            assert main(["diff", "--quiet", "--live", url, "--with-telemetry"]) == 0, capsys.readouterr().out
            runs += 1
        worker.join()
        assert main(["diff", "--quiet", "--live", url, "--with-telemetry"]) == 0, capsys.readouterr().out
    assert "equals the live boards" in capsys.readouterr().out
    assert system.follower.track.size()["points"] >= 20  # positions came from the track, not only events
    # Positions are among the rows compared: a replay to the end holds each team's last kept
    # point, as the live row names it; the live map was ahead of it for some teams.
    replayed = visible_rows(replay(StoreSource(system.app, track=system.follower.track)).rows, "auditor", "IR")
    live = visible_rows(system.follower.snapshot()[1], "auditor", "IR")
    positions = {k for k in live if k.startswith("position/")}
    assert positions and {k: replayed[k] for k in positions} == {k: kept_position(live[k]) for k in positions}
    assert any("kept" in live[k] for k in positions)  # reports only shown were among them


def test_a_restart_folds_the_points_kept_after_the_boards_checkpoint(make_system: Any, clock: FakeClock) -> None:
    system = make_system(checkpoint=True, clock=clock)
    api = Api(system)
    t = team(api)
    start = clock.advance(minutes=1)
    _report(api, t, start, {"lat": 36.30, "lon": 50.05})
    system.follower.save_checkpoint()  # the board as saved: one point
    _report(api, t, clock.advance(seconds=40), {"lat": 36.35, "lon": 50.10})  # kept, after the save
    data_dir = system.settings.data_dir
    system.follower.checkpoint = None  # the process dies: the last point is only in the track
    make_system.close(system)
    again = make_system(checkpoint=True, data_dir=data_dir, clock=clock)
    rows = again.follower.snapshot()[1]
    assert rows[f"position/{t}"]["lat"] == 36.35 and rows["as-of/QZV"]["telemetry"] == 2
    assert canonical_json(visible_rows(replay(StoreSource(again.app, track=again.follower.track)).rows,
                                       "auditor", "IR")) == canonical_json(visible_rows(rows, "auditor", "IR"))
    # And the thinning goes on from the track: 10 s after the last kept point is not kept (but shown).
    answer = Api(again).ok(f"/teams/{t}/position", {"position": IN_QAZVIN,
                                                    "reported_at": iso(start + timedelta(seconds=50))})
    assert (answer["kept"], answer["shown"]) == (False, True)
    rows = again.follower.snapshot()[1]
    assert (rows[f"position/{t}"]["lat"], rows[f"position/{t}"]["kept"]["lat"]) == (IN_QAZVIN["lat"], 36.35)
    assert canonical_json(visible_rows(replay(StoreSource(again.app, track=again.follower.track)).rows,
                                       "auditor", "IR")) == canonical_json(kept_positions(visible_rows(rows, "auditor", "IR")))


@pytest.fixture
def track_at(store: str, tmp_path: Any, request: pytest.FixtureRequest) -> Any:
    """Opens PositionTrack instances on one track (as several API processes would); closed at the end."""
    from eoc.app.track import PositionTrack

    dsn = request.getfixturevalue("fresh_pg_dsn") if store == "postgres" else None
    opened: list[PositionTrack] = []

    def open_track() -> PositionTrack:
        opened.append(PositionTrack(dsn=dsn) if dsn else PositionTrack(path=tmp_path / "track.sqlite"))
        return opened[-1]

    yield open_track
    for t in opened:
        t.close()


def test_batches_from_several_appenders_get_consecutive_places_in_commit_order(track_at: Any) -> None:
    """Each batch's reports get consecutive places in the batch's order, batches from several
    appenders at once never share a place, and the places are in the order the batches were
    committed: a reader that has seen place n never later finds a new point below n."""
    from events.envelope import Envelope

    def batch(appender: int, k: int, n: int) -> list[Envelope]:
        return [Envelope(type="TeamPositionReported", version=1, id=f"{appender}-{k}-{i}", aggregate_id=f"team-{appender}",
                         aggregate_version=1, occurred_at=iso(datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=i)),
                         recorded_at="2026-11-01T00:00:00Z", province="QZV", county="Qazvin", actor={"role": "team"},
                         exercise=False, payload={"position": {"lat": 36.3, "lon": 50.0}}) for i in range(n)]

    tracks = [track_at() for _ in range(3)]
    reader = tracks[0]
    places: dict[str, int] = {}
    errors: list[BaseException] = []

    def append(appender: int) -> None:
        try:
            for k in range(20):
                kept = tracks[appender].append_many(batch(appender, k, 1 + (k * 37) % 600))  # up to 600: two INSERTs
                assert [p.position for p in kept] == list(range(kept[0].position, kept[0].position + len(kept)))
                places.update({p.id: p.position for p in kept})
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    workers = [threading.Thread(target=append, args=(i,)) for i in range(3)]
    for w in workers:
        w.start()
    seen: set[int] = set()
    high = 0
    late: list[int] = []  # points that showed up below a place a reader had already seen
    while any(w.is_alive() for w in workers):
        now = {p.position for p in reader.points()}
        late.extend(p for p in now - seen if p < high)
        seen, high = now, max(now, default=high)
    for w in workers:
        w.join()
    assert errors == []
    stored = list(reader.points())
    assert [p.position for p in stored] == sorted(places.values()) == list(range(1, len(places) + 1))
    assert {p.id: p.position for p in stored} == places  # each point stored with its own place
    assert late == []
    # After rows are gone (the track is bounded), a place is never given again.
    top = stored[-1].position
    with reader._db.tx() as q:
        q("DELETE FROM position_track WHERE seq > ?", (top - 5,))
    assert reader.append_many(batch(0, 99, 2))[0].position == top + 1


def test_an_sos_without_a_position_carries_the_live_maps_into_history(api: Api, clock: FakeClock) -> None:
    """A team's SOS (duress) from a device without geolocation takes the team's newest position
    on the map — a report only shown, not kept — into its event, so the alert a replay makes is
    the one the dispatcher saw, not the track's older point."""
    t = team(api)
    start = clock.advance(minutes=1)
    _report(api, t, start, {"lat": 36.30, "lon": 50.05})  # kept
    assert _report(api, t, start + timedelta(seconds=5), {"lat": 36.33, "lon": 50.08})["kept"] is False  # shown
    clock.advance(seconds=6)
    api.ok(f"/teams/{t}/duress", {"covert": True}, role="team", team=t)
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id())
    rows = api.system.follower.snapshot()[1]
    alarm = rows[f"alert/duress/{t}"]
    assert (alarm["position"]["lat"], alarm["position"]["lon"]) == (36.33, 50.08)
    [raised] = [e for e in logged_envelopes(api.system.app) if e.type == "DuressRaised"]
    assert raised.payload["position"] == {"lat": 36.33, "lon": 50.08}
    replayed = replay(StoreSource(api.system.app, track=api.system.follower.track)).rows
    assert replayed[f"alert/duress/{t}"] == alarm


def test_after_a_restart_the_live_map_goes_on_from_the_saved_boards(make_system: Any, clock: FakeClock) -> None:
    """The map's newest position of a team was a report only shown (not in the track): after a
    restart, a report older than it is not "shown" (the map would not move), and an SOS without
    a position takes the saved map's."""
    system = make_system(checkpoint=True, clock=clock)
    api = Api(system)
    t = team(api)
    start = clock.advance(minutes=1)
    _report(api, t, start, {"lat": 36.30, "lon": 50.05})  # kept
    assert _report(api, t, start + timedelta(seconds=8), {"lat": 36.36, "lon": 50.11})["shown"] is True
    system.follower.save_checkpoint()
    data_dir = system.settings.data_dir
    make_system.close(system)
    again = Api(make_system(checkpoint=True, data_dir=data_dir, clock=clock))
    older = _report(again, t, start + timedelta(seconds=4), {"lat": 36.33, "lon": 50.08})
    assert (older["kept"], older["shown"]) == (False, False)
    assert again.system.follower.snapshot()[1][f"position/{t}"]["lat"] == 36.36
    clock.advance(seconds=20)
    again.ok(f"/teams/{t}/duress", {"covert": False}, role="team", team=t)
    [raised] = [e for e in logged_envelopes(again.system.app) if e.type == "DuressRaised"]
    assert raised.payload["position"] == {"lat": 36.36, "lon": 50.11}
