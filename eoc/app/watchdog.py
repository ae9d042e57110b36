"""The staff-safety watchdog: a team on the scene that has not checked in is raised as an alert.

Staff intervening in families are exposed to danger (DOMAIN.md). A team on scene must check
in every ``interval``; when it has not, the watchdog records ``SafetyCheckInMissed`` through
the same command as a dispatcher would (role ``system``), so the alert is an event like any
other: on every board, in every replay.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from eoc.app import commands as c
from eoc.app.auth import Claims
from eoc.domain.errors import Refused
from events.envelope import iso
from events.vocabulary import Role

CHECK_IN_INTERVAL = timedelta(minutes=20)
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

    def sweep(self) -> int:
        """Raise every overdue check-in once. Returns how many were raised."""
        now = self.system.service.clock()
        _, rows = self.system.follower.snapshot()
        raised = 0
        for team_id, province, due in overdue_teams(rows, now, self.interval):
            who = Claims(sub="watchdog", role=Role.SYSTEM, province=province, exp=2**40)
            try:
                self.system.service.record_missed_check_in(
                    team_id, c.RecordMissedCheckIn(due_at=datetime.fromisoformat(due)), who)
                raised += 1
            except Refused:
                pass  # the team moved on meanwhile: nothing to raise
        self.raised += raised
        return raised


