"""Projections: built event by event with redeliveries, they equal a single fold of the history."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eoc.app.keyring import SQLiteKeyring
from eoc.app.service import CommandService, EOCApplication
from events.envelope import Envelope
from projections import Board, apply, fold
from tests.support.history import logged_envelopes, run_history
from tests.support.system import FakeClock


def _history(seed: int, steps: int) -> list[Envelope]:
    app = EOCApplication(env={})  # the library's in-memory store: the property is about folds
    clock = FakeClock()
    service = CommandService(app, SQLiteKeyring(":memory:"), clock=clock)
    run_history(service, steps, seed, clock)
    return logged_envelopes(app)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), steps=st.integers(20, 250), redelivery=st.floats(0.05, 0.6),
       order_seed=st.integers(0, 2**32))
def test_event_by_event_with_redeliveries_equals_one_fold(seed, steps, redelivery, order_seed):
    history = _history(seed, steps)
    once = fold(history).rows
    assert once, "the history made boards"

    rnd = random.Random(order_seed)
    board, duplicates = Board(), 0
    crash = rnd.randrange(len(history))  # every example has at least one crash and resend
    for i, event in enumerate(history):
        assert apply(board, event) is True
        board.take_changes()
        while i == crash or rnd.random() < redelivery:  # a crash and a resend: any earlier event, again
            crash = -1
            again = history[rnd.randint(0, i)]
            assert apply(board, again) is False, "a redelivered event was folded twice"
            assert board.take_changes() == {}, "a redelivery changed a row"
            duplicates += 1
    assert duplicates >= 1, "the case this property is about occurred"
    assert board.rows == once


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_the_wire_form_folds_to_the_same_boards(seed):
    """What Kafka carries (JSON, decoded and upcast) folds exactly as the in-process events."""
    history = _history(seed, 120)
    decoded = [Envelope.from_json(e.to_json()) for e in history]
    assert fold(decoded).rows == fold(history).rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), order_seed=st.integers(0, 2**32))
def test_provinces_interleaved_differently_fold_the_same(seed, order_seed):
    """Partitions by province may interleave in any order; per-province order is enough."""
    history = _history(seed, 200)
    by_province: dict[str, list[Envelope]] = {}
    for e in history:
        by_province.setdefault(e.province, []).append(e)
    rnd = random.Random(order_seed)
    queues = {p: list(es) for p, es in by_province.items()}
    interleaved = []
    while any(queues.values()):
        p = rnd.choice([p for p, q in queues.items() if q])
        interleaved.append(queues[p].pop(0))
    assert len(by_province) == 2
    # The case this property is about occurred: the provinces' events come in another order.
    assert [e.id for e in interleaved] != [e.id for e in history]
    assert sorted(e.id for e in interleaved) == sorted(e.id for e in history)
    assert fold(interleaved).rows == fold(history).rows
