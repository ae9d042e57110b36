"""Figures correct for any arrival order and any age: a late fact lands in its own day, old
days move to the period-figures rows instead of being deleted, and a report for any period
equals the key-figures board."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eoc.audit.reports import build_report
from eoc.cli import main
from events.envelope import Envelope, iso
from events.jalali import Period, period_of
from projections import Board, apply
from projections.clock import local_day_hour
from projections.period_figures import day_rows
from tests.support.audit import cli_env
from tests.support.scenario import QZV
from tests.support.system import Api, FakeClock

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def envelope(type_: str, payload: dict[str, Any], occurred: datetime, recorded: datetime, position: int,
             aggregate: str | None = None, province: str = "QZV") -> Envelope:
    return Envelope(type=type_, version=2 if type_ == "CallReceived" else 1, id=str(uuid4()),
                    aggregate_id=aggregate or str(uuid4()), aggregate_version=1, occurred_at=iso(occurred),
                    recorded_at=iso(recorded), province=province, county="Qazvin",
                    actor={"role": "provincial_supervisor", "user": "u"}, exercise=False, payload=payload,
                    position=position)


def call(at: datetime, recorded: datetime, position: int, province: str = "QZV") -> Envelope:
    return envelope("CallReceived", {"line": "123", "caller": "S-x", "caller_sealed": None, "received_at": iso(at)},
                    at, recorded, position, province=province)


def day_of(moment: datetime) -> str:
    return local_day_hour(iso(moment))[0]


def counted(board: Board, day: str, province: str = "QZV") -> int:
    row = day_rows(board.rows).get(f"{province}/{day}")
    return row["calls"] if row else 0


def test_a_future_dated_call_deletes_nothing() -> None:
    board = Board()
    for i in range(3):
        apply(board, call(NOW + timedelta(minutes=i), NOW + timedelta(minutes=i), i + 1))
    apply(board, call(NOW + timedelta(days=60), NOW + timedelta(minutes=5), 4))  # mis-dated, recorded today
    assert board.get(f"figures/QZV/{day_of(NOW)}")["calls"] == 3  # today's row stays live
    assert counted(board, day_of(NOW + timedelta(days=60))) == 1
    for period in (period_of(NOW), period_of(NOW + timedelta(days=60))):
        report = build_report([call(NOW + timedelta(minutes=i), NOW, i + 1) for i in range(3)]
                              + [call(NOW + timedelta(days=60), NOW, 4)], period)
        assert report.check_figures(board.rows)["equal"], period


def test_calls_out_of_date_order_each_land_on_their_own_day(make_system: Any, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Three calls 50, 10 and 50 days ago (entered by a supervisor from paper records)."""
    clock = FakeClock(NOW)
    system = make_system(clock=clock)
    api = Api(system)
    for days in (50, 10, 50):
        api.ok("/calls", {**QZV, "occurred_at": iso(NOW - timedelta(days=days))})
    system.follower.wait_for(system.app.recorder.max_notification_id(), timeout=30)
    _, rows = system.follower.snapshot()
    board = Board(dict(rows))
    assert counted(board, day_of(NOW - timedelta(days=50))) == 2
    assert counted(board, day_of(NOW - timedelta(days=10))) == 1
    assert f"period-figures/QZV/{day_of(NOW - timedelta(days=50))}" in rows  # older than the live window
    assert f"figures/QZV/{day_of(NOW - timedelta(days=10))}" in rows
    assert not any(k.startswith("period-figures/") for k in api.http.get(
        "/api/v1/boards", headers=api.token()).json()["rows"])  # not sent to dashboards
    cli_env(monkeypatch, system)
    for days in (50, 10):
        period = period_of(NOW - timedelta(days=days))
        assert main(["report", "--quiet", "--period", period.code, "--format", "json"]) == 0, period
        captured = capsys.readouterr()
        data = json.loads(captured.out)
        assert data["key_figures_check"]["equal"] and "board check: equal" in captured.err
        expected = sum(counted(board, d) for d in period.days())
        assert data["nation"]["calls"] == expected > 0


KINDS = ("call", "escalated", "dispatch", "admission")


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, str, int, int]]:
    """Facts (kind, province, day offset, minute): what happened, anywhere in 400 days."""
    n = draw(st.integers(1, 60))
    return [(draw(st.sampled_from(KINDS)), draw(st.sampled_from(("QZV", "ALB"))),
             draw(st.integers(-400, 3)), draw(st.integers(0, 1439))) for _ in range(n)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=histories(), order=st.randoms(use_true_random=False), lags=st.lists(st.integers(0, 90), max_size=60))
def test_report_equals_board_for_random_histories_in_random_arrival_orders(
        facts: list[tuple[str, str, int, int]], order: Any, lags: list[int]) -> None:
    base = datetime(2024, 3, 1, tzinfo=UTC)
    arrival = list(range(len(facts)))
    order.shuffle(arrival)
    recorded = base  # the system learns the facts in this order, as time goes by
    envelopes = []
    for position, i in enumerate(arrival, start=1):
        kind, province, day, minute = facts[i]
        occurred = base + timedelta(days=day, minutes=minute)
        recorded += timedelta(days=lags[position - 1] if position <= len(lags) else 1)
        if kind == "call":
            e = call(occurred, recorded, position, province)
        elif kind == "escalated":
            e = envelope("CallEscalated", {"incident_id": str(uuid4())}, occurred, recorded, position,
                         province=province)
        elif kind == "dispatch":
            e = envelope("TeamDispatched", {"incident_id": str(uuid4()), "priority": "high",
                                            "incident_opened_at": iso(occurred), "call_received_at": None},
                         occurred, recorded, position, province=province)
        else:
            declined = minute % 7 == 0  # (payloads as the catalogue has them: the fold checks them)
            e = envelope("AdmissionDeclined" if declined else "ClientAdmitted",
                         {"client": "C-1", "route": "self", "incident_id": None,
                          **({"capacity": 1, "occupied": 1} if declined else {"client_sealed": None})},
                         occurred, recorded, position, province=province)
        envelopes.append(e)
    board = Board()
    for e in envelopes:
        apply(board, e)
    # Nothing lost: every fact is on the board, live or in the period figures, on its own day.
    on_board = day_rows(board.rows)
    for c, kinds in (("calls", ("call",)), ("interventions", ("escalated",)), ("dispatches", ("dispatch",))):
        assert sum(r[c] for r in on_board.values()) == sum(1 for f in facts if f[0] in kinds)
    # Every Jalali month the facts touch: the report equals its board check.
    months = {period_of(base + timedelta(days=f[2], minutes=f[3])) for f in facts}
    for period in months:
        report = build_report(envelopes, period)
        check = report.check_figures(board.rows)
        assert check["equal"], (period, check)
        assert report.total()["calls"] == sum(r["calls"] for k, r in on_board.items() if period.contains_day(r["day"]))
    # A range (any period): the same.
    first, last = min(months, key=lambda p: p.first_day), max(months, key=lambda p: p.last_day)
    assert build_report(envelopes, Period.between(first.first_day, last.last_day)).check_figures(board.rows)["equal"]
