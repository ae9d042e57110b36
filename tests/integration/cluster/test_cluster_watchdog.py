"""The staff-safety watchdog in cluster mode: `eoc watchdog` reads the boards from the
eoc.boards topic and records a missed check-in through the PostgreSQL store; two of them
running, exactly one is active (a PostgreSQL advisory lock), so the alert is raised once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eoc.app import commands as c
from events.catalogue import Point
from tests.support.cluster import stored_envelopes, supervisor, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]


def test_a_missed_check_in_raises_its_alert_in_cluster_mode(cluster: Any, writer: Any, clock: Any) -> None:
    svc, who = writer.service, supervisor("QZV")
    # The history happened an hour ago (the watchdog runs on the real clock, as deployed).
    clock.now = datetime.now(UTC) - timedelta(hours=1)
    home = Point(lat=36.27, lon=50.0)
    team = svc.register_team(c.RegisterTeam(province="QZV", county="Qazvin", name="QZV-1", home=home), who)["team_id"]
    svc.start_shift(team, c.StartShift(shift="morning", members=["a", "b"]), who)
    incident = svc.open_incident(c.OpenIncident(province="QZV", county="Qazvin", route="police",
                                                category="spouse_abuse", priority="urgent", location=home),
                                 who)["incident_id"]
    svc.dispatch_team(team, c.DispatchTeam(incident_id=incident), who)
    svc.change_team_status(team, c.ChangeTeamStatus(status="en_route"), who)
    svc.change_team_status(team, c.ChangeTeamStatus(status="on_scene"), who)  # 60 minutes without a check-in

    boards = cluster.reader(cluster.layout.boards)
    cluster.start("relay")
    cluster.start("worker")
    cluster.start("watchdog-1", "--every", "1")
    cluster.start("watchdog-2", "--every", "1")  # a standby: it must not raise the alert again

    def alert() -> Any:
        boards.catch_up()
        return boards.rows.get(f"alert/check_in_missed/{team}")

    raised = wait_until(alert, timeout=120, what="the missed check-in alert on eoc.boards")
    assert raised["team_id"] == team and raised["province"] == "QZV"
    time.sleep(4)  # several sweeps of both watchdogs
    missed = [e for e in stored_envelopes(writer.app) if e.type == "SafetyCheckInMissed"]
    # Under the watchdog's own registered service account (in the cluster's user directory).
    from eoc.app.watchdog import ACCOUNT

    account = writer.directory.find(ACCOUNT)
    assert len(missed) == 1 and missed[0].actor["role"] == "watchdog" == str(account.role)
    assert missed[0].actor["user"] == account.id
    assert all(p.alive for p in cluster.processes.values()), cluster.logs()
