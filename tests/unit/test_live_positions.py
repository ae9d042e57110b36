"""The live map (موقعیت زنده) and the position track: a team's ``position/`` row is its newest
position, kept or only shown, and names the last kept point while the two differ — the row a
replay of the track alone makes (eoc/app/track.py, projections/teams.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from eoc.app.track import Thinning
from eoc.audit.diff import diff_rows, kept_positions
from events.envelope import Envelope, iso
from projections import Board, apply
from projections.rows import ROW_KINDS
from projections.teams import kept_position
from tests.unit.test_row_types import check_documented

TEAM = "7f8e4c1a-0000-4000-8000-000000000001"
T0 = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


def report(seconds: float, lat: float, *, seq: int | None = None, speed: float | None = None) -> Envelope:
    """A position report taken ``seconds`` after T0: kept when it has its place in the track
    (``seq``), only shown without one."""
    payload: dict[str, object] = {"position": {"lat": lat, "lon": 50.0}}
    if speed is not None:
        payload["speed_kmh"] = speed
    at = iso(T0 + timedelta(seconds=seconds))
    return Envelope(type="TeamPositionReported", version=1, id=f"r-{seconds}-{lat}", aggregate_id=TEAM,
                    aggregate_version=1, occurred_at=at, recorded_at=at, province="QZV", county="Qazvin",
                    actor={"role": "team", "user": "U"}, exercise=False, payload=payload, position=seq)


def row(board: Board) -> dict[str, Any]:
    return cast(dict[str, Any], board.get(f"position/{TEAM}"))


def check_row(key: str, value: dict[str, Any]) -> None:
    """The row is a ``PositionRow`` (projections/rows.py) and as the board topic documents it."""
    TypeAdapter(ROW_KINDS["position/"]).validate_python(value, strict=True)
    check_documented({key: value})


def test_a_report_only_shown_moves_the_row_and_names_the_last_kept_point():
    board = Board()
    apply(board, report(0, 36.30, seq=1, speed=40.0))
    assert row(board) == {"team_id": TEAM, "province": "QZV", "lat": 36.30, "lon": 50.0,
                          "at": iso(T0), "speed_kmh": 40.0}
    apply(board, report(0.5, 36.31))
    assert row(board) == {"team_id": TEAM, "province": "QZV", "lat": 36.31, "lon": 50.0,
                          "at": iso(T0 + timedelta(seconds=0.5)),
                          "kept": {"lat": 36.30, "lon": 50.0, "at": iso(T0), "speed_kmh": 40.0}}
    check_row(f"position/{TEAM}", row(board))
    assert kept_position(row(board)) == {"team_id": TEAM, "province": "QZV", "lat": 36.30, "lon": 50.0,
                                         "at": iso(T0), "speed_kmh": 40.0}
    # The next kept point is newer than the map's: the row is history's again, with no "kept".
    apply(board, report(30, 36.40, seq=2))
    assert "kept" not in row(board) and row(board)["lat"] == 36.40
    # A kept point older than the map's (a gateway's batch: its oldest kept, its newest shown)
    # moves only what the row names as kept.
    apply(board, report(31, 36.42))
    apply(board, report(60, 36.50, seq=3))
    apply(board, report(60.4, 36.51))
    apply(board, report(60.2, 36.60, seq=None))  # older than the map's: nothing
    assert (row(board)["lat"], row(board)["kept"]["lat"]) == (36.51, 36.50)


def test_a_team_only_shown_so_far_has_no_kept_point():
    board = Board()
    apply(board, report(1, 36.30))
    assert row(board)["kept"] is None and kept_position(row(board)) is None
    assert kept_positions({f"position/{TEAM}": row(board), "team/x": {"id": "x"}}) == {"team/x": {"id": "x"}}


@settings(max_examples=60, deadline=None)
@given(reports=st.lists(st.tuples(st.integers(0, 600), st.integers(0, 50), st.booleans()), min_size=1, max_size=30),
       order=st.integers(0, 2**32))
def test_in_any_order_the_row_is_the_newest_and_history_is_what_a_replay_of_the_track_makes(reports, order):
    """Live, kept and shown reports arrive in any order (the cluster's topics, a batch); a replay
    folds the kept ones only. Both rows agree on history: ``eoc diff --with-telemetry``."""
    envelopes = [report(tenths / 10, 36.0 + lat / 100, seq=i + 1 if kept else None)
                 for i, (tenths, lat, kept) in enumerate(reports)]
    live = Board()
    for e in random.Random(order).sample(envelopes, len(envelopes)):
        apply(live, e)
    replay = Board()
    for e in envelopes:
        if e.position is not None:
            apply(replay, e)
    newest = max(envelopes, key=lambda e: (e.occurred_at, e.payload["position"]["lat"]))
    assert (row(live)["at"], row(live)["lat"]) == (newest.occurred_at, newest.payload["position"]["lat"])
    assert diff_rows(kept_positions(live.rows), kept_positions(replay.rows)) == []
    check_row(f"position/{TEAM}", row(live))


def test_the_thinning_keeps_one_per_30_s_and_shows_at_most_four_a_second():
    thinning = Thinning()

    def at(s: float) -> str:
        return iso(T0 + timedelta(seconds=s))

    assert thinning.keep(TEAM, at(0)) is True
    assert thinning.show(TEAM, at(0.1)) is False  # a quarter second after the map's
    assert thinning.show(TEAM, at(0.25)) is True
    assert thinning.show(TEAM, at(0.25)) is False  # a repeat
    assert thinning.show(TEAM, at(-5)) is False  # older than the map's
    assert thinning.keep(TEAM, at(29.9)) is False and thinning.show(TEAM, at(29.9)) is True
    assert thinning.keep(TEAM, at(30)) is True and thinning.show(TEAM, at(30.1)) is False
    # After a restart the thinning goes on from the track's last kept point.
    again = Thinning(last={TEAM: at(30)})
    assert again.keep(TEAM, at(45)) is False and again.show(TEAM, at(30.1)) is False
    assert again.show(TEAM, at(45)) is True
