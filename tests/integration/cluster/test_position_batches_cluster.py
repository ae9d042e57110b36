"""A batch of position reports in a cluster's command API: its kept reports get their places in
the PostgreSQL position track in one transaction and go to Kafka together, each on its team's
province partition of eoc.telemetry.positions and on eoc.positions.latest; the ones only shown
go as one record of the province (a batch); refused and thinned reports go nowhere."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from consumers.kafka_codec import BATCH_HEADER, header
from events.envelope import iso
from tests.support.cluster import wait_until
from tests.support.scenario import IN_QAZVIN, team
from tests.support.system import Api, FakeClock

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def test_a_batchs_kept_reports_go_to_kafka_together_with_their_places_in_the_track(cluster, tmp_path: Path):
    from eoc.main.cluster import build_api

    clock = FakeClock()
    built = build_api(cluster.settings, clock=clock, follow_boards=False,
                      settings=cluster.settings.core(data_dir=tmp_path / "api"))
    try:
        api = Api(built.system)
        a, b, unknown = team(api), team(api), str(uuid.uuid4())
        t0 = clock.advance(minutes=1)
        body = {"reports": [{"team_id": t, "position": IN_QAZVIN, "reported_at": iso(at)} for t, at in
                            ((a, t0), (unknown, t0), (b, t0), (a, t0 + timedelta(seconds=5)))]}
        answer = api.ok("/teams/positions", body)
        assert (answer["kept"], answer["shown"], answer["refused"]) == (2, 3, 1)
        again = api.post("/teams/positions", body).json()  # the retry: thinned out, nothing shown
        assert (again["kept"], again["shown"]) == (0, 0)
        positions = cluster.reader(cluster.layout.telemetry, rows=False)
        wait_until(lambda: positions.catch_up() >= 0 and len(positions.records) >= 3, timeout=60,
                   what="the batch's two kept reports and its shown one on eoc.telemetry.positions")
        records = positions.records
        assert len(records) == 3
        assert {r.partition for r in records} == {cluster.layout.partition_for("QZV")}
        kept = [r for r in records if not header(r.headers, BATCH_HEADER)]
        assert [r.key.decode() for r in kept] == [a, b]
        assert [json.loads(r.value)["position"] for r in kept] == [1, 2]  # their places in the track
        [shown] = [r for r in records if header(r.headers, BATCH_HEADER)]
        assert (shown.key, header(shown.headers, BATCH_HEADER)) == (b"QZV", b"1")
        [item] = json.loads(shown.value)
        assert (item["aggregate_id"], item["occurred_at"], item.get("position")) == (a, iso(t0 + timedelta(seconds=5)), None)
        latest = cluster.reader(cluster.layout.positions_latest, rows=False)
        wait_until(lambda: latest.catch_up() >= 0 and len(latest.records) >= 2, timeout=60,
                   what="the two kept reports on eoc.positions.latest")
        # the last kept report of each team (each on the partition of its key: in no order across them)
        assert sorted(r.key.decode() for r in latest.records) == sorted([a, b])
        assert (built.publisher.counts()["published"], built.publisher.counts()["shown"]) == (2, 1)
    finally:
        built.close()
