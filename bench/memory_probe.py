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
from typing import Any

from .procs import self_rss_mb


async def probe(events: int, step: int, data: Path, trace: bool = False) -> None:
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
        first: Any = None
        while done < events + step:
            await asyncio.to_thread(history.run, step)
            done += step
            head = system.app.recorder.max_notification_id() or 0
            await asyncio.to_thread(system.follower.wait_for, head, 600)  # TimeoutError if it does not catch up
            while bridge.hub.seq < system.follower.sequence:  # the bridge's mirror, too
                await asyncio.sleep(0.01)
            emit(history, system, bridge, t0)
            if trace:
                first = grown_since(first)
    finally:
        await bridge.stop()
        system.close()


def grown_since(first: Any, top: int = 25) -> Any:
    """``--trace``: a tracemalloc snapshot; from the second one on, print the allocation sites
    that grew most since the first (where the memory per 100k events goes) as one JSON line."""
    import tracemalloc

    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    if first is None:
        return snapshot
    grown = snapshot.compare_to(first, "traceback")[:top]
    print(json.dumps({"grown_since_first_snapshot": [
        {"kb": round(s.size_diff / 1024, 1), "count": s.count_diff,
         "where": [f"{f.filename.rsplit('site-packages/', 1)[-1]}:{f.lineno}" for f in s.traceback[:6]]}
        for s in grown]}), flush=True)
    return first


def emit(history: object, system: object, bridge: object, t0: float) -> None:
    print(json.dumps({
        "events": history.total(), "stored": history.events, "reports": history.reports,  # type: ignore[attr-defined]
        "rss_mb": self_rss_mb(), "board_rows": len(system.follower.board.rows),  # type: ignore[attr-defined]
        "bridge_rows": len(bridge.hub.rows), "cached_aggregates": _cached(system),  # type: ignore[attr-defined]
        "rows_by_kind": rows_by_kind(system.follower.board.rows),  # type: ignore[attr-defined]
        "seconds": time.perf_counter() - t0}), flush=True)


def rows_by_kind(rows: dict[str, Any]) -> dict[str, list[int]]:
    """The board's rows by kind (the key up to its first "/"): [how many, their JSON bytes], to
    see which kind grows with events."""
    import orjson

    kinds: dict[str, list[int]] = {}
    for key, row in list(rows.items()):
        kind = kinds.setdefault(key.split("/", 1)[0], [0, 0])
        kind[0] += 1
        kind[1] += len(orjson.dumps(row, default=str))
    return dict(sorted(kinds.items()))


def _cached(system: object) -> int | None:
    cache = system.app.repository.cache  # type: ignore[attr-defined]
    cached = getattr(cache, "cache", None)
    return len(cached) if cached is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_probe", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--step", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--trace", action="store_true",
                        help="tracemalloc: after each step, the allocation sites grown most since the first step")
    args = parser.parse_args()
    if args.trace:
        import tracemalloc

        tracemalloc.start(6)
    args.data.mkdir(parents=True, exist_ok=True)
    os.environ.pop("PERSISTENCE_MODULE", None)  # the settings alone choose the store
    asyncio.run(probe(args.events, args.step, args.data, args.trace))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
