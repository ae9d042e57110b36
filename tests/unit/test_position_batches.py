"""A batch of position reports (``report_positions``): every rule of the single report, one
report at a time — the team known and of the caller's province, a team's account for its own
team only, no report from the future, at most one kept per team per 30 s — with a refusal
answered per report in the one error shape, the others going on, and a retried batch keeping
nothing twice. The team is read from the light index of teams (eoc/app/team_index.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from eoc.app import commands as c
from eoc.app.auth import Claims
from eoc.app.keyring import SQLiteKeyring
from eoc.app.service import CommandService, EOCApplication
from eoc.app.team_index import TeamIndex
from eoc.app.track import THIN_S
from eoc.domain.errors import Forbidden, NotFound
from events.envelope import Envelope, iso
from events.vocabulary import Role
from tests.support.system import FakeClock

IN_QAZVIN = {"lat": 36.27, "lon": 50.0}
IN_KARAJ = {"lat": 35.84, "lon": 50.94}


class Telemetry:
    """The service's telemetry, recorded: what went to the boards, and in how many batches."""

    def __init__(self) -> None:
        self.one: list[Envelope] = []
        self.batches: list[list[Envelope]] = []  # the kept reports of each batch
        self.shown: list[list[Envelope]] = []  # the reports only shown, of each batch

    def many(self, envelopes: list[Envelope], shown: list[Envelope]) -> None:
        self.batches.append(list(envelopes))
        self.shown.append(list(shown))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
def service(clock: FakeClock, telemetry: Telemetry) -> CommandService:
    app = EOCApplication(env={})  # the library's in-memory store
    return CommandService(app, SQLiteKeyring(":memory:"), clock=clock, telemetry=telemetry.one.append,
                          telemetry_many=telemetry.many)


def claims(province: str = "QZV", role: Role = Role.PROVINCIAL_SUPERVISOR, team: str | None = None) -> Claims:
    return Claims(sub=f"U-{province}", role=role, province=province, exp=0, team=team)


def register(service: CommandService, province: str = "QZV") -> str:
    county, home = ("Qazvin", IN_QAZVIN) if province == "QZV" else ("Karaj", IN_KARAJ)
    cmd = c.RegisterTeam(province=province, county=county, name=f"{province}-1", home=home)
    return str(service.register_team(cmd, claims(province))["team_id"])


def batch(*reports: tuple[str, datetime], where: dict[str, float] = IN_QAZVIN) -> c.ReportPositions:
    return c.ReportPositions.model_validate(
        {"reports": [{"team_id": team, "position": where, "reported_at": iso(at)} for team, at in reports]})


def test_a_refused_report_is_answered_in_the_one_error_shape_and_the_others_go_on(service, clock, telemetry):
    mine, theirs, unknown = register(service), register(service, "ALB"), str(uuid.uuid4())
    now = clock()
    answer = service.report_positions(batch((mine, now), (unknown, now), (theirs, now),
                                            (mine, now + timedelta(minutes=5))), claims())
    reports = answer["reports"]
    assert [r.get("kept") for r in reports] == [True, None, None, None]
    # Another province's team is "not found", in the same words as an unknown id and as the
    # single report's refusal: a refusal never confirms that it exists.
    for item, team in ((reports[1], unknown), (reports[2], theirs)):
        with pytest.raises(NotFound) as single:
            service.report_position(uuid.UUID(team), c.ReportPosition(position=IN_QAZVIN), claims())
        assert item == {"team_id": team, **single.value.to_dict()}
        assert item["error"] == "not_found" and item["reason"] == f"no team with id {team}"
    assert reports[3]["error"] == "invalid_command" and "future" in reports[3]["reason"]
    assert (answer["kept"], answer["refused"]) == (1, 3)
    # The kept report went to the boards, in one batch, as the single report's envelope would.
    [[kept]] = telemetry.batches
    assert (kept.aggregate_id, kept.province, kept.county, kept.occurred_at) == (mine, "QZV", "Qazvin", iso(now))
    assert kept.type == "TeamPositionReported" and kept.aggregate_version >= 1 and kept.exercise is False


