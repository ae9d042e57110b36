"""Can the demo run the whole nation at full volume at its speed? (``eoc demo --provinces all``)

Runs the simulator of all 31 provinces at their full volume (the reports' figures, the rest by
population: about 3,000 calls a day) against an in-process embedded system on sqlite, as
``eoc demo`` does, for ``--seconds`` real seconds at ``--speed``, and reports the pace the
simulated clock actually kept: the clock slows down by itself when the system answers slowly
(SimClock.observe), so an overloaded machine shows as a lower effective speed, not as late facts.

    .venv/bin/python -m bench.demo_pace --speed 120 --seconds 120
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from eoc.app.config import Settings
from eoc.http.api import create_api
from eoc.main.bootstrap import build
from eoc.simulator import SimClock, simulate
from eoc.simulator.nation import calls_per_day
from events.places import PROVINCES


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speed", type=float, default=120.0)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--volume", type=float, default=1.0, help="scale of every province's volume")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clock = SimClock(args.speed, datetime.now(UTC) - timedelta(days=2))
        system = build(Settings.from_env({}, store="sqlite", data_dir=Path(tmp), token_secret=b"bench-secret-bench-secret",
                                         rate_limit_scale=0.0), clock=clock, checkpoint=False)

        async def go():
            stop = asyncio.Event()
            transport = httpx.ASGITransport(app=create_api(system))
            volume = {c: args.volume for c in PROVINCES}
            task = asyncio.create_task(simulate("http://demo", system.signin, provinces=("all",), speed=args.speed,
                                                seed=1403, clock=clock, stop=stop, transport=transport, volume=volume))
            t0 = time.monotonic()
            rates = []
            while time.monotonic() - t0 < args.seconds and not task.done():
                await asyncio.sleep(5)
                rates.append(round(clock.rate, 1))
            stop.set()
            stats = await task
            return time.monotonic() - t0, stats, rates

        real, stats, rates = asyncio.run(go())
        simulated = clock.elapsed()
        out = {"speed_wanted": args.speed, "volume": args.volume, "real_s": round(real, 1),
               "simulated_h": round(simulated / 3600, 2), "effective_speed": round(simulated / real, 1),
               "rate_every_5s": rates, "calls_per_day_nation": round(sum(calls_per_day(c) for c in PROVINCES) * args.volume),
               "commands": stats.commands, "calls": stats.as_dict().get("calls"),
               "positions_skipped": stats.positions_skipped, "server_errors": stats.server_errors}
        system.close()
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
