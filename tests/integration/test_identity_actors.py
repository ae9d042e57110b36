"""Every event names a real actor (issue 13, "what it must do" 3): the simulator's desks are
users of the directory signed in with real sessions, the watchdog a registered service
account with a role of its own; no event names a shared or made-up identity."""

from __future__ import annotations

import pytest

from eoc.app.auth import Claims, authorize
from eoc.app.watchdog import ACCOUNT, Watchdog
from eoc.audit.sources import StoreSource
from eoc.domain.errors import Forbidden, InvalidCommand
from events.policy import COMMANDS, POLICY, SERVICE_ROLES, roles_for
from events.vocabulary import Role
from tests.support.served import served
from tests.support.simulator import make_system, run

# Which commands store an event of each type (a type some commands share, e.g. an incident
# opened by a dispatcher or by escalating a call, lists them all).
MADE_BY: dict[str, set[str]] = {
    "CallReceived": {"receive_call"}, "CallClassified": {"classify_call"}, "CallCounselled": {"counsel_call"},
    "CallReferred": {"refer_call"}, "CallEscalated": {"escalate_call"},
    "IncidentOpened": {"open_incident", "escalate_call"}, "IncidentClosed": {"close_incident"},
    "TeamRegistered": {"register_team"}, "ShiftStarted": {"start_shift"}, "ShiftEnded": {"end_shift"},
    "TeamDispatched": {"dispatch_team"}, "TeamStatusChanged": {"change_team_status", "end_shift"},
    "TeamReleasedFromDrill": {"close_incident", "change_team_status", "end_shift"},
    "SafetyCheckedIn": {"check_in"}, "SafetyCheckInMissed": {"record_missed_check_in"},
    "CentreRegistered": {"register_centre"}, "CentreCapacityChanged": {"change_capacity"},
    "CentreClosed": {"close_centre"},
    "ClientAdmitted": {"admit_client", "transfer_client"}, "AdmissionDeclined": {"admit_client"},
    "HoldingPeriodStarted": {"start_holding", "admit_client", "transfer_client"},
    "ClientTransferredOut": {"transfer_client"}, "ClientTransferredIn": {"transfer_client"},
    "ClientDischarged": {"discharge_client"}, "HoldingRuleOverridden": {"transfer_client"},
    "RosterSet": {"set_roster"}, "CallLinked": {"link_call"}, "IncidentCallLinked": {"link_call"},
    "TeamConflictRecorded": {"record_team_conflict"}, "DangerFlagRecorded": {"record_danger_flag"},
    "DangerFlagReviewed": {"review_danger_flag"},
    "FollowUpScheduled": {"schedule_follow_up", "discharge_client", "counsel_call", "refer_call"},
    "FollowUpDone": {"complete_follow_up"}, "DuressRaised": {"raise_duress"}, "DuressCleared": {"clear_duress"},
    "PlaceHeld": {"hold_place"}, "PlaceHoldReleased": {"release_place_hold", "admit_client"},
}


def stored_actors(system) -> list[tuple[str, dict[str, str]]]:
    return [(r.value["type"], r.value["actor"]) for r in StoreSource(system.app).records()]


def assert_real_actors(system, events: list[tuple[str, dict[str, str]]]) -> dict[str, object]:
    users = {u.id: u for u in system.directory.list()}
    for kind, actor in events:
        assert kind in MADE_BY, f"which command stores {kind}? (add it to MADE_BY)"
        user = users.get(actor["user"])
        assert user is not None, f"{kind} names {actor['user']!r}, who is not in the directory"
        assert str(user.role) == actor["role"], (kind, actor, user)
        allowed = set().union(*(roles_for(c) for c in MADE_BY[kind]))
        assert Role(actor["role"]) in allowed, f"a {actor['role']} stored {kind}"
    return users


