"""The hourly figures (تماس در هر ساعت) are a projection: cells of the key-figures rows that
every runner folds (projections/hourly.py), published by the worker as the cells each batch
changed. Checked here against a count made straight from the events."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from events.catalogue import CATALOGUE
from events.envelope import Envelope, iso
from events.jalali import IRST
from projections import fold
from projections.fold import apply
from projections.hourly import BatchBoard, HourlyCalls, hourly_changes, hourly_figures, window

CATEGORIES = ("spouse_abuse", "child_abuse", "suicide")
START = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)  # 21:30 IRST: the calls cross local midnight


def test_a_local_hour_is_a_utc_window_that_starts_at_half_past() -> None:
    assert window("2026-12-02", "10") == ("2026-12-02T06:30:00.000Z", "2026-12-02T07:30:00.000Z")
    # Local midnight is the evening before in UTC.
    assert window("2026-12-02", "00") == ("2026-12-01T20:30:00.000Z", "2026-12-01T21:30:00.000Z")


def _classified(position: int, province: str, received: datetime, recorded: datetime, category: str,
                exercise: bool) -> Envelope:
    return Envelope(
        type="CallClassified", version=CATALOGUE["CallClassified"].VERSION, id=str(uuid.uuid4()),
        aggregate_id=str(uuid.uuid4()), aggregate_version=2, occurred_at=iso(received), recorded_at=iso(recorded),
        province=province, county="Qazvin", actor={"role": "call_taker", "user": "u"}, exercise=exercise,
        payload={"category": category, "priority": "urgent", "risk_flags": [], "received_at": iso(received)},
        position=position)


def calls(seed: int, n: int = 300) -> list[Envelope]:
    """Classified calls over nine hours in two provinces, real and drill; about one in eight
    recorded late (ثبت با تأخیر), up to three hours after it came in."""
    rnd, out = random.Random(seed), []
    positions = {"QZV": 0, "ALB": 0}
    now = START
    for _ in range(n):
        now += timedelta(seconds=rnd.uniform(0, 9 * 3600 * 2 / n))
        province = rnd.choice(list(positions))
        positions[province] += 1
        late = rnd.random() < 0.125
        received = now - timedelta(seconds=rnd.uniform(700, 3 * 3600)) if late else now
        out.append(_classified(positions[province], province, received, now, rnd.choice(CATEGORIES),
                               exercise=rnd.random() < 0.2))
    return out


def counted(events: list[Envelope]) -> dict[str, int]:
    """Real calls per local hour, province and category, counted from the events alone."""
    counts: Counter[str] = Counter()
    for e in events:
        if e.exercise:
            continue
        received = datetime.fromisoformat(e.payload["received_at"]).astimezone(IRST)
        start = received.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        counts[f"{e.province}/{e.payload['category']}/{iso(start)}"] += 1
    return dict(counts)


def test_the_hourly_figures_of_a_board_are_the_real_calls_per_local_hour() -> None:
    events = calls(seed=3)
    assert any(e.exercise for e in events) and any(e.occurred_at != e.recorded_at for e in events)
    board = fold(events)
    assert not [k for k in board.rows if k.startswith("deadletter/")], "every call is well made"
    records = hourly_figures(board.rows)
    expected = counted(events)
    assert {k: r["calls"] for k, r in records.items()} == expected
    assert len({k.rsplit("/", 1)[1] for k in expected}) >= 9, "the calls span many hours"
    for key, record in records.items():
        assert key == f"{record['province']}/{record['category']}/{record['window_start']}"
        start, end = (datetime.fromisoformat(record[w]) for w in ("window_start", "window_end"))
        assert (start.minute, end - start) == (30, timedelta(hours=1))


def _published(events: list[Envelope], cuts: list[int]) -> tuple[dict[str, HourlyCalls], int]:
    """What the worker's batches publish, cut where ``cuts`` say: the compacted topic's view
    (the latest record per key) and how many records were sent."""
    board_rows: dict[str, Any] = {}
    topic: dict[str, HourlyCalls] = {}
    sent = 0
    bounds = [0, *sorted(set(cuts)), len(events)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        batch = BatchBoard(board_rows)
        for e in events[a:b]:
            apply(batch, e)
        changed = hourly_changes(batch.before, batch.take_changes())
        sent += len(changed)
        topic.update(changed)
    return topic, sent


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(0, 120), max_size=12))
def test_the_cells_each_batch_changed_add_up_to_the_boards_hourly_figures(seed: int, cuts: list[int]) -> None:
    events = calls(seed, n=120)
    topic, sent = _published(events, cuts)
    assert {k: r["calls"] for k, r in topic.items()} == counted(events)
    assert topic == hourly_figures(fold(events).rows)
    # Only changed cells are sent: at most one record per real call (each call changes one cell).
    assert sent <= sum(not e.exercise for e in events)


def test_a_batch_that_changes_no_hour_sends_nothing_and_a_late_call_changes_its_own_hour() -> None:
    events = calls(seed=11, n=60)
    board_rows: dict[str, Any] = {}
    first = BatchBoard(board_rows)
    for e in events:
        apply(first, e)
    hourly_changes(first.before, first.take_changes())
    # The same events again: the fold skips them, so no cell changes.
    again = BatchBoard(board_rows)
    for e in events:
        apply(again, e)
    assert hourly_changes(again.before, again.take_changes()) == {}
    counts_before = {k: r["calls"] for k, r in hourly_figures(board_rows).items()}
    # A real call recorded now for two hours ago changes that hour's cell and no other.
    last = events[-1]
    recorded = datetime.fromisoformat(last.recorded_at)
    late = _classified(10_000, "QZV", recorded - timedelta(hours=2), recorded, "child_abuse", exercise=False)
    batch = BatchBoard(board_rows)
    apply(batch, late)
    changed = hourly_changes(batch.before, batch.take_changes())
    start = window(*_local_day_hour(recorded - timedelta(hours=2)))[0]
    key = f"QZV/child_abuse/{start}"
    assert list(changed) == [key]
    assert changed[key]["calls"] == counts_before.get(key, 0) + 1
    # A drill call changes no real cell.
    drill = _classified(10_001, "QZV", recorded, recorded, "child_abuse", exercise=True)
    batch = BatchBoard(board_rows)
    apply(batch, drill)
    assert hourly_changes(batch.before, batch.take_changes()) == {}


def _local_day_hour(moment: datetime) -> tuple[str, str]:
    t = moment.astimezone(IRST)
    return t.strftime("%Y-%m-%d"), t.strftime("%H")
