"""Batched position reports over HTTP, on both stores: ``POST /api/v1/teams/positions`` keeps
what the single report keeps (one per team per 30 s, in the position track and on the map),
refuses per report, is answered 202 with one answer per report, takes a province's second of
reports (more than a single command's 64 KB body), and a retry — with or without an
Idempotency-Key — keeps nothing twice."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eoc.http.limits import MAX_BODY
from events.envelope import iso
from tests.support.scenario import IN_QAZVIN, team
from tests.support.system import Api, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))


@pytest.fixture
def api(make_system: Any, clock: FakeClock) -> Api:
    return Api(make_system(clock=clock))


def _reports(*items: tuple[str, datetime, float]) -> dict[str, Any]:
    return {"reports": [{"team_id": t, "position": {"lat": lat, "lon": 50.0}, "reported_at": iso(at)}
                        for t, at, lat in items]}


def _rows(api: Api) -> dict[str, Any]:
    return api.http.get("/api/v1/boards", headers=api.token()).json()["rows"]


def test_a_batch_is_kept_thinned_and_refused_per_report_and_shown_on_the_map(api: Api, clock: FakeClock) -> None:
    a, b, unknown = team(api), team(api), str(uuid.uuid4())
    t0 = clock.advance(minutes=1)
    r = api.post("/teams/positions", _reports((a, t0, 36.30), (unknown, t0, 36.31), (b, t0, 36.32),
                                              (a, t0 + timedelta(seconds=10), 36.33)))
    assert r.status_code == 202, r.text
    answer = r.json()
    assert (answer["kept"], answer["shown"], answer["refused"]) == (2, 3, 1)
    assert [x.get("kept") for x in answer["reports"]] == [True, None, True, False]
    assert [x.get("shown") for x in answer["reports"]] == [True, None, True, True]
    assert answer["reports"][1] == {"team_id": unknown, "error": "not_found",
                                    "reason": f"no team with id {unknown}", "id": unknown}
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id())
    rows = _rows(api)
    # The map shows a's newest report (only shown), naming the point the track keeps.
    assert (rows[f"position/{a}"]["lat"], rows[f"position/{b}"]["lat"]) == (36.33, 36.32)
    assert rows[f"position/{a}"]["kept"]["lat"] == 36.30 and "kept" not in rows[f"position/{b}"]
    track = api.system.follower.track
    assert [(p.aggregate_id, p.payload["position"]["lat"]) for p in track.points()] == [(a, 36.30), (b, 36.32)]
    # Another province's token: the teams are not found there, each in its own answer.
    other = api.post("/teams/positions", _reports((a, t0 + timedelta(minutes=1), 35.8)), province="ALB")
    assert other.status_code == 202 and other.json()["reports"][0]["error"] == "not_found"
    assert len(list(track.points())) == 2
    assert "TeamPositionReported" not in api.stored()  # telemetry, not history


def test_a_retried_batch_keeps_nothing_twice(api: Api, clock: FakeClock) -> None:
    a = team(api)
    t0 = clock.advance(minutes=1)
    body = _reports((a, t0, 36.30))
    keyed = {**api.token(), "Idempotency-Key": "gateway-QZV-0001"}
    first = api.http.post("/api/v1/teams/positions", json=body, headers=keyed)
    again = api.http.post("/api/v1/teams/positions", json=body, headers=keyed)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and first.json()["kept"] == 1  # the first answer, once more
    unkeyed = api.post("/teams/positions", body)  # no key: thinned out as the repeat it is
    assert unkeyed.status_code == 202 and unkeyed.json()["reports"][0]["kept"] is False
    assert len(list(api.system.follower.track.points())) == 1


def test_a_provinces_second_of_reports_fits_in_one_request(api: Api, clock: FakeClock) -> None:
    teams = [team(api, on_shift=False) for _ in range(3)]
    t0 = clock.advance(minutes=1)
    items = [(teams[i % 3], t0 + timedelta(milliseconds=i), IN_QAZVIN["lat"]) for i in range(600)]
    body = _reports(*items)
    assert len(json.dumps(body)) > MAX_BODY  # more than any single command may be
    r = api.post("/teams/positions", body)
    assert r.status_code == 202, r.text[:300]
    assert r.json()["kept"] == 3 and len(r.json()["reports"]) == 600
    too_many = api.post("/teams/positions", _reports(*(items * 9)))  # 5,400: more than a batch may hold
    assert too_many.status_code == 422 and too_many.json()["error"] == "invalid_command"


def test_a_batch_of_new_teams_reads_their_cards_in_one_trip(api: Api, clock: FakeClock, monkeypatch: Any,
                                                            store: str) -> None:
    """A gateway's batch brings many teams the API has not seen report yet: their cards come
    from the cached aggregates, brought up to date in one query where other writers share the
    store (PostgreSQL), not loaded and copied one by one."""
    from eoc.app import es_adapter

    teams = [team(api) for _ in range(12)]
    unknown = str(uuid.uuid4())
    repository = api.system.app.repository
    gets: list[Any] = []
    checks: list[int] = []
    real_get, real_newer = repository.get, es_adapter._newer_events
    monkeypatch.setattr(repository, "get", lambda aggregate_id, **kw: gets.append(aggregate_id) or real_get(aggregate_id, **kw))
    monkeypatch.setattr(es_adapter, "_newer_events",
                        lambda app, versions: checks.append(len(versions)) or real_newer(app, versions))
    t0 = clock.advance(minutes=1)
    answer = api.post("/teams/positions", _reports(*[(t, t0, 36.30) for t in teams], (unknown, t0, 36.3))).json()
    assert answer["kept"] == 12 and answer["refused"] == 1
    assert [str(g) for g in gets] == [unknown]  # only the unknown id went to the store on its own
    assert checks == ([13] if store == "postgres" else [])  # one query for all of them, on a shared store


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["postgres"])
def test_teams_read_together_are_as_the_store_has_them_after_another_writer(make_system: Any, store: str) -> None:
    """Two API processes on one PostgreSQL: teams read together come up to date with what the
    other process changed (and one it never cached, whole), in one query, and equal what the
    repository's own ``get`` gives."""
    from eoc.app import es_adapter

    mine, other = Api(make_system()), Api(make_system())
    a, b = team(mine), team(mine)
    c = team(other)  # never in mine's cache
    ids = [uuid.UUID(a), uuid.UUID(b), uuid.UUID(c), uuid.uuid4()]
    other.ok(f"/teams/{b}/shift/end", {})
    app = mine.system.app
    read = es_adapter.current_many(app, ids)
    assert set(read) == set(ids[:3])  # the unknown id is left out
    for i in ids[:3]:
        fresh = app.repository.get(i)
        assert (read[i].version, read[i].status, read[i].county) == (fresh.version, fresh.status, fresh.county), i
    assert read[ids[1]].status == "off_duty"  # the other process ended its shift