def test_identity_the_simulators_events_name_directory_users_and_the_watchdog_its_account(tmp_path):
    system = make_system(tmp_path / "data")
    try:
        dog = Watchdog(system)
        with served(system) as url:
            stats = run(system, url, ("QZV",), max_commands=400)
            assert stats.accepted > 100 and not stats.refused, stats.as_dict()
            dog.sweep()  # at 30,000x the teams still on scene are long overdue
            assert system.follower.wait_for(system.app.recorder.max_notification_id() or 0, timeout=30)
        events = stored_actors(system)
        assert len(events) > 100
        users = assert_real_actors(system, events)
        actors = {a["user"] for _, a in events}
        assert not any(a.startswith("sim-") or a in ("system", "watchdog") for a in actors)
        roles = {users[a].role for a in actors}
        assert {Role.PROVINCIAL_SUPERVISOR, Role.CALL_TAKER, Role.DISPATCHER, Role.TEAM} <= roles
        # One account per desk: each team's own account, bound to it, acts for that team only.
        team_users = [users[a] for a in actors if users[a].role == Role.TEAM]
        assert len(team_users) == len({u.team for u in team_users}) >= 10
        assert all(u.username == f"sim-QZV-team-{u.team}" for u in team_users)
        # They signed in: sessions opened by the system, in the access log as sign-ins.
        signed = {e.user for e in system.access_log.entries(action="sign_in", limit=5000)}
        assert actors - {dog.account.id} <= signed
        # A missed check-in is recorded by the watchdog's own account, or by the dispatcher who
        # noticed first (the simulator's dispatcher does, after five minutes without word).
        missed = [a for k, a in events if k == "SafetyCheckInMissed"]
        for a in missed:
            if a["role"] == "watchdog":
                assert a["user"] == dog.account.id, a
            else:
                assert a["role"] == "dispatcher" and users[a["user"]].role == Role.DISPATCHER, a
    finally:
        system.close()


def test_identity_the_watchdog_is_a_service_account_allowed_only_what_it_does(make_system):
    system = make_system()
    dog, again = Watchdog(system), Watchdog(system)
    assert dog.account.id == again.account.id and dog.account.id.startswith("U-")
    account = system.directory.find(ACCOUNT)
    assert account.role == Role.WATCHDOG and Role.WATCHDOG in SERVICE_ROLES
    assert POLICY[Role.WATCHDOG].commands == {"record_missed_check_in"}
    for command in COMMANDS:
        claims = Claims(sub=account.id, role=Role.WATCHDOG, province="QZV", exp=0)
        if command == "record_missed_check_in":
            authorize(claims, command, "QZV", team_id="T")
        else:
            with pytest.raises(Forbidden):
                authorize(claims, command, "QZV", team_id="T", centre_id="T")
    # It never signs in: no password, no link, no token; nobody creates another one.
    user, why = system.directory.check_credentials(ACCOUNT, "any password at all", None)
    assert why == "wrong password"
    with pytest.raises(InvalidCommand):
        system.directory.make_link(account.id)
    with pytest.raises(ValueError):
        system.signer.issue("watchdog", "IR")
    with pytest.raises(InvalidCommand):
        system.directory.add("another-dog", "a long enough passphrase", "watchdog", "IR")
    # "system", the shared identity of old histories, may give no command at all.
    with pytest.raises(Forbidden):
        authorize(Claims(sub="system", role=Role.SYSTEM, province="QZV", exp=0), "record_missed_check_in", "QZV")


def test_identity_the_demos_own_setup_names_its_demo_supervisor(make_system):
    """``eoc demo`` registers a demo team (for the team's workspace): by the demo supervisor's
    account, not a made-up identity."""
    from eoc.cli.demo import ensure_demo_users

    system = make_system()
    users = ensure_demo_users(system, "QZV", team=True)
    assert users["team"].team and "watchdog" not in users
    system.follower.wait_for(system.app.recorder.max_notification_id() or 0)
    events = stored_actors(system)
    assert {k for k, _ in events} == {"TeamRegistered", "ShiftStarted"}
    assert_real_actors(system, events)
    assert {a["user"] for _, a in events} == {users["provincial_supervisor"].id}
