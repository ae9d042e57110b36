"""What a command costs the embedded process, in CPU-µs, and how much of it is HTTP.

``python -m bench.route_cost`` starts ``eoc demo --no-simulator`` (bench.systems.embedded),
sets up teams and centres in a few provinces, then drives the stored mix (bench.mix, no position
reports) closed-loop with the light load generator (bench.loadgen.flat_out) for a few windows,
and reports per window the server's CPU time divided by the commands answered. With
``--profile`` (py-spy on PATH or in the venv) one more window is sampled and summarized by
activity (bench.profile), so "HTTP: server and framework on the loop" reads as a share.

The machine is shared: compare two builds in the same minute, several windows each, and read
the median.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from . import profile
from .loadgen import Pool, flat_out
from .mix import Mix
from .procs import cpu_seconds_of
from .systems import embedded

PROVINCES = ("THR", "QZV", "ESF", "FRS")


async def _measure(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="route-cost-"))
    async with embedded(workdir) as system:
        pid = system.procs["embedded"].pid
        pool = await Pool("127.0.0.1", system.api_port, args.connections).open()
        mix = Mix(system.signer, provinces=PROVINCES, teams_per_province=8)
        await mix.setup(pool)

        async def send(_due: float) -> int:
            cmd = mix.next()
            key = f"route-{uuid.uuid4().hex}" if cmd.keyed and not args.unkeyed else None
            status, answer, _ = await pool.post_timed(cmd.path, cmd.body, mix.token(cmd), key=key)
            mix.answered(cmd, status, answer)
            return status

        await flat_out(send, args.connections, args.warmup)  # caches, aggregates, JIT-less warm paths
        windows = []
        for _ in range(args.windows):
            cpu0 = cpu_seconds_of(pid)
            run = await flat_out(send, args.connections, args.seconds)
            cpu = cpu_seconds_of(pid) - cpu0
            windows.append({"answered": run.answered, "refused": run.refused, "failed": run.failed,
                            "per_s": round(run.achieved_per_s), "cpu_us_per_command":
                            round(cpu / max(1, run.answered) * 1e6)})
        result: dict[str, Any] = {
            "windows": windows,
            "cpu_us_per_command_median": statistics.median(w["cpu_us_per_command"] for w in windows),
            "per_s_median": statistics.median(w["per_s"] for w in windows)}
        if args.profile:
            if shutil.which("py-spy") is None:
                result["profile"] = "py-spy is not installed"
            else:
                sampler = profile.Sampler({"embedded": pid}, args.seconds, workdir, "route")
                await flat_out(send, args.connections, args.seconds + 1)
                summary = sampler.summary(top=args.top)["embedded"]
                result["profile"] = summary
        pool.close()
        return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--unkeyed", action="store_true",
                        help="no Idempotency-Key (the workspaces send one with every action, as the mix does by default)")
    parser.add_argument("--profile", action="store_true", help="sample one more window with py-spy")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    venv_bin = str(Path(sys.executable).parent)  # py-spy installed into the venv is found too
    import os
    os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    t0 = time.time()
    result = asyncio.run(_measure(args))
    result["wall_s"] = round(time.time() - t0, 1)
    json.dump(result, sys.stdout, indent=1, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
