"""``eoc demo``: the embedded system with simulated provinces and the live dashboard.

Simulated time end to end: the simulator, the command service (``recorded_at``), the boards'
ages and timers, the watchdog and the bridge (hence the dashboard's clock) all read one
simulated clock, running ``--speed`` times faster than real time. The API refuses moments in
the future, so the simulation starts in the past: the day before yesterday at
``--start-hour`` (Iran time), two days that a run at 120x lives through in 24 real minutes
(at 600x in 5); once it has caught up with the real clock it runs live, at the real pace.
It never starts before the newest fact already stored: a second run goes on from there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from eoc.app.config import Settings
from eoc.app.metrics import configure_logging
from eoc.app.settings import EnvSettings
from eoc.main.bootstrap import build
from eoc.main.loop import run_serving
from eoc.main.runtime import Addresses, serve_embedded
from events.envelope import iso
from projections.clock import IRST


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the embedded system with a simulated province and the dashboard")
    p.add_argument("--provinces", default="QZV,ALB",
                   help="simulated provinces (codes), e.g. QZV,ALB,KSH, or 'all' for the 31")
    p.add_argument("--scenario", action="append", default=[], metavar="KIND[:PROVINCE[:COUNTY[:CATEGORY]]]",
                   help="drill (a province-wide manoeuvre), surge (a category rising in one county) or "
                        "outage (a province's line drops; its entries arrive late); repeatable")
    p.add_argument("--speed", type=float, default=120.0, help="simulated minutes per real minute")
    p.add_argument("--seed", type=int, default=1403)
    p.add_argument("--start-hour", type=int, default=9, choices=range(-1, 24), metavar="HOUR",
                   help="local hour (Iran time) of the day before yesterday the simulation starts at "
                        "(default 9: day shifts on); -1: the real time two days ago")
    p.add_argument("--port", type=int, help="API and dashboard port (default EOC_PORT or 8123)")
    p.add_argument("--bridge-port", type=int, help="websocket port (default API port + 1)")
    p.add_argument("--no-simulator", action="store_true", help="serve only; drive it yourself")
    p.set_defaults(run=run)


def ensure_demo_users(system: Any, province: str, *, team: bool = False) -> dict[str, Any]:
    """One demo account per role (``demo-<role>``), in the first simulated province or IR.
    Their passwords are random and never shown: the demo signs in by one-time links."""
    from eoc.app.users import new_password  # lazy: the CLI starts fast
    from eoc.domain.errors import NotFound  # lazy: the CLI starts fast
    from events.policy import POLICY  # lazy: the CLI starts fast
    from events.vocabulary import Role  # lazy: the CLI starts fast

    users: dict[str, Any] = {}
    # The supervisor first: the demo team is registered by the demo supervisor's account, so
    # that its events, like every other, name a user of the directory.
    order = sorted(POLICY.items(), key=lambda item: item[0] != Role.PROVINCIAL_SUPERVISOR)
    for role, rule in order:
        if rule.service:  # the watchdog's account is the system's own, made by the watchdog
            continue
        name = f"demo-{role}".replace("_", "-")
        try:
            users[str(role)] = system.directory.find(name)
        except NotFound:
            # with the simulator on, the team's account gets a team of its own (no event otherwise)
            boss = users.get(str(Role.PROVINCIAL_SUPERVISOR))
            binding = ({"team": demo_team(system, province, boss.id if boss else None)}
                       if team and rule.binding == "team" else {})
            users[str(role)] = system.directory.add(name, new_password(), role, "IR" if rule.national else province,
                                                    **binding)[0]
    return {str(r): users[str(r)] for r in POLICY if str(r) in users}  # in the policy's order


def demo_team(system: Any, province: str, by: str | None = None) -> str | None:
    """The demo team's account acts for a team of its own (the simulator does not drive it),
    on the morning shift with two members, so its workspace (work.html) has something to do."""
    import uuid  # lazy: the CLI starts fast

    from eoc.app import commands as c  # lazy: the CLI starts fast
    from eoc.app.auth import Claims  # lazy: the CLI starts fast
    from eoc.domain.errors import Refused  # lazy: the CLI starts fast
    from events.catalogue import Point  # lazy: the CLI starts fast
    from events.places import PROVINCES  # lazy: the CLI starts fast
    from events.vocabulary import Role, ShiftKind  # lazy: the CLI starts fast

    place = PROVINCES.get(province)
    if place is None:
        return None
    team_id = uuid.uuid5(uuid.NAMESPACE_URL, f"eoc-demo-team/{province}")
    if by is None:
        return None
    boss = Claims(sub=by, role=Role.PROVINCIAL_SUPERVISOR, province=province, exp=0)
    try:
        system.service.register_team(c.RegisterTeam(
            team_id=team_id, province=province, county=place.capital, name="گروه نمایشی · Demo team",
            home=Point(lat=place.lat, lon=place.lon)), boss)
        system.service.start_shift(team_id, c.StartShift(shift=ShiftKind.MORNING, members=["demo-1", "demo-2"],
                                                         skills=["social_worker", "woman_social_worker"]), boss)
    except Refused:
        pass  # registered by an earlier demo run
    except ValueError:  # the capital is not a county of the reference table: no demo team
        return None
    return str(team_id)


def sign_in_links(system: Any, demo_users: dict[str, Any], dashboard: str) -> dict[str, str]:
    """One one-time sign-in link per role (each lands in the role's own workspace, work.html)."""
    return {role: f"{dashboard}signin.html#link={system.directory.make_link(user.id)}"
            for role, user in demo_users.items()}


def run(args: argparse.Namespace) -> int:
    from eoc.simulator import SimClock, expand  # lazy: the CLI starts fast
    from eoc.simulator.scenarios import Scenario  # lazy: the CLI starts fast

    settings = Settings.from_env(**({"port": args.port} if args.port else {}))
    # Logs as every process of the system writes them (EOC_LOG_FORMAT, EOC_LOG_LEVEL): one JSON
    # object a line on stderr by default; the banner and the sign-in links are on stdout.
    env = EnvSettings.read()
    configure_logging(env.log_level, env.log_format)
    provinces = expand([p.strip() for p in args.provinces.split(",") if p.strip()])
    try:
        scenarios = tuple(Scenario.parse(s) for s in args.scenario)
    except ValueError as exc:
        raise SystemExit(f"eoc demo: {exc}") from exc
    simulated = not args.no_simulator and bool(provinces)
    clock = SimClock(args.speed, day_start(args.start_hour)) if simulated else None
    system = build(settings, clock=clock)
    if clock is not None:
        clock.restart(max(clock.start, newest_fact(system)))
    demo_users = ensure_demo_users(system, provinces[0] if provinces else "QZV", team=simulated)

    def ready(addr: Addresses) -> None:
        from eoc.app.users import LINK_S  # lazy: the CLI starts fast

        print("Social emergency EOC — embedded demo (اورژانس اجتماعی)")
        print(f"  dashboard  {addr.dashboard}")
        print(f"  sign in    one link per role, each works once within {LINK_S // 60} minutes"
              f" (more: eoc users link demo-<role>):")
        for role, link in sign_in_links(system, demo_users, addr.dashboard).items():
            print(f"    {role:22} {link}")
        print(f"  API docs   {addr.api}")
        print(f"  websocket  {addr.bridge}")
        print(f"  store      {settings.store} in {settings.data_dir}")
        if clock is not None:
            named = ", ".join(provinces) if len(provinces) <= 6 else f"all {len(provinces)} provinces"
            print(f"  simulating {named} at {args.speed:g}x — Ctrl-C stops")
            print(f"  simulated clock from {iso(clock.start)} (شبیه‌سازی){'; scenarios: ' if scenarios else ''}"
                  + ", ".join(f"{s.kind} {s.province or provinces[0]}" for s in scenarios))
        else:
            why = "--no-simulator" if args.no_simulator else "no province given"
            print(f"  simulator  off ({why}): the API, the boards and the dashboard run, fed only by the "
                  "commands you send — Ctrl-C stops")
        sys.stdout.flush()  # the banner shows at once, also through a pipe or a log file

    background = None
    bridge_options: dict[str, Any] = {}
    if clock is not None:
        from eoc.simulator import simulate  # lazy: the CLI starts fast

        sim_clock = clock
        bridge_options = {"now": lambda: iso(sim_clock.now()).replace("+00:00", "Z"),
                          "clock": lambda: {"simulated": True, "rate": sim_clock.rate}}

        async def background(base_url: str) -> None:
            await simulate(base_url, system.signin, provinces=provinces, speed=args.speed, seed=args.seed,
                           clock=sim_clock, scenarios=scenarios)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_embedded(system, host=settings.host, port=settings.port,
                             bridge_port=args.bridge_port or settings.port + 1,
                             background=background, on_ready=ready, stop=stop, bridge_options=bridge_options)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            run_serving(main())  # uvloop
    finally:
        system.close()
    return 0


DAYS_BACK = 2  # at 120x two days take 24 real minutes to catch up with the real clock


def day_start(start_hour: int, now: datetime | None = None) -> datetime:
    """The day before yesterday at ``start_hour`` (Iran time); -1: exactly two days ago."""
    now = now or datetime.now(UTC)
    if start_hour < 0:
        return now - timedelta(days=DAYS_BACK)
    local = (now.astimezone(IRST) - timedelta(days=DAYS_BACK)).replace(hour=start_hour, minute=0, second=0,
                                                                       microsecond=0)
    return local.astimezone(UTC)


def newest_fact(system: Any, last: int = 200) -> datetime:
    """The newest moment among the last events stored (their occurred_at and recorded_at)."""
    from eoc.domain import to_envelope  # lazy: the CLI starts fast

    top = system.app.recorder.max_notification_id() or 0
    if not top:
        return datetime.min.replace(tzinfo=UTC)
    notes = system.app.recorder.select_notifications(start=max(1, top - last), limit=last + 1)
    moments = [datetime.fromisoformat(t) for n in notes
               for e in (to_envelope(system.app.mapper.to_domain_event(n), position=n.id),)
               for t in (e.occurred_at, e.recorded_at) if t]
    return max(moments) + timedelta(seconds=1) if moments else datetime.min.replace(tzinfo=UTC)