def test_thinning_keeps_one_report_per_team_per_30_s_inside_a_batch_and_across_batches(service, clock, telemetry):
    a, b = register(service), register(service)
    t0 = clock()
    first = service.report_positions(batch((a, t0), (b, t0), (a, t0 + timedelta(seconds=10)),
                                           (b, t0 + timedelta(seconds=29))), claims())
    assert [r["kept"] for r in first["reports"]] == [True, True, False, False]
    # Not kept, but each team's newest report of the batch moves the map (the live map).
    assert [r["shown"] for r in first["reports"]] == [True, True, True, True]
    assert (first["kept"], first["shown"]) == (2, 4)
    clock.advance(seconds=THIN_S)
    later = service.report_positions(batch((a, t0 + timedelta(seconds=THIN_S)),
                                           (b, t0 + timedelta(seconds=THIN_S - 1))), claims())
    assert [r["kept"] for r in later["reports"]] == [True, False]
    assert [r["shown"] for r in later["reports"]] == [True, False]  # b's is older than b's map position
    assert [[e.aggregate_id for e in sent] for sent in telemetry.batches] == [[a, b], [a]]
    assert [[(e.aggregate_id, e.occurred_at) for e in sent] for sent in telemetry.shown] == [
        [(a, iso(t0 + timedelta(seconds=10))), (b, iso(t0 + timedelta(seconds=29)))], []]


def test_of_a_batch_the_map_shows_each_teams_newest_report_at_most_four_a_second(service, clock, telemetry):
    """A gateway's half second of a team reporting ten times a second: the oldest is kept (the
    track's one per 30 s), the newest shown; the ones between are past before they could be."""
    a = register(service)
    t0 = clock()
    tenths = [t0 + timedelta(seconds=k / 10) for k in range(5)]
    first = service.report_positions(batch(*((a, t) for t in tenths)), claims())
    assert [(r["kept"], r["shown"]) for r in first["reports"]] == [
        (True, True), (False, False), (False, False), (False, False), (False, True)]
    # The next half second: its newest shown, nothing kept (30 s have not passed).
    nxt = service.report_positions(batch(*((a, t + timedelta(seconds=0.5)) for t in tenths)), claims())
    assert (nxt["kept"], nxt["shown"]) == (0, 1) and nxt["reports"][-1]["shown"] is True
    # Single reports ten times a second: at most one every quarter second moves the map.
    shown = [service.report_position(uuid.UUID(a), c.ReportPosition(
        position=IN_QAZVIN, reported_at=t0 + timedelta(seconds=2 + k / 10)), claims())["shown"] for k in range(10)]
    assert shown == [True, False, False, True, False, False, True, False, False, True]
    assert [e.occurred_at for sent in telemetry.shown for e in sent] == [
        iso(tenths[-1]), iso(tenths[-1] + timedelta(seconds=0.5)),
        *(iso(t0 + timedelta(seconds=2 + k / 10)) for k in (0, 3, 6, 9))]
    assert [len(sent) for sent in telemetry.batches] == [1, 0, 0, 0, 0, 0]


def test_a_retried_batch_keeps_nothing_twice(service, clock, telemetry):
    a, b = register(service), register(service)
    retried = batch((a, clock()), (b, clock() - timedelta(seconds=1)))
    assert service.report_positions(retried, claims())["kept"] == 2
    again = service.report_positions(retried, claims())
    assert again["kept"] == 0 and [r["kept"] for r in again["reports"]] == [False, False]
    assert len(telemetry.batches) == 1 and telemetry.one == []


def test_a_teams_account_reports_for_its_own_team_only(service, clock, telemetry):
    own, other = register(service), register(service)
    answer = service.report_positions(batch((own, clock()), (other, clock())),
                                      claims(role=Role.TEAM, team=own))
    assert answer["reports"][0]["kept"] is True
    assert answer["reports"][1]["error"] == "forbidden" and answer["refused"] == 1
    # A role that may not report positions is refused before any team is looked at.
    with pytest.raises(Forbidden):
        service.report_positions(batch((own, clock())), claims(role=Role.CALL_TAKER))
    assert [[e.aggregate_id for e in sent] for sent in telemetry.batches] == [[own]]


