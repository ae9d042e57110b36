"""The rules the provincial reports state: the holding period (قرنطینه) before a safe or health
house, the overdue-transfer alert, "full" when full, no admission to an outpatient centre."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eoc.audit.late import list_late_entries
from events.envelope import iso
from projections.views import summary
from tests.support.audit import envelopes
from tests.support.scenario import IN_QAZVIN, QZV, centre
from tests.support.system import Api, FakeClock

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def places(make_system: Any, clock: FakeClock) -> tuple[Api, str, str]:
    api = Api(make_system(clock=clock))
    intervention = centre(api, capacity=4)
    house = api.ok("/centres", {**QZV, "name": "Safe house 1", "kind": "safe_house", "capacity": 2,
                                "location": IN_QAZVIN})["centre_id"]
    api.ok(f"/centres/{intervention}/admissions", {"route": "police", "client_id": "C-1"}, role="centre_staff")
    return api, intervention, house


def test_holding_rule_without_override(places: tuple[Api, str, str], clock: FakeClock) -> None:
    api, intervention, house = places
    move = {"client_id": "C-1", "to_centre_id": house}
    r = api.post(f"/centres/{intervention}/transfers", move, role="centre_staff")  # no holding period at all
    assert r.status_code == 409 and r.json()["error"] == "holding_not_served"
    assert "no holding period was started" in r.json()["reason"]
    api.ok(f"/centres/{intervention}/holding", {"client_id": "C-1", "days": 15, "destination_kind": "safe_house"},
           role="centre_staff")
    for days in (0, 14):  # day 0 and the day before it ends: still holding
        clock.now = NOW + timedelta(days=days)
        r = api.post(f"/centres/{intervention}/transfers", move, role="centre_staff")
        assert r.status_code == 409 and iso(NOW + timedelta(days=15)) in r.json()["reason"]
    assert "ClientTransferredOut" not in api.stored()
    clock.now = NOW + timedelta(days=15, minutes=1)  # served
    api.ok(f"/centres/{intervention}/transfers", move, role="centre_staff")
    assert api.stored()[-2:] == ["ClientTransferredOut", "ClientTransferredIn"]


def test_holding_rule_with_override(places: tuple[Api, str, str]) -> None:
    api, intervention, house = places
    move = {"client_id": "C-1", "to_centre_id": house, "override_reason": "threats at the centre; court order 14/2"}
    r = api.post(f"/centres/{intervention}/transfers", move, role="centre_staff")
    assert r.status_code == 403  # only a supervisor may override
    r = api.post(f"/centres/{intervention}/transfers", {**move, "override_reason": "short"})
    assert r.status_code == 422  # a reason, not a word
    assert "HoldingRuleOverridden" not in api.stored()
    api.ok(f"/centres/{intervention}/transfers", move)
    assert api.stored()[-3:] == ["HoldingRuleOverridden", "ClientTransferredOut", "ClientTransferredIn"]
    listed = [r for r in list_late_entries(envelopes(api.system)) if r["kind"] == "override"]
    assert [(r["type"], r["reason"], r["actor_role"]) for r in listed] == [
        ("HoldingRuleOverridden", move["override_reason"], "provincial_supervisor")]


def test_overdue_transfer_alert(places: tuple[Api, str, str], clock: FakeClock) -> None:
    api, intervention, _ = places
    api.ok(f"/centres/{intervention}/holding", {"client_id": "C-1", "days": 15, "destination_kind": "safe_house"},
           role="centre_staff")
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id(), timeout=30)
    _, rows = api.system.follower.snapshot()

    def at(days: float) -> dict[str, Any]:
        return summary(rows, iso(NOW + timedelta(days=days)))

    assert not [a for a in at(14)["alerts"] if a["kind"] == "transfer_overdue"]
    late = at(17.5)
    (alert,) = [a for a in late["alerts"] if a["kind"] == "transfer_overdue"]
    assert alert["centre_id"] == intervention and alert["days_overdue"] == 2.5 and "client" not in alert
    (row,) = [c for c in late["centres"] if c["id"] == intervention]
    assert row["holding"][0]["overdue"] and row["holding"][0]["days_left"] == 0 and row["transfers_overdue"] == 1
    assert late["occupancy"]["provinces"]["QZV"]["transfers_overdue"] == 1


def test_full_when_full(places: tuple[Api, str, str]) -> None:
    api, _, house = places
    for client in ("C-7", "C-8"):
        api.ok(f"/centres/{house}/admissions", {"route": "other_centre", "client_id": client}, role="centre_staff")
    r = api.post(f"/centres/{house}/admissions", {"route": "other_centre", "client_id": "C-9"}, role="centre_staff")
    assert r.status_code == 409 and r.json()["error"] == "over_capacity"
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id(), timeout=30)
    _, rows = api.system.follower.snapshot()
    fullness = {c["id"]: c["full"] for c in summary(rows, iso(NOW))["centres"]}
    assert fullness[house] is True and list(fullness.values()).count(True) == 1


def test_outpatient_admission_is_refused_with_409(places: tuple[Api, str, str]) -> None:
    api, _, _ = places
    outpatient = centre(api, kind="outpatient", name="Buin Zahra outpatient centre")
    before = api.stored()
    r = api.post(f"/centres/{outpatient}/admissions", {"route": "self", "client_id": "C-5"}, role="centre_staff")
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "not_residential" and "outpatient" in body["reason"] and "residential" in body["reason"]
    assert api.stored() == before
