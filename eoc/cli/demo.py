"""``eoc demo``: the embedded system with a simulated province and the live dashboard."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import Any

from ..bootstrap import build
from ..config import Settings
from ..runtime import Addresses, serve_embedded


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the embedded system with a simulated province and the dashboard")
    p.add_argument("--provinces", default="QZV,ALB", help="simulated provinces (codes), e.g. QZV,ALB,KSH")
    p.add_argument("--speed", type=float, default=120.0, help="simulated minutes per real minute")
    p.add_argument("--seed", type=int, default=1403)
    p.add_argument("--start-hour", type=int, default=9, choices=range(-1, 24), metavar="HOUR",
                   help="local hour (Iran time) the simulated day starts at (default 9: day shifts on); "
                        "-1 keeps the real hour")
    p.add_argument("--port", type=int, help="API and dashboard port (default EOC_PORT or 8123)")
    p.add_argument("--bridge-port", type=int, help="websocket port (default API port + 1)")
    p.add_argument("--no-simulator", action="store_true", help="serve only; drive it yourself")
    p.set_defaults(run=run)


def ensure_demo_users(system: Any, province: str) -> dict[str, Any]:
    """One demo account per role (``demo-<role>``), in the first simulated province or IR.
    Their passwords are random and never shown: the demo signs in by one-time links."""
    from events.policy import POLICY

    from ..errors import NotFound
    from ..users import new_password

    users = {}
    for role, rule in POLICY.items():
        name = f"demo-{role}".replace("_", "-")
        try:
            users[str(role)] = system.directory.find(name)
        except NotFound:
            users[str(role)] = system.directory.add(name, new_password(), role, "IR" if rule.national else province)[0]
    return users


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(**({"port": args.port} if args.port else {}))
    system = build(settings)
    provinces = tuple(p.strip() for p in args.provinces.split(",") if p.strip())
    simulating = bool(provinces) and not args.no_simulator
    demo_users = ensure_demo_users(system, provinces[0] if provinces else "QZV")

    def ready(addr: Addresses) -> None:
        from ..users import LINK_S

        print("Social emergency EOC — embedded demo (اورژانس اجتماعی)")
        print(f"  dashboard  {addr.dashboard}")
        print(f"  sign in    one link per role, each works once within {LINK_S // 60} minutes"
              f" (more: eoc users link demo-<role>):")
        for role, user in demo_users.items():
            code = system.directory.make_link(user.id)
            print(f"    {role:22} {addr.dashboard}signin.html#link={code}")
        print(f"  API docs   {addr.api}")
        print(f"  websocket  {addr.bridge}")
        print(f"  store      {settings.store} in {settings.data_dir}")
        if simulating:
            print(f"  simulating {', '.join(provinces)} at {args.speed:g}x — Ctrl-C stops")
        else:
            why = "--no-simulator" if args.no_simulator else "no province given"
            print(f"  simulator  off ({why}): the API, the boards and the dashboard run, fed only by the "
                  "commands you send — Ctrl-C stops")
        sys.stdout.flush()  # the banner shows at once, also through a pipe or a log file

    background = None
    if simulating:
        from ..simulator import simulate

        start = None
        if args.start_hour >= 0:  # a lively board whatever the time of day the demo starts
            from datetime import datetime

            from projections.clock import IRST

            start = datetime.now(IRST).replace(hour=args.start_hour, minute=0, second=0, microsecond=0)

        async def background(base_url: str) -> None:
            await simulate(base_url, system.signer, provinces=provinces, speed=args.speed, seed=args.seed,
                           start=start)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_embedded(system, host=settings.host, port=settings.port,
                             bridge_port=args.bridge_port or settings.port + 1,
                             background=background, on_ready=ready, stop=stop)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
    finally:
        system.close()
    return 0