def test_a_report_outside_iran_or_a_malformed_one_refuses_the_batch_as_a_body():
    """The shape of every report is checked with the body, as every command's is (422)."""
    team = str(uuid.uuid4())
    with pytest.raises(ValidationError, match="outside Iran"):
        c.ReportPositions.model_validate({"reports": [{"team_id": team, "position": {"lat": 48.85, "lon": 2.35}}]})
    with pytest.raises(ValidationError):
        c.ReportPositions.model_validate({"reports": []})
    with pytest.raises(ValidationError):
        c.ReportPositions.model_validate({"reports": [{"team_id": team, "position": IN_QAZVIN, "heading": 400}]})


def test_the_team_is_loaded_once_while_the_boards_show_no_change_of_it(service, clock):
    a = register(service)
    listeners: list[Any] = []
    service.teams.follow(listeners)
    for k in range(3):
        service.report_positions(batch((a, clock() + timedelta(seconds=k))), claims())
    assert service.teams.loads == 1
    # Its row changed on the boards (here: a drill dispatch marks it): the next report reads it again.
    for listener in listeners:
        listener(1, {f"drill/team/{a}": {"status": "dispatched"}, f"position/{a}": {}})
    service.report_positions(batch((a, clock() + timedelta(seconds=5))), claims())
    assert service.teams.loads == 2
    # An unknown team is never kept in the index: registered a moment later, it reports.
    late = str(uuid.uuid4())
    assert service.report_positions(batch((late, clock())), claims())["refused"] == 1


def test_without_a_board_feed_every_report_reads_its_team():
    index, loaded = TeamIndex(), []

    def load() -> Any:
        loaded.append(1)
        from eoc.app.team_index import TeamCard
        return TeamCard("t", "QZV", "Qazvin", False, 3)

    index.card("t", load)
    index.card("t", load)
    assert len(loaded) == 2
    index.follow([])
    index.card("t", load)
    index.card("t", load)
    assert len(loaded) == 3


def test_cards_loaded_together_are_loaded_again_over_half_a_minute_not_in_one_second():
    """A gateway's first batches bring all its teams at once. Were their cards let go at the same
    age, every team would be loaded again in the same second, and the gateways' requests would
    wait behind a thousand loads (the cluster API's answer p99 at 10,000 reports a second)."""
    import random

    from eoc.app.team_index import MAX_AGE_S, TeamCard

    now = [0.0]
    index = TeamIndex(clock=lambda: now[0], draw=random.Random(7).random).follow([])
    teams = [f"t{i}" for i in range(1000)]

    def load_many(ids: list[str]) -> list[TeamCard]:
        return [TeamCard(t, "QZV", "Qazvin", False, 1) for t in ids]

    index.prefetch(teams, load_many)
    assert index.loads == 1000
    again_by_second = []
    for second in range(1, int(MAX_AGE_S) + 1):
        now[0] = float(second)
        before = index.loads
        index.prefetch(teams, load_many)
        again_by_second.append(index.loads - before)
    assert sum(again_by_second[: int(MAX_AGE_S / 2) - 1]) == 0  # none before half the age
    assert sum(again_by_second) >= 1000  # and all by the whole of it
    assert max(again_by_second) <= 100  # about 33 a second, never a tenth of them at once


