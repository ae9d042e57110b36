"""Two times on every fact: a command may say when it happened (a late entry, ثبت با تأخیر)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from eoc.audit.late import list_late_entries
from eoc.cli import main
from events.envelope import iso
from projections import fold
from tests.support.audit import cli_env, envelopes
from tests.support.scenario import IN_QAZVIN, QZV
from tests.support.system import Api, FakeClock

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
EARLY = NOW - timedelta(hours=6)  # the network was down from noon; everything is entered at 18:00


@pytest.fixture
def late(make_system):
    clock = FakeClock(NOW)
    return Api(make_system(clock=clock))


def test_back_dated_entry_of_each_command(late: Api) -> None:
    """Every command that records a fact takes occurred_at; the envelope keeps both times."""
    minute = iter(range(1, 1000))

    def at() -> str:
        return iso(EARLY + timedelta(minutes=next(minute)))

    asked: dict[str, list[str]] = {}  # event type -> the moments the commands named

    def post(path: str, body: dict, expect: tuple[str, ...]) -> dict:
        moment = at()
        out = late.ok(path, {**body, "occurred_at": moment})
        for t in expect:
            asked.setdefault(t, []).append(moment)
        return out

    centre = post("/centres", {**QZV, "name": "Qazvin centre", "kind": "residential_level_1", "capacity": 1,
                               "location": IN_QAZVIN}, ("CentreRegistered",))["centre_id"]
    other = post("/centres", {**QZV, "name": "Qazvin centre 2", "kind": "residential_level_2", "capacity": 4,
                              "location": IN_QAZVIN}, ("CentreRegistered",))["centre_id"]
    team = post("/teams", {**QZV, "name": "QZV-1", "home": IN_QAZVIN}, ("TeamRegistered",))["team_id"]
    post(f"/teams/{team}/shift/start", {"shift": "morning", "members": ["a", "b"]}, ("ShiftStarted",))
    call = post("/calls", {**QZV}, ("CallReceived",))["call_id"]
    post(f"/calls/{call}/classify", {"category": "spouse_abuse", "priority": "urgent"}, ("CallClassified",))
    post(f"/calls/{call}/counsel", {"services": ["counselling"], "duration_s": 300}, ("CallCounselled",))
    call2 = post("/calls", {**QZV}, ("CallReceived",))["call_id"]
    post(f"/calls/{call2}/classify", {"category": "family_dispute", "priority": "normal"}, ("CallClassified",))
    post(f"/calls/{call2}/refer", {"target": "line_1480"}, ("CallReferred",))
    incident = post(f"/calls/{call}/escalate", {"location": IN_QAZVIN},
                    ("CallEscalated", "IncidentOpened"))["incident_id"]
    walk_in = post("/incidents", {**QZV, "route": "police", "category": "runaway", "priority": "high",
                                  "location": IN_QAZVIN}, ("IncidentOpened",))["incident_id"]
    post(f"/teams/{team}/dispatch", {"incident_id": incident}, ("TeamDispatched",))
    post(f"/teams/{team}/status", {"status": "en_route"}, ("TeamStatusChanged",))
    post(f"/teams/{team}/status", {"status": "on_scene", "position": IN_QAZVIN}, ("TeamStatusChanged",))
    post(f"/teams/{team}/check-in", {}, ("SafetyCheckedIn",))
    post(f"/teams/{team}/check-in-missed", {"due_at": at()}, ("SafetyCheckInMissed",))
    post(f"/teams/{team}/status", {"status": "available"}, ("TeamStatusChanged",))
    post(f"/teams/{team}/shift/end", {}, ("ShiftEnded",))
    post(f"/centres/{centre}/admissions", {"route": "line_123", "client_id": "C-1", "incident_id": walk_in},
         ("ClientAdmitted",))
    r = late.post(f"/centres/{centre}/admissions", {"route": "police", "client_id": "C-2", "occurred_at": at()})
    assert r.status_code == 409
    post(f"/centres/{other}/admissions", {"route": "self", "client_id": "C-3"}, ("ClientAdmitted",))
    post(f"/centres/{centre}/holding", {"client_id": "C-1", "days": 15, "destination_kind": "safe_house"},
         ("HoldingPeriodStarted",))
    post(f"/centres/{other}/discharges", {"client_id": "C-3", "reason": "returned_home"}, ("ClientDischarged",))
    post(f"/centres/{centre}/transfers", {"client_id": "C-1", "to_centre_id": other},
         ("ClientTransferredOut", "ClientTransferredIn"))
    post(f"/incidents/{walk_in}/close", {"outcome": "resolved_on_scene"}, ("IncidentClosed",))
    post(f"/centres/{centre}/capacity", {"capacity": 6}, ("CentreCapacityChanged",))
    post(f"/centres/{centre}/close", {"reason": "moved to a new building"}, ("CentreClosed",))

    stored = envelopes(late.system)
    got: dict[str, list[str]] = {}
    for e in stored:
        if e.type != "AdmissionDeclined":
            got.setdefault(e.type, []).append(e.occurred_at)
        assert e.recorded_at == iso(NOW), e  # the system learned it now
    assert got == asked
    declined = [e for e in stored if e.type == "AdmissionDeclined"]
    assert len(declined) == 1 and declined[0].occurred_at < iso(NOW)
    # The board counts the facts on the day and hour they happened, and shows them as late.
    board = fold(stored)
    day = board.get(f"figures/QZV/{(EARLY + timedelta(hours=3, minutes=30)).date().isoformat()}")
    assert day["calls"] == 2 and day["late_entries"] == len(stored)
    assert board.get(f"team/{team}")["since"] == asked["ShiftEnded"][0]
    # An auditor lists every one of them.
    listed = list_late_entries(stored)
    assert len(listed) == len(stored) and all(r["late_by_s"] > 5 * 3600 for r in listed)


def test_the_late_entries_command(late: Api, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    late.ok("/calls", {**QZV})  # in time
    late.ok("/calls", {**QZV, "occurred_at": iso(EARLY)})  # six hours late
    cli_env(monkeypatch, late.system)
    assert main(["late-entries", "--quiet", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["type"], row["occurred_at"], row["recorded_at"]) == ("CallReceived", iso(EARLY), iso(NOW))
    assert main(["late-entries", "--quiet", "--province", "ALB", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_an_entry_in_time_is_not_late(late: Api) -> None:
    call = late.ok("/calls", {**QZV, "received_at": iso(NOW - timedelta(minutes=5))})["call_id"]
    late.ok(f"/calls/{call}/classify", {"category": "spouse_abuse", "priority": "high",
                                         "occurred_at": iso(NOW - timedelta(minutes=3))})
    late.ok(f"/calls/{call}/counsel", {"services": ["counselling"], "duration_s": 60})
    stored = envelopes(late.system)
    assert [e.occurred_at for e in stored] == [iso(NOW - timedelta(minutes=m)) for m in (5, 3, 0)]
    assert list_late_entries(stored) == []
    assert fold(stored).get(f"figures/QZV/{NOW.date().isoformat()}")["late_entries"] == 0


def test_occurred_at_in_the_future_is_refused_and_stores_nothing(late: Api) -> None:
    r = late.post("/calls", {**QZV, "occurred_at": iso(NOW + timedelta(hours=1))})
    assert r.status_code == 422 and r.json()["error"] == "occurred_in_future"
    r = late.post("/calls", {**QZV, "received_at": iso(NOW + timedelta(days=2))})
    assert r.status_code == 422 and r.json()["error"] == "occurred_in_future"
    assert late.stored() == []
    late.ok("/calls", {**QZV, "occurred_at": iso(NOW + timedelta(seconds=30))})  # a clock a little ahead
    assert [e.occurred_at for e in envelopes(late.system)] == [iso(NOW)]


def test_an_old_entry_needs_a_supervisor(late: Api) -> None:
    old = iso(NOW - timedelta(days=3))
    r = late.post("/calls", {**QZV, "occurred_at": old}, role="call_taker")
    assert r.status_code == 403 and r.json()["error"] == "late_entry_too_old"
    assert late.stored() == []
    late.ok("/calls", {**QZV, "occurred_at": iso(NOW - timedelta(hours=20))}, role="call_taker")
    late.ok("/calls", {**QZV, "occurred_at": old})  # the supervisor may
    assert [e.occurred_at for e in envelopes(late.system)][-1] == old


def test_an_entry_before_the_records_previous_fact_is_refused(late: Api) -> None:
    call = late.ok("/calls", {**QZV, "occurred_at": iso(NOW - timedelta(hours=2))})["call_id"]
    r = late.post(f"/calls/{call}/classify", {"category": "spouse_abuse", "priority": "high",
                                              "occurred_at": iso(NOW - timedelta(hours=3))})
    assert r.status_code == 409 and r.json()["error"] == "occurred_out_of_order"
    assert late.stored() == ["CallReceived"]
    team = late.ok("/teams", {**QZV, "name": "QZV-1", "home": IN_QAZVIN})["team_id"]
    late.ok(f"/teams/{team}/shift/start", {"shift": "morning", "members": ["a"]})
    incident = late.ok("/incidents", {**QZV, "route": "police", "category": "runaway", "priority": "high",
                                      "location": IN_QAZVIN})["incident_id"]
    r = late.post(f"/teams/{team}/dispatch", {"incident_id": incident,
                                              "occurred_at": iso(NOW - timedelta(minutes=1))})
    assert r.status_code == 409 and "cannot precede its incident" in r.json()["reason"]
