"""The embedded process under a long history, for the memory scenario (run as a subprocess).

    python -m bench.memory_probe --events 1000000 --step 100000 --data /tmp/x

Builds the embedded system as ``eoc demo`` does (SQLite store with its aggregate cache, the
group-commit writer, the follower with its checkpoint, the websocket bridge's hub with its
mirror of the rows), feeds it a bounded world's history (``tests.support.history.bounded``)
and, after every ``step`` events, once the follower and the bridge have caught up, prints one JSON line: events
so far, resident memory, board rows. The command API itself holds no state that grows with
events, so it is not started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from .procs import self_rss_mb


async def probe(events: int, step: int, data: Path) -> None:
    from eoc.app.config import Settings
    from eoc.main.bootstrap import build
    from tests.support.history import bounded
    from ui_bridge.server import start_embedded_bridge

    from .systems import SECRET

    system = build(Settings.from_env({}, data_dir=data, token_secret=SECRET))
    bridge = await start_embedded_bridge(system, host="127.0.0.1", port=0)
    try:
        history = await asyncio.to_thread(bounded, system.app, system.follower.apply_telemetry)
        t0 = time.perf_counter()
        emit(history, system, bridge, t0)
        done = 0
        while done < events + step:
            await asyncio.to_thread(history.run, step)
            done += step
            head = system.app.recorder.max_notification_id() or 0
            await asyncio.to_thread(system.follower.wait_for, head, 600)  # TimeoutError if it does not catch up
            while bridge.hub.seq < system.follower.sequence:  # the bridge's mirror, too
                await asyncio.sleep(0.01)
            emit(history, system, bridge, t0)
    finally:
        await bridge.stop()
        system.close()


def emit(history: object, system: object, bridge: object, t0: float) -> None:
    print(json.dumps({
        "events": history.total(), "stored": history.events, "reports": history.reports,  # type: ignore[attr-defined]
        "rss_mb": self_rss_mb(), "board_rows": len(system.follower.board.rows),  # type: ignore[attr-defined]
        "bridge_rows": len(bridge.hub.rows), "cached_aggregates": _cached(system),  # type: ignore[attr-defined]
        "seconds": time.perf_counter() - t0}), flush=True)


def _cached(system: object) -> int | None:
    cache = system.app.repository.cache  # type: ignore[attr-defined]
    cached = getattr(cache, "cache", None)
    return len(cached) if cached is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_probe", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--step", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    os.environ.pop("PERSISTENCE_MODULE", None)  # the settings alone choose the store
    asyncio.run(probe(args.events, args.step, args.data))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