def test_a_batchs_send_does_not_queue_behind_the_loops_pool(service, clock, telemetry):
    """The reports go on in a thread of the service's own: the loop's pool may be full of store
    reads (a thousand teams' first reports load their cards), and the send waited behind them
    (half a second at 10,000 reports a second, BENCHMARKS.md session 18)."""
    import asyncio
    import threading

    from eoc.app.writer import on_loop

    service.teams.follow([])  # the team's card kept once loaded: the report reads no store
    team = register(service)
    service.report_positions(batch((team, clock())), claims())
    clock.advance(seconds=31)

    async def main() -> dict[str, Any]:
        loop, gate = asyncio.get_running_loop(), threading.Event()
        busy = [loop.run_in_executor(None, gate.wait) for _ in range(64)]  # the pool's threads, all taken
        last_resort = threading.Timer(10, gate.set)  # let go at last, should the send wait behind them
        last_resort.start()
        try:
            return await asyncio.wait_for(on_loop(service.report_positions, batch((team, clock())), claims()), 3)
        finally:
            last_resort.cancel()
            gate.set()
            await asyncio.gather(*busy)

    assert asyncio.run(main())["kept"] == 1
    assert [[e.aggregate_id for e in kept] for kept in telemetry.batches] == [[team], [team]]


def test_a_cluster_batch_is_sent_together_or_waits_whole_for_kafka(service, clock, telemetry):
    """consumers/telemetry.py: a batch goes to the producer at once (both topics, each report on
    its province's partition); while Kafka is down it waits whole, or is refused whole (503)."""
    from consumers.telemetry import Backpressure, TelemetryPublisher
    from consumers.topics import Layout

    class Producer:
        def __init__(self) -> None:
            self.sent: list[tuple[str, bytes, int | None]] = []

        def send(self, topic: str, *, key: bytes, partition: int | None = None, **_: object) -> Any:
            self.sent.append((topic, key, partition))
            return self

        def add_errback(self, _fn: object) -> None:
            pass

    teams = [register(service) for _ in range(2)] + [register(service, "ALB")]
    service.report_positions(batch(*((t, clock()) for t in teams[:2])), claims())
    service.report_positions(batch((teams[2], clock()), where=IN_KARAJ), claims("ALB"))
    envelopes = [e for sent in telemetry.batches for e in sent]
    layout, producer = Layout(prefix="t."), Producer()
    publisher = TelemetryPublisher("127.0.0.1:9", layout, producer=producer, buffer=3)  # type: ignore[arg-type]
    publisher.publish_many(envelopes)
    assert [(topic, key.decode(), p) for topic, key, p in producer.sent if topic == layout.telemetry] == [
        (layout.telemetry, e.aggregate_id, layout.partition_for(e.province)) for e in envelopes]
    assert sum(topic == layout.positions_latest for topic, _, _ in producer.sent) == 3
    publisher.producer = None  # Kafka is out of reach (a given producer starts no reconnecting thread)
    publisher.publish_many(envelopes[:2])
    with pytest.raises(Backpressure, match="Kafka"):
        publisher.publish_many(envelopes[:2])  # room for one more: the batch is refused whole
    assert publisher.counts() == {"published": 3, "held": 2, "refused": 2, "failed": 0, "shown": 0, "dropped": 0}
    # Reports only shown are not held for Kafka: a newer one will move the map.
    publisher.publish_shown(envelopes[:1])
    assert publisher.counts() == {"published": 3, "held": 2, "refused": 2, "failed": 0, "shown": 0, "dropped": 1}
    assert publisher.buffered == 2


