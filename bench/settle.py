"""Between two scenarios the machine settles before the next one's first window.

A scenario can leave work behind that the next one pays for: the memory scenario writes a
million events to SQLite, and the kernel writes those dirty pages out in the background while
the cluster's command-to-board rounds run (session 14's full run: the first cluster round's p99
107.7 ms, the next three 47.0 / 33.9 / 32.9). So, before each scenario but the first: what is
waiting to be written is written (``sync``), then the CPU is let go quiet (its busy share of all
cores over half a second under ``quiet``), for at most ``max_s``. What each settle found and how
long it took goes into the results (``details.settle``), so a figure can be read beside it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

QUIET = 0.25  # busy share of all the cores (half a core of two) under which the machine is quiet
SAMPLE_S = 0.5


def dirty_mb() -> float:
    """What the kernel still has to write to the disk (``Dirty`` + ``Writeback``), MB; 0 if unknown."""
    try:
        with open("/proc/meminfo") as f:
            kb = sum(int(line.split()[1]) for line in f if line.startswith(("Dirty:", "Writeback:")))
    except OSError:
        return 0.0
    return kb / 1024


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]), idle


def busy_share(seconds: float = SAMPLE_S) -> float:
    """The share of all the cores busy over ``seconds`` (1.0: every core busy); 0 if unknown."""
    try:
        total0, idle0 = _cpu_times()
        time.sleep(seconds)
        total1, idle1 = _cpu_times()
    except OSError:
        return 0.0
    total = total1 - total0
    return 0.0 if total <= 0 else 1 - (idle1 - idle0) / total


async def settle(max_s: float, *, quiet: float = QUIET, sync: Callable[[], None] = os.sync,
                 busy: Callable[[], float] = busy_share, dirty: Callable[[], float] = dirty_mb,
                 clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Write out what waits for the disk, then wait for a quiet CPU, at most ``max_s`` in all."""
    t0 = clock()
    before = dirty()
    await asyncio.to_thread(sync)
    samples = []
    while clock() - t0 < max_s:
        samples.append(round(await asyncio.to_thread(busy), 3))
        if samples[-1] < quiet:
            break
    return {"s": round(clock() - t0, 2), "dirty_mb_before": round(before, 1), "dirty_mb_after": round(dirty(), 1),
            "busy": samples, "quiet": bool(samples) and samples[-1] < quiet}
