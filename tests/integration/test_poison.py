"""Runners survive poison: a stored event no projection can fold is dead-lettered with its
reason, everything after it folds on, and a fold of one event is all or nothing.

The embedded follower and replay run here on random hostile histories (hypothesis); the
Faust worker runs one in test_poison_cluster.py; start-up after a kill -9 right after a
poison event, and an Idempotency-Key retry across a kill -9, run the real server process.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.replay import replay
from eoc.audit.sources import StoreSource
from events.envelope import Envelope
from projections import Board, apply, fold
from projections.visibility import visible_rows
from tests.support.history import commands, logged_envelopes
from tests.support.poison import (
    ALL,
    HOSTILE_TEXT,
    POISON_TYPES,
    POISONS,
    SCHEMA_BREAKING,
    call_in_year_999,
    team_with_hostile_name,
    undecodable_row,
)


def _envelope(type_: str, payload: dict, *, occurred_at: str, position: int) -> Envelope:
    return Envelope(type=type_, version=1, id=f"e{position}", aggregate_id="a1", aggregate_version=1,
                    occurred_at=occurred_at, recorded_at="2026-11-23T08:00:00.000Z", province="QZV",
                    county="Qazvin", actor={"role": "dispatcher", "user": "u"}, exercise=False, payload=payload,
                    position=position)


OPENED = {"route": "police", "category": "child_abuse", "priority": "high", "risk_flags": [],
          "location": {"lat": 36.27, "lon": 50.0}}


def test_a_fold_that_fails_half_way_writes_nothing_but_its_dead_letter():
    board = Board()
    # IncidentOpened goes to the incident board first, then to the key figures, which fail
    # on a moment in year 999: the incident row must not be left behind.
    poison = _envelope("IncidentOpened", OPENED, occurred_at="0999-12-31T00:00:00.000Z", position=7)
    seen: list[tuple[str, str]] = []
    assert apply(board, poison, lambda e, reason: seen.append((e.id, reason)))
    assert not any(k.startswith("incident/") or k.startswith("figures/") for k in board.rows)
    assert board.get("applied/QZV") == 7
    letter = board.get("deadletter/7")
    assert letter["type"] == "IncidentOpened" and letter["event_id"] == "e7" and "999" in letter["reason"]
    assert board.get("alert/dead_letter/7")["kind"] == "dead_letter"
    assert seen == [("e7", letter["reason"])]
    # The next event folds, and a redelivered poison changes nothing.
    assert apply(board, _envelope("IncidentOpened", OPENED, occurred_at="2026-11-23T08:00:00.000Z", position=8))
    assert any(k.startswith("incident/") for k in board.rows)
    assert not apply(board, poison)


def test_dead_letters_are_read_by_supervisors_and_the_alert_by_the_province():
    board = Board()
    apply(board, _envelope("IncidentOpened", OPENED, occurred_at="0999-12-31T00:00:00.000Z", position=1))
    rows = board.snapshot()
    assert "deadletter/1" in visible_rows(rows, "provincial_supervisor", "QZV")
    assert "deadletter/1" in visible_rows(rows, "national_eoc", "IR")
    dispatcher = visible_rows(rows, "dispatcher", "QZV")
    assert "deadletter/1" not in dispatcher and "alert/dead_letter/1" in dispatcher
    assert not visible_rows(rows, "provincial_supervisor", "ALB")


def test_the_follower_dead_letters_a_stored_poison_event_and_folds_on(make_system):
    system = make_system()
    now = datetime.now(UTC)
    for poison in ALL:
        poison(system.app, now, "[/]")
    from eoc.app import commands as c
    from tests.support.history import claims

    after = system.service.receive_call(c.ReceiveCall(province="QZV", county="Qazvin"), claims("QZV"))
    assert system.follower.wait_for(after["position"], timeout=10)
    rows = system.follower.snapshot()[1]
    letters = {r["type"] for k, r in rows.items() if k.startswith("deadletter/")}
    assert letters == POISON_TYPES
    assert system.follower.dead_letters == 3  # 0999, 0001 and the payload that breaks its schema
    assert sum("InvalidPayload: IncidentOpened" in r["reason"] for k, r in rows.items()
               if k.startswith("deadletter/")) == 1
    assert f"figures/QZV/{(now + timedelta(hours=3, minutes=30)).date().isoformat()}" in rows
    assert rows["applied/QZV"] == after["position"]
    # Replay folds the same history into the same boards, dead letters included.
    assert dict(fold(logged_envelopes(system.app)).rows) == rows


# A step of a hostile history: a valid command (by seed), one of the stored poisons, a stored
# row that is no event, or a hostile name. Every history holds at least one payload that breaks
# its schema (inserted at a drawn place), so the case the runners once decided apart is always
# there; the test checks that it was stored and dead-lettered.
STEP = st.one_of(st.integers(0, 2**16).map(lambda s: ("command", s)),
                 st.sampled_from([*ALL, undecodable_row]).map(lambda p: ("poison", p)),
                 st.sampled_from(HOSTILE_TEXT).map(lambda t: ("text", t)))
STEPS = st.tuples(st.lists(STEP, min_size=4, max_size=39), st.integers(0, 39),
                  st.sampled_from(SCHEMA_BREAKING)).map(
    lambda t: [*t[0][:t[1]], ("poison", t[2]), *t[0][t[1]:]])


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(steps=STEPS)
def test_hostile_histories_give_equal_boards_in_the_follower_and_replay(tmp_path_factory, steps):
    """On the embedded store, one fresh system per example (closed after it)."""
    from eoc.app.config import Settings
    from eoc.main.bootstrap import build
    from tests.support.system import FakeClock

    clock = FakeClock(datetime.now(UTC) - timedelta(days=2))
    system = build(Settings.from_env({}, store="sqlite", data_dir=tmp_path_factory.mktemp("hostile"),
                                     token_secret=b"test-secret-test-secret"), clock=clock, checkpoint=False)
    try:
        _hostile_history(system, clock, steps)
    finally:
        system.close()


def _hostile_history(system, clock, steps) -> None:
    history = commands(system.service, seed=len(steps))
    poisons = schema_breaking = not_events = 0
    for kind, value in steps:
        clock.advance(seconds=97)
        if kind == "command":
            history.step()
        elif kind == "text":
            team_with_hostile_name(system.app, clock.now, value)
        else:
            value(system.app, clock.now, "[/]")
            poisons += value in POISONS
            schema_breaking += value in SCHEMA_BREAKING
            not_events += value is undecodable_row
    assert schema_breaking >= 1  # the hostile case occurred in this history
    last = system.app.recorder.max_notification_id() or 0
    assert system.follower.wait_for(last, timeout=30)
    rows = system.follower.snapshot()[1]
    # Replay (and so eoc diff, which compares it with the live boards) folds the same rows.
    replayed = replay(StoreSource(system.app))
    assert replayed.rows == rows
    letters = [r for k, r in rows.items() if k.startswith("deadletter/")]
    # Whether a 0999/0001 poison fails depends on the history before it (a day long closed goes
    # to the period figures, which do not name it); a payload that breaks its schema always does.
    invalid = [r for r in letters if r["reason"].startswith("InvalidPayload: IncidentOpened: ")]
    assert len(invalid) == schema_breaking
    unreadable = [r for r in letters if r["type"] is None]
    assert len(unreadable) == not_events and all("Vanished" in r["reason"] for r in unreadable)
    assert len(letters) == system.follower.dead_letters <= poisons + schema_breaking + not_events
    assert all(r["reason"] and r["type"] in POISON_TYPES for r in letters if r["type"] is not None)
    assert all(f"alert/dead_letter/{r['position']}" in rows for r in letters if r["type"] is not None)
    # Each hostile name was stored and folds literally.
    for kind, value in steps:
        if kind == "text":
            assert any(isinstance(r, dict) and r.get("name") == value for k, r in rows.items()
                       if k.startswith("team/")), repr(value)


def test_call_in_year_999_is_what_the_issue_found(make_system):
    """The exact history of the finding folds alike on the follower and in a replay."""
    system = make_system()
    call_in_year_999(system.app, datetime.now(UTC), "")
    assert system.follower.wait_for(system.app.recorder.max_notification_id(), timeout=10)
    assert dict(fold(logged_envelopes(system.app)).rows) == system.follower.snapshot()[1]


def test_eoc_replay_and_diff_finish_on_a_poisoned_history(make_system, tmp_path, monkeypatch, capsys):
    """The finding: after one poisoned call, ``eoc replay`` and ``eoc diff`` failed on the history
    for ever. Every stored poison (0999, 0001, a payload that breaks its schema, a row that is
    no event, hostile names) is there: both commands finish, and the replay equals the live boards."""
    import json

    from eoc.app import commands as c
    from eoc.cli import main
    from tests.support.audit import api_boards, cli_env
    from tests.support.history import claims

    system = make_system()
    now = datetime.now(UTC)
    for poison in [*ALL, undecodable_row]:
        poison(system.app, now, "[/]")
    after = system.service.receive_call(c.ReceiveCall(province="QZV", county="Qazvin"), claims("QZV"))
    assert system.follower.wait_for(after["position"], timeout=10)
    cli_env(monkeypatch, system)
    out = tmp_path / "replay.json"
    assert main(["replay", "--quiet", "--format", "json", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    letters = {k: r for k, r in rows.items() if k.startswith("deadletter/")}
    assert sum(r["reason"].startswith("InvalidPayload: IncidentOpened") for r in letters.values()) == 1
    assert sum(r["type"] is None for r in letters.values()) == 1  # the row that is no event
    assert rows["applied/QZV"] == after["position"]
    live = tmp_path / "live.json"
    live.write_text(json.dumps(api_boards(system)))
    capsys.readouterr()
    assert main(["diff", "--quiet", "--live-file", str(live)]) == 0
    assert "equals the live boards" in capsys.readouterr().out
