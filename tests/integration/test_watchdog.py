"""The staff-safety watchdog raises a missed check-in once, and a check-in clears it."""

from __future__ import annotations

from eoc.app.watchdog import Watchdog
from tests.support.scenario import incident, team
from tests.support.system import Api, FakeClock


def test_a_team_on_scene_without_a_check_in_is_raised_once(make_system):
    clock = FakeClock()
    system = make_system(clock=clock)
    api, dog = Api(system), Watchdog(system)
    team_id = team(api)
    api.ok(f"/teams/{team_id}/dispatch", {"incident_id": incident(api)})
    for status in ("en_route", "on_scene"):
        api.ok(f"/teams/{team_id}/status", {"status": status})

    def settle():
        assert system.follower.wait_for(system.app.recorder.max_notification_id())
        return system.follower.snapshot()[1]

    settle()
    clock.advance(minutes=19)
    assert dog.sweep() == 0
    clock.advance(minutes=2)
    assert dog.sweep() == 1
    rows = settle()
    assert rows[f"team/{team_id}"]["check_in_missed"] is True
    alert = rows[f"alert/check_in_missed/{team_id}"]
    assert alert["team_id"] == team_id
    assert dog.sweep() == 0, "raised once, not at every sweep"
    assert api.stored().count("SafetyCheckInMissed") == 1

    api.ok(f"/teams/{team_id}/check-in", {}, role="team", team=team_id)
    rows = settle()
    assert f"alert/check_in_missed/{team_id}" not in rows
    clock.advance(minutes=21)
    assert dog.sweep() == 1, "the next interval counts from the check-in"
