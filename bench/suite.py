"""What every scenario gets: the sizes (full or smoke), a working directory, the services, the
floor server, and the results to add figures to."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import services, systems
from .report import Figure, Results


@dataclass(frozen=True)
class Sizes:
    """How long and how big each scenario runs. ``FULL`` fits the whole suite in about 15 minutes
    on two cores; ``SMOKE`` runs every scenario for seconds (CI)."""

    latency_rate: float  # commands a second for command to board
    latency_s: float  # the system's command-to-board time in all, split into ``rounds`` windows
    warmup_s: float
    probe_s: float  # flat out, to find what the system answers (where the held-rate search starts)
    hold_s: float  # each step of the held-rate search: a steady rate that must be held with a flat lag
    search_s: float  # the held-rate search in all (steps, each ``hold_s`` plus its settling)
    floor_s: float  # the HTTP floor flat out in all, split over the rounds
    insert_s: float  # the raw insert rate in all, split over the rounds
    telemetry_teams: int
    telemetry_s: float
    memory_events: int
    memory_step: int
    cluster_memory_events: int
    kafka_records: int
    connections: int = 32
    rounds: int = 4  # each baseline in windows alternating with the system's, this many rounds
    held_s: float = 20.0  # at the held rate: the system's time in all (and the floor's), over the rounds
    search_start: float = 0.5  # the search starts at this share of the flat-out probe ...
    search_step: float = 1.25  # ... and multiplies the rate by this after each rate held
    # Fan-out (bench/scenarios/fanout.py): dashboards on the bridge, position reports a second,
    # the measured window of each run, runs of each side (alternated).
    fanout_dashboards: int = 1000
    fanout_rate: float = 500
    fanout_s: float = 10
    fanout_rounds: int = 3
    # Scale-out (bench/scenarios/scaleout.py): the steady rates tried, stepping up, each for
    # scaleout_hold_s, on one API + one worker and on two of each.
    scaleout_rates: tuple[float, ...] = (250, 500, 750, 1000, 1500, 2000, 3000)
    scaleout_hold_s: float = 20
    # The cluster with no command (after command to board): each process's CPU over this long.
    idle_s: float = 10


FULL = Sizes(latency_rate=100, latency_s=20, warmup_s=3, probe_s=8, hold_s=20, search_s=180, floor_s=8,
             insert_s=4, telemetry_teams=1000, telemetry_s=15, memory_events=1_000_000, memory_step=100_000,
             cluster_memory_events=200_000, kafka_records=3000)
SMOKE = Sizes(latency_rate=100, latency_s=2, warmup_s=0.5, probe_s=1.5, hold_s=1.5, search_s=8, floor_s=1,
              insert_s=0.5, telemetry_teams=50, telemetry_s=2, memory_events=10_000, memory_step=1_000,
              cluster_memory_events=5_000, kafka_records=100, connections=16, rounds=2, held_s=2,
              search_step=1.5)
SMOKE = replace(SMOKE, fanout_dashboards=20, fanout_rate=50, fanout_s=1.5, fanout_rounds=1)
SMOKE = replace(SMOKE, scaleout_rates=(50,), scaleout_hold_s=3, idle_s=1)


class Context:
    def __init__(self, *, smoke: bool, workdir: Path, results: Results, profile: bool = False) -> None:
        self.smoke = smoke
        self.profile = profile  # py-spy on the system's processes in the windows that decide a target
        self.sizes = SMOKE if smoke else FULL
        self.workdir = workdir
        self.results = results
        self._services: dict[str, str] | None = None
        self._stack = contextlib.AsyncExitStack()
        self._floor: systems.System | None = None

    # ------------------------------------------------------------------ what scenarios use

    def services(self) -> dict[str, str]:
        """PostgreSQL and Kafka, started by scripts/services (once per run)."""
        if self._services is None:
            self._services = services.start("all")
        return self._services

    async def floor(self) -> systems.System:
        """The floor server, started once and shared by the baselines of every scenario."""
        if self._floor is None or not all(p.alive for p in self._floor.procs.values()):
            self._floor = await self._stack.enter_async_context(systems.floor(self.workdir))
        return self._floor

    @property
    def profile_dir(self) -> Path | None:
        return self.workdir if self.profile else None

    def embedded(self, label: str) -> contextlib.AbstractAsyncContextManager[systems.System]:
        return systems.embedded(self.workdir, label)

    @contextlib.asynccontextmanager
    async def cluster(self, **env: str) -> AsyncIterator[systems.System]:
        async with systems.cluster(self.workdir, self.services(), **env) as system:
            yield system

    def add(self, scenario: str, name: str, value: float | None, unit: str, baseline: float | None,
            baseline_name: str, *, target: str = "", met: bool | None = None, note: str = "",
            value_from: dict[str, str] | None = None, baseline_from: dict[str, str] | None = None) -> Figure:
        """``value_from``, ``baseline_from``: where the numbers come from (``report.source``)."""
        figure = Figure(scenario, name, value, unit, baseline, baseline_name, target, met, note, value_from,
                        baseline_from)
        self.results.figures.append(figure)
        return figure

    def detail(self, key: str, value: Any) -> None:
        self.results.details[key] = value

    async def close(self) -> None:
        await self._stack.aclose()
