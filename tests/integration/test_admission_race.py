"""Admissions racing for the last places: capacity holds, every refusal is recorded.

On PostgreSQL, five application instances (as five API processes would be) send 50
admissions at once for the last 4 places of a centre.
"""

from __future__ import annotations

import threading

import pytest

from eoc.app import commands as c
from eoc.app.auth import Claims
from eoc.domain.errors import OverCapacity
from events.vocabulary import Role
from tests.support.scenario import IN_QAZVIN

STAFF = Claims(sub="staff", role=Role.CENTRE_STAFF, province="QZV", exp=2**40)
SUPERVISOR = Claims(sub="boss", role=Role.PROVINCIAL_SUPERVISOR, province="QZV", exp=2**40)


def _race(make_system, tmp_path, instances: int, racers: int, places: int):
    # On SQLite the instances share one database file, as processes on one machine would.
    systems = [make_system(data_dir=tmp_path / "shared", single_writer=False) for _ in range(instances)]
    centre_id = systems[0].service.register_centre(c.RegisterCentre(
        province="QZV", county="Qazvin", name="Qazvin crisis centre", kind="residential_level_1",
        capacity=places + 8, location=IN_QAZVIN), SUPERVISOR)["centre_id"]
    for _ in range(8):  # 8 of 12 places taken already: 4 left
        systems[0].service.admit_client(centre_id, c.AdmitClient(route="self"), STAFF)
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def admit(i: int) -> None:
        service = systems[i % instances].service
        barrier.wait()
        try:
            service.admit_client(centre_id, c.AdmitClient(route="line_123", client_id=f"racer-{i:02d}"), STAFF)
            outcome = "admitted"
        except OverCapacity as refusal:
            assert refusal.details["declined_recorded"] is True
            outcome = "declined"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=admit, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return systems[0], centre_id, outcomes, sum(s.service.conflicts for s in systems)


def _history(system, centre_id: str):
    app = system.app
    return [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=0, limit=10_000)
            if str(app.mapper.to_domain_event(n).originator_id) == centre_id]


@pytest.mark.parametrize("store", [pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def test_fifty_admissions_for_the_last_four_places(make_system, store, tmp_path):
    system, centre_id, outcomes, conflicts = _race(make_system, tmp_path, instances=5, racers=50, places=4)
    assert outcomes.count("admitted") == 4
    assert outcomes.count("declined") == 46

    history = _history(system, centre_id)
    kinds = [e.type for e in history]
    assert kinds.count("ClientAdmitted") == 8 + 4
    assert kinds.count("AdmissionDeclined") == 46, "every refusal is recorded as unmet demand"
    # Occupancy never above capacity at any point of the history.
    occupied, capacity = 0, None
    for e in history:
        if e.type == "CentreRegistered":
            capacity = e.payload["capacity"]
        elif e.type == "ClientAdmitted":
            occupied += 1
        assert occupied <= capacity, f"over capacity at version {e.originator_version}"
        if e.type == "AdmissionDeclined":
            assert e.payload["occupied"] == capacity
    # Versions are gap-free: no write was lost between the racers.
    assert [e.originator_version for e in history] == list(range(1, len(history) + 1))
    # The boards agree.
    assert system.follower.wait_for(system.app.recorder.max_notification_id(), timeout=10)
    _, rows = system.follower.snapshot()
    row = rows[f"centre/{centre_id}"]
    assert (row["occupied"], row["capacity"], row["declined"]) == (12, 12, 46)
    print(f"{store}: {conflicts} optimistic-concurrency conflicts retried")
