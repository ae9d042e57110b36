"""``python -m bench`` (or ``eoc bench``): the benchmark suite — every scenario, each with its
baseline from the same run — printed as one table and written as JSON.

    python -m bench                  # the full suite, about 15 minutes on two cores
    python -m bench --smoke          # every scenario at a tiny size, seconds each (CI)
    python -m bench --only embedded  # or cluster, or scenario names separated by commas

It starts what each scenario needs: the embedded system (``eoc demo``) and the floor server in
subprocesses; for the cluster, PostgreSQL and Kafka with ``scripts/services`` and the cluster's
processes (``eoc api``, ``eoc relay``, ``eoc worker``, ``eoc bridge``) with a database and topics
of their own. Each scenario is bounded in time. Targets are goals: a missed one is marked in
the table, it does not fail the run; a scenario that could not run does (exit status 1).
Results: bench/results/latest.json (smoke: bench/results/smoke.json), BENCHMARKS.md explains
every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the suite is imported when it runs: ``eoc`` builds its parser from here
    from .report import Results
    from .scenarios import Scenario

RESULTS = Path(__file__).resolve().parent / "results"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--smoke", action="store_true", help="every scenario at a tiny size (seconds each)")
    p.add_argument("--only", help="embedded, cluster, or scenario names separated by commas: "
                   "command-to-board-embedded, sustained-embedded, telemetry-embedded, memory-embedded, "
                   "fanout-embedded, command-to-board-cluster, sustained-cluster, telemetry-cluster, memory-cluster, "
                   "scaleout-cluster, replay-sqlite, replay-kafka, replay-postgres")
    p.add_argument("--out", type=Path, help="JSON results (default bench/results/latest.json; smoke: smoke.json)")
    p.add_argument("--markdown", action="store_true", help="also print the table as Markdown (for BENCHMARKS.md)")
    p.add_argument("--keep", action="store_true", help="keep the working directory (logs of every process)")
    p.add_argument("--memory-events", type=int, metavar="N",
                   help="events for both memory scenarios (default 1,000,000 embedded, 200,000 cluster); "
                        "their time bounds grow with it")
    p.add_argument("--profile", action="store_true",
                   help="sample the system's processes with py-spy (pip install py-spy) in the windows that "
                        "decide a target; the profiles go into the JSON")


def chosen(only: str | None) -> list[Scenario]:
    from .scenarios import SCENARIOS

    if not only:
        return list(SCENARIOS)
    names = {n.strip() for n in only.split(",") if n.strip()}
    picked = [s for s in SCENARIOS
              if s.name in names or ("cluster" in names and s.cluster) or ("embedded" in names and not s.cluster)]
    unknown = names - {s.name for s in SCENARIOS} - {"cluster", "embedded"}
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return picked


SETTLE_S = 30.0  # at most, between two scenarios of a full run (bench/settle.py)
SETTLE_SMOKE_S = 1.0


async def run_suite(args: argparse.Namespace, command: str) -> Results:
    from .report import Results
    from .suite import Context

    results = Results(command=command, smoke=args.smoke)
    workdir = Path(tempfile.mkdtemp(prefix="eoc-bench-"))
    if args.profile:
        from .profile import available

        if not available():
            raise SystemExit("--profile needs py-spy: pip install py-spy")
    ctx = Context(smoke=args.smoke, workdir=workdir, results=results, profile=args.profile)
    scale = {}
    if args.memory_events:
        from dataclasses import replace

        defaults = ctx.sizes
        ctx.sizes = replace(defaults, memory_events=args.memory_events, cluster_memory_events=args.memory_events)
        scale = {"memory-embedded": args.memory_events / defaults.memory_events,
                 "memory-cluster": args.memory_events / defaults.cluster_memory_events}
    t_suite = time.perf_counter()
    try:
        for n, scenario in enumerate(chosen(args.only)):
            if n:  # what the last one left (dirty pages, busy CPU) is not the next one's first window
                from .settle import settle

                settled = await settle(SETTLE_SMOKE_S if args.smoke else SETTLE_S)
                results.details.setdefault("settle", {})[scenario.name] = settled
                note(f"  settled in {settled['s']:.1f} s (to write: {settled['dirty_mb_before']:.0f} MB; "
                     f"CPU busy {settled['busy'][-1:] or '?'}{'' if settled['quiet'] else ', never quiet'})")
            budget = scenario.smoke_budget_s if args.smoke else scenario.budget_s
            budget *= max(1.0, scale.get(scenario.name, 1.0))
            note(f"— {scenario.title} ({scenario.name}), at most {budget:.0f} s")
            t0 = time.perf_counter()
            before = len(results.figures)
            try:
                await asyncio.wait_for(scenario.run(ctx), budget)
            except TimeoutError:
                results.errors[scenario.name] = f"stopped after its {budget:.0f} s bound"
            except Exception as exc:  # one scenario's failure is reported; the others still run
                results.errors[scenario.name] = f"{type(exc).__name__}: {exc}"
                note(traceback.format_exc())
            took = time.perf_counter() - t0
            results.details.setdefault("seconds", {})[scenario.name] = round(took, 1)
            # Other work on a shared machine shows in the figures: say how busy it was.
            results.details.setdefault("load_average_1m_after", {})[scenario.name] = os.getloadavg()[0]
            if scenario.name in results.errors:
                note(f"  FAILED after {took:.0f} s: {results.errors[scenario.name]}")
            else:
                note(f"  {len(results.figures) - before} figures in {took:.0f} s")
    finally:
        await ctx.close()
        results.details.setdefault("seconds", {})["suite"] = round(time.perf_counter() - t_suite, 1)
        if args.keep:
            note(f"working directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None, prog: str = "python -m bench") -> int:
    args = parser().parse_args(argv)
    return run(args, prog)


def run(args: argparse.Namespace, prog: str) -> int:
    from .report import markdown, table

    argv = sys.argv[1:] if prog == "python -m bench" else sys.argv[2:]
    command = " ".join([prog, *argv])
    results = asyncio.run(run_suite(args, command))
    out = args.out or RESULTS / ("smoke.json" if args.smoke else "latest.json")
    results.write(out)
    print(table(results.figures))
    for name, error in results.errors.items():
        print(f"[{name}] did not run to the end: {error}")
    if args.markdown:
        print()
        print(markdown(results.figures))
    print(f"\nwritten to {out}")
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