def test_reports_only_shown_go_to_kafka_as_one_record_per_province_and_fold_as_single_ones(service, clock, telemetry):
    """consumers/kafka_codec.batch_record: a gateway's shown reports cost one send per province
    on eoc.telemetry.positions (none on the compacted latest positions); the worker's
    decode_batch gives back the reports as decode_event gives a single one, and a broken or kept
    one as its own dead letter."""
    import json

    from consumers.kafka_codec import BATCH_HEADER, DeadLetter, decode_batch, header
    from consumers.telemetry import TelemetryPublisher
    from consumers.topics import Layout

    sent: list[tuple[str, bytes, Any, Any, int | None]] = []

    class Producer:
        def send(self, topic: str, *, key: bytes, value: bytes, headers: Any, partition: int | None = None) -> Any:
            sent.append((topic, key, value, headers, partition))
            return self

        def add_errback(self, _fn: object) -> None:
            pass

    a, b = register(service), register(service)
    t0 = clock()
    service.report_positions(batch((a, t0), (b, t0)), claims())
    service.report_positions(batch((a, t0 + timedelta(seconds=1)), (b, t0 + timedelta(seconds=1))), claims())
    [shown] = [s for s in telemetry.shown if s]
    layout = Layout(prefix="t.")
    publisher = TelemetryPublisher("127.0.0.1:9", layout, producer=Producer())  # type: ignore[arg-type]
    publisher.publish_shown(shown)
    [(topic, key, value, headers, partition)] = [s for s in sent if s[0] == layout.telemetry]
    assert (key, partition, header(headers, BATCH_HEADER)) == (b"QZV", layout.partition_for("QZV"), b"2")
    assert [s for s in sent if s[0] == layout.positions_latest] == []  # it keeps the last kept report
    assert decode_batch(value, partition=partition, partition_of=layout.partition_for) == shown
    # Another province's partition, a kept point (it travels alone) and a broken item: dead letters.
    items = json.loads(value)
    items[1] = {**items[1], "position": 7}
    items.append({"type": "TeamPositionReported"})
    decoded = decode_batch(json.dumps(items).encode(), partition=partition, partition_of=layout.partition_for)
    assert decoded[0] == shown[0] and [type(d) for d in decoded[1:]] == [DeadLetter, DeadLetter]
    assert "only shown" in decoded[1].reason
    wrong = decode_batch(value, partition=partition + 1, partition_of=layout.partition_for)
    assert all(isinstance(d, DeadLetter) and d.kind == "wrong_partition" for d in wrong)
    with pytest.raises(DeadLetter):
        decode_batch(b'{"not": "a list"}')
    assert publisher.counts()["shown"] == 2 and publisher.counts()["published"] == 0
    # A province's 5,000 reports of one request: records of at most BATCH_REPORTS, under Kafka's 1 MB.
    from consumers.kafka_codec import BATCH_REPORTS

    sent.clear()
    many = [shown[0]] * (2 * BATCH_REPORTS + 1)
    publisher.publish_shown(many)
    sizes = [int(header(h, BATCH_HEADER) or 0) for topic, _, _, h, _ in sent if topic == layout.telemetry]
    assert sizes == [BATCH_REPORTS, BATCH_REPORTS, 1]
    assert max(len(v) for _, _, v, _, _ in sent) < 1_000_000


def test_a_refused_report_does_not_keep_a_teams_other_reports_off_the_map(service, clock, telemetry):
    """Of a batch, the map shows each team's newest report that is not refused: a glitched
    device time (here, three minutes ahead: refused) does not freeze the team on the map."""
    a = register(service)
    t0 = clock()
    service.report_positions(batch((a, t0)), claims())
    answer = service.report_positions(batch((a, t0 + timedelta(seconds=1)), (a, t0 + timedelta(minutes=3))), claims())
    assert [(r.get("kept"), r.get("shown"), r.get("error")) for r in answer["reports"]] == [
        (False, True, None), (None, None, "invalid_command")]
    assert [e.occurred_at for e in telemetry.shown[-1]] == [iso(t0 + timedelta(seconds=1))]


def test_the_reports_kept_before_a_failure_still_reach_the_boards(service, clock, telemetry, monkeypatch):
    """The store fails while the batch is checked: the reports the thinning already kept go on
    (a retry would find them thinned out: they must not be lost), and the batch fails."""
    a, b = register(service), register(service)
    real_get = service._get

    def failing(cls: Any, id_: Any, *args: Any) -> Any:
        if str(id_) == b:
            raise OSError("the store is out of reach")
        return real_get(cls, id_, *args)

    monkeypatch.setattr(service, "_get", failing)
    with pytest.raises(OSError):
        service.report_positions(batch((a, clock()), (b, clock())), claims())
    assert [[e.aggregate_id for e in sent] for sent in telemetry.batches] == [[a]]
