"""Where a replay's time goes: cProfile over one replay of the seeded history from the store.

    python -m bench.profile_replay [--events 30000] > bench/results/replay-profile.txt

The replay scenario (bench/scenarios/replay.py) gives the rate against the raw read and decode;
this gives the functions behind it (the fold's share, the decode's, the mapper's), for the
section of BENCHMARKS.md that names what bounds the replay.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_replay")
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    from bench.scenarios.replay import history
    from consumers.replay import replay
    from eoc.audit.sources import StoreSource

    app = history(args.events)
    t0 = time.perf_counter()
    read = sum(1 for _ in StoreSource(app).envelopes())  # reading and decoding alone
    t1 = time.perf_counter()
    result = replay(StoreSource(app))
    plain = time.perf_counter() - t1
    profile = cProfile.Profile()
    profile.enable()
    replay(StoreSource(app))
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
    print(f"# replay of {args.events:,} events of the seeded history from the in-memory store "
          f"({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}); "
          f"unprofiled: {plain:.2f} s, {args.events / plain:,.0f} events/s; {result.events:,} folded; "
          f"reading and decoding alone: {(t1 - t0) / read * 1e6:.1f} µs an event, the whole replay "
          f"{plain / read * 1e6:.1f} µs")
    print(out.getvalue())


if __name__ == "__main__":
    main()
