"""Fan-out: a thousand dashboards on the websocket bridge, each receiving every position report,
against a bare ``websockets`` broadcast of the same delta frames (``bench.fanout``).

The comparison of ``python -m bench.fanout`` in the suite: the embedded system's follower and
bridge in this process, the light clients in another, 500 position reports a second, each one a
delta every dashboard receives. Both sides run in turn, several rounds, alternated (bridge,
baseline, then baseline, bridge, ...), in the same run; each figure is the median over the
rounds. Latency runs from the moment a report is handed to the system to the moment a sampled
dashboard reads the frame that brings it, so it includes the wait for the bridge's throttle (a
gap of 4 to 50 ms after each frame, by what frames cost); the bare broadcast sends on the same
throttle (``ui_bridge.throttle``).
"""

from __future__ import annotations

from typing import Any

from .. import fanout
from ..suite import Context

TITLE = "Fan-out to dashboards"
TARGET_P99_MS = 100.0
TARGET_RATIO = 1.2
BASE = "bare websockets broadcast, same frames"


async def run(ctx: Context) -> None:
    sizes = ctx.sizes
    load = fanout.Load(clients=sizes.fanout_dashboards, seconds=sizes.fanout_s, rate=sizes.fanout_rate,
                       teams=max(100, 4 * int(sizes.fanout_rate)), sample=min(50, sizes.fanout_dashboards))
    runs = await fanout.compare(load, sizes.fanout_rounds)
    side = fanout.medians(runs)
    ctx.detail("fanout", {"settings": {**vars(load), "tick_s": fanout.TICK_S, "rounds": sizes.fanout_rounds},
                          **side, "runs": runs})
    report(ctx, load, side["bridge"], side["baseline"])


def report(ctx: Context, load: fanout.Load, bridge: dict[str, Any], bare: dict[str, Any]) -> None:
    at = f"{load.clients:,} dashboards x {load.rate:,.0f} deltas/s"
    rounds = f"median of {ctx.sizes.fanout_rounds} rounds"
    ctx.add(TITLE, f"p50, {at}", bridge["p50_ms"], "ms", bare["p50_ms"], f"{BASE}, p50", note=rounds)
    p99, base99 = bridge["p99_ms"], bare["p99_ms"]
    met = p99 is not None and base99 is not None and p99 <= TARGET_P99_MS and p99 <= TARGET_RATIO * base99
    ctx.add(TITLE, f"p99, {at}", p99, "ms", base99, f"{BASE}, p99",
            target=f"<= {TARGET_P99_MS:g} ms, ratio <= {TARGET_RATIO:g}", met=met, note=rounds)
    ctx.add(TITLE, "every delta received (share of the reports sent)", bridge["completeness"], "%",
            bare["completeness"], f"{BASE}, the same", note=f"gaps seen: {bridge['gaps']:.0f}")
    ctx.add(TITLE, "server CPU (serving the dashboards)", bridge["server_cpu_share"], "cores",
            bare["server_cpu_share"], f"{BASE}, its process")
