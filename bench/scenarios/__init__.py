"""The scenarios of ``python -m bench``, in the order they run (one module per scenario kind;
each has an embedded and a cluster variant; replay's are its sources)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..suite import Context
from . import command_to_board, fanout, memory, replay, scaleout, sustained, telemetry


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    run: Callable[[Context], Awaitable[None]]
    cluster: bool
    budget_s: float  # the full run's bound; a scenario that overruns it is stopped and reported
    smoke_budget_s: float = 120.0


SCENARIOS = (
    Scenario("command-to-board-embedded", command_to_board.EMBEDDED, command_to_board.run_embedded, False, 120),
    Scenario("sustained-embedded", sustained.EMBEDDED, sustained.run_embedded, False, 360),
    Scenario("telemetry-embedded", telemetry.EMBEDDED, telemetry.run_embedded, False, 180),
    # 1,000,000 events: 249 s in session 11's run, over 300 s in session 12's (the machine's spread)
    Scenario("memory-embedded", memory.EMBEDDED, memory.run_embedded, False, 480),
    Scenario("command-to-board-cluster", command_to_board.CLUSTER, command_to_board.run_cluster, True, 200),
    Scenario("sustained-cluster", sustained.CLUSTER, sustained.run_cluster, True, 360),
    Scenario("telemetry-cluster", telemetry.CLUSTER, telemetry.run_cluster, True, 180),
    Scenario("memory-cluster", memory.CLUSTER, memory.run_cluster, True, 300),
    Scenario("fanout-embedded", fanout.TITLE, fanout.run, False, 480),
    Scenario("scaleout-cluster", scaleout.TITLE, scaleout.run, True, 900, smoke_budget_s=240),
    Scenario("replay-sqlite", replay.SQLITE, replay.run_sqlite, False, 240),
    Scenario("replay-kafka", replay.KAFKA, replay.run_kafka, True, 300),
    Scenario("replay-postgres", replay.POSTGRES, replay.run_postgres, True, 300),
)
