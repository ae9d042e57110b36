"""What a simulator run did: commands sent, accepted and refused, and the life they made."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


class _Accepted:
    """How many of these commands were accepted: a figure of the run's life, read off ``by_command``."""

    def __init__(self, *commands: str) -> None:
        self.commands = commands

    def __get__(self, stats: SimStats, owner: type[SimStats] | None = None) -> int:
        return sum(stats.by_command[command] for command in self.commands)


@dataclass
class SimStats:
    """Counts of one run. ``by_command`` counts accepted commands by handler name (the
    names of ``eoc.app.auth.COMMAND_ROLES``); refusals are counted by their error code."""

    speed: float = 0.0
    real_seconds: float = 0.0
    simulated_seconds: float = 0.0
    commands: int = 0  # HTTP commands sent, position reports included
    accepted: int = 0  # answered 2xx
    by_command: Counter[str] = field(default_factory=Counter)
    # 409s are part of life: a full centre, a team that got busy. "command:error" → count.
    conflicts: Counter[str] = field(default_factory=Counter)
    # Other 4xx answers mean the simulator asked for something wrong: "command:error" → count.
    refused: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0  # 5xx
    connection_errors: int = 0
    task_errors: int = 0  # unexpected exceptions inside the simulator's own tasks
    registered: Counter[str] = field(default_factory=Counter)  # "QZV/team", "QZV/outpatient"...
    adopted: Counter[str] = field(default_factory=Counter)  # already registered by an earlier run
    restamped: int = 0  # commands refused as out of order on their record, sent again stamped anew
    late_entries: int = 0  # commands written down while the line was down, entered when it came back
    dropped_in_outage: int = 0  # position reports lost while the line was down
    # Clients already staying when a place opens (its starting occupancy), per province: not
    # part of a period's admissions.
    opening_clients: Counter[str] = field(default_factory=Counter)
    positions_skipped: int = 0  # position reports not sent because the system was busy
    # What the scenarios did: "drill:QZV" incidents, "surge:QZV/Takestan/suicide" calls...
    scenario: Counter[str] = field(default_factory=Counter)
    # When each outage's line was down (simulated moments, ISO): it begins at its hour or, on a
    # machine slow to set the province up, as soon as the province is ready.
    outages: dict[str, tuple[str, str]] = field(default_factory=dict)

    # -------------------------------------------------------------- the life, read off the commands

    calls = _Accepted("receive_call")
    escalations = _Accepted("escalate_call")
    incidents = _Accepted("escalate_call", "open_incident")
    dispatches = _Accepted("dispatch_team")
    admissions = _Accepted("admit_client")

    @property
    def declined(self) -> int:
        """Admissions refused for lack of room: recorded by the system as unmet demand."""
        return self.conflicts["admit_client:over_capacity"]

    @property
    def commands_per_second(self) -> float:
        return self.commands / self.real_seconds if self.real_seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "speed": self.speed, "real_seconds": round(self.real_seconds, 2),
            "simulated_hours": round(self.simulated_seconds / 3600, 2),
            "commands": self.commands, "accepted": self.accepted,
            "commands_per_second": round(self.commands_per_second, 2),
            "calls": self.calls, "escalations": self.escalations, "incidents": self.incidents,
            "dispatches": self.dispatches, "admissions": self.admissions, "declined": self.declined,
            "by_command": dict(sorted(self.by_command.items())), "conflicts": dict(self.conflicts),
            "refused": dict(self.refused), "server_errors": self.server_errors,
            "connection_errors": self.connection_errors, "task_errors": self.task_errors,
            "registered": dict(sorted(self.registered.items())), "adopted": dict(sorted(self.adopted.items())),
            "restamped": self.restamped, "late_entries": self.late_entries,
            "dropped_in_outage": self.dropped_in_outage, "positions_skipped": self.positions_skipped, "scenario": dict(sorted(self.scenario.items())),
            "outages": {p: list(w) for p, w in sorted(self.outages.items())},
        }
