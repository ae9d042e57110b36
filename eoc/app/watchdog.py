"""The staff-safety watchdog: a team on the scene that has not checked in is raised as an alert.

Staff intervening in families are exposed to danger (DOMAIN.md). A team on scene must check
in every ``interval``; when it has not, the watchdog records ``SafetyCheckInMissed`` through
the same command as a dispatcher would, under its own registered service account (role
``watchdog`` in events/policy.py, allowed that command only; its pseudonymous id in the user
directory), so the alert is an event like any other: on every board, in every replay, naming
a real actor.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from eoc.app import commands as c
from eoc.app.auth import Claims
from eoc.domain.errors import Refused
from events.envelope import iso
from events.vocabulary import NATIONAL, Role

CHECK_IN_INTERVAL = timedelta(minutes=20)
ACCOUNT = "service-watchdog"  # the watchdog's username in the user directory (its id is U-...)
WATCHED_STATUSES = ("on_scene",)


def overdue_teams(rows: dict[str, Any], now: datetime, interval: timedelta = CHECK_IN_INTERVAL) -> list[tuple[str, str, str]]:
    """(team id, province, due at) of teams on scene whose check-in is overdue and not yet raised."""
    out = []
    for key, row in rows.items():
        if not key.startswith("team/") or row["status"] not in WATCHED_STATUSES or row["check_in_missed"]:
            continue
        last = max(row["since"], row.get("last_check_in") or "")
        due = datetime.fromisoformat(last) + interval
        if due <= now:
            out.append((row["id"], row["province"], iso(due)))
    return out


class Watchdog:
    def __init__(self, system: Any, interval: timedelta = CHECK_IN_INTERVAL) -> None:
        self.system = system
        self.interval = interval
        self.raised = 0
        directory = getattr(system, "directory", None)
        if directory is None:
            raise RuntimeError("the watchdog acts under its own account: the system needs its user directory")
        self.account = directory.ensure(ACCOUNT, Role.WATCHDOG, NATIONAL, service=True)

    def sweep(self) -> int:
        """Raise every overdue check-in once. Returns how many were raised."""
        now = self.system.service.clock()
        _, rows = self.system.follower.snapshot()
        raised = 0
        for team_id, province, due in overdue_teams(rows, now, self.interval):
            # Its account is national; it acts in the province of the team concerned.
            who = Claims(sub=self.account.id, role=Role.WATCHDOG, province=province, exp=2**40)
            try:
                self.system.service.record_missed_check_in(
                    team_id, c.RecordMissedCheckIn(due_at=datetime.fromisoformat(due)), who)
                raised += 1
            except Refused:
                pass  # the team moved on meanwhile: nothing to raise
        self.raised += raised
        return raised


