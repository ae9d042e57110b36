"""``eoc board``: the live boards in the terminal, read from the API every second.

It reads ``GET /api/v1/boards/summary`` with a token (``--token``, or one issued here for
``--role``/``--province`` with the token secret of the data directory, as ``eoc token``
does) and draws the team board, the incident queue, occupancy, today's key figures and the
alerts. What the token may not see (another province, where a safe house is) is not there:
the API filters it before it leaves the server. ``--once`` prints one frame and exits.
"""

from __future__ import annotations

import argparse
import sys
import time
import unicodedata
from datetime import date, datetime
from typing import Any

import httpx
from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from eoc.app.auth import NATIONAL_ROLES, TokenSigner
from eoc.app.config import Settings
from eoc.app.settings import EnvSettings
from events.jalali import MONTHS_EN, format_long, to_jalali
from events.places import PROVINCES
from events.policy import PEOPLE_ROLES
from events.vocabulary import BOARD_TERMS, NATIONAL, PERSIAN, RESIDENTIAL_KINDS, Role

DEFAULT_URL = "http://127.0.0.1:8123"
TWO_COLUMNS = 240  # from this terminal width on, the boards stand side by side
PIPED_WIDTH = 160  # drawn into a file or a pipe: wide enough for every column

STATUS_STYLE = {"available": "green", "dispatched": "yellow", "en_route": "bold yellow", "on_scene": "bold red",
                "transporting": "cyan", "at_centre": "blue", "off_duty": "dim"}
# Engaged teams first: what the dispatcher watches.
STATUS_ORDER = {s: i for i, s in enumerate(
    ("on_scene", "en_route", "dispatched", "transporting", "at_centre", "available", "in_drill", "off_duty"))}
PRIORITY_STYLE = {"urgent": "bold white on red", "high": "bold red", "normal": "yellow", "low": "dim"}
# The same Persian words as the dashboard (events/vocabulary.py BOARD_TERMS).
ALERT_TITLES = {
    "check_in_missed": "Missed safety check-in · " + BOARD_TERMS["alert_check_in_missed"],
    "centre_full": "Centre full · " + BOARD_TERMS["alert_centre_full"],
    "centre_nearly_full": "Centre nearly full · " + BOARD_TERMS["alert_centre_nearly_full"],
    "urgent_unassigned": "Urgent case without a team · " + BOARD_TERMS["alert_urgent_unassigned"],
    "dead_letter": "Event not folded · " + BOARD_TERMS["alert_dead_letter"],
    "emerging_harm": "Emerging social harm · " + BOARD_TERMS["alert_emerging_harm"],
    "transfer_overdue": "Holding over, transfer overdue · " + BOARD_TERMS["alert_transfer_overdue"],
}


class BoardError(Exception):
    """The boards could not be read: says why, with the exit code to use."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("board", help="show the live boards in the terminal (team board, incidents, occupancy)")
    p.add_argument("--url", help="the system's API (default http://EOC_HOST:EOC_PORT, i.e. "
                   f"{DEFAULT_URL})")
    p.add_argument("--token", help="a bearer token (default: issue one for --role and --province)")
    p.add_argument("--role", default=str(Role.NATIONAL_EOC), choices=[str(r) for r in PEOPLE_ROLES],
                   help="role of the token to issue (default national_eoc)")
    p.add_argument("--province", choices=sorted(PROVINCES) + [NATIONAL],
                   help="province of the token to issue (default IR for national roles)")
    p.add_argument("--drill", action="store_true", help="show the drill (مانور) boards instead of the real ones")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between reads (default 1)")
    p.add_argument("--rows", type=int, default=18, help="rows shown per table (default 18)")
    p.add_argument("--width", type=int, help="columns to draw in (default: the terminal's)")
    p.add_argument("--once", action="store_true", help="print one frame and exit")
    p.set_defaults(run=run)


def default_url(e: EnvSettings | None = None) -> str:
    """The API of this environment's settings (EOC_HOST, EOC_PORT; https with EOC_TLS_CERT)."""
    e = e or EnvSettings.read()
    host = "127.0.0.1" if e.host in ("0.0.0.0", "::", "") else e.host
    return f"{'https' if e.tls_cert else 'http'}://{host}:{e.port}"


def run(args: argparse.Namespace) -> int:
    if not args.url:
        args.url = default_url()
    try:
        token = args.token or _issue(args.role, args.province)
    except ValueError as exc:
        print(f"eoc board: {exc}", file=sys.stderr)
        return 2
    console = Console(width=args.width) if args.width else Console()
    if not args.width and not console.is_terminal:
        console = Console(width=PIPED_WIDTH)
    with httpx.Client(base_url=args.url.rstrip("/"), timeout=5.0,
                      headers={"Authorization": f"Bearer {token}"}) as http:
        if args.once:
            try:
                console.print(render(fetch(http, args.drill), args.url, args.rows, console.width))
            except BoardError as exc:
                print(f"eoc board: {exc}", file=sys.stderr)
                return exc.code
            return 0
        return _live(http, args, console)


def _issue(role: str, province: str | None) -> str:
    if province is None:
        if Role(role) not in NATIONAL_ROLES:
            raise ValueError(f"a {role} token is for one province: give --province")
        province = NATIONAL
    return TokenSigner(Settings.from_env().token_secret).issue(role, province, sub="terminal-board")


def fetch(http: httpx.Client, drill: bool = False) -> dict[str, Any]:
    try:
        r = http.get("/api/v1/boards/summary", params={"drill": "true"} if drill else None)
    except httpx.HTTPError as exc:
        raise BoardError(f"cannot reach {http.base_url} ({type(exc).__name__}: {exc})", 1) from None
    if r.status_code in (401, 403):
        raise BoardError(f"the token was refused ({r.status_code}): {_reason(r)}", 2)
    if r.status_code != 200:
        raise BoardError(f"the API answered {r.status_code}: {_reason(r)}", 1)
    return r.json()


def _reason(r: httpx.Response) -> str:
    try:
        return str(r.json().get("reason", r.text[:200]))
    except ValueError:
        return r.text[:200]


def _live(http: httpx.Client, args: argparse.Namespace, console: Console) -> int:
    waiting = Panel(Text(f"reading {args.url} …"), title="eoc board")
    try:
        with Live(waiting, console=console, screen=True, auto_refresh=False) as live:
            while True:
                try:
                    frame: RenderableType = render(fetch(http, args.drill), args.url, args.rows, console.width)
                except BoardError as exc:
                    if exc.code == 2:
                        live.stop()
                        print(f"eoc board: {exc}", file=sys.stderr)
                        return 2
                    frame = Panel(Text(str(exc), style="bold red"), title="eoc board — retrying every second")
                live.update(frame, refresh=True)
                time.sleep(max(0.1, args.interval))
    except KeyboardInterrupt:
        return 0


# ---------------------------------------------------------------------- drawing


def render(summary: dict[str, Any], url: str = DEFAULT_URL, rows: int = 18, width: int = 120) -> RenderableType:
    """One frame of the boards (a pure function of the summary, for tests and for ``--once``)."""
    teams = {t["id"]: t for t in summary["teams"]}
    centres = {c["id"]: c for c in summary["centres"]}
    now = datetime.fromisoformat(summary["now"])
    panels = {
        "teams": _panel(_teams(summary["teams"], rows), "Teams · " + BOARD_TERMS["teams"], len(summary["teams"])),
        "incidents": _panel(_incidents(summary["incidents"], teams, rows), "Incident queue · " + BOARD_TERMS["incidents"],
                            len(summary["incidents"])),
        "occupancy": _panel(_occupancy(summary["centres"], rows), "Occupancy · " + BOARD_TERMS["occupancy"],
                            sum(1 for c in summary["centres"] if c["kind"] in RESIDENTIAL_KINDS)),
        "figures": _panel(_figures(summary["figures"]),
                          f"Today's figures · {BOARD_TERMS['figures']} ({_day(summary['figures']['day'])})", None),
        "alerts": _panel(_alerts(summary["alerts"], teams, centres, rows, now), "Alerts · " + BOARD_TERMS["alerts"],
                         len(summary["alerts"]), style="red" if summary["alerts"] else "green"),
    }
    header = _header(summary, url)
    if width >= TWO_COLUMNS:
        grid = Table.grid(expand=True, padding=(0, 1))
        grid.add_column(ratio=1)
        grid.add_column(ratio=1)
        grid.add_row(Group(panels["teams"], panels["alerts"]),
                     Group(panels["incidents"], panels["occupancy"], panels["figures"]))
        return Group(header, grid)
    return Group(header, *panels.values())


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _visible(text: str) -> str:
    """Control and bidi characters as visible escapes: an ESC in a stored name never reaches
    the operator's terminal as an ANSI sequence, a bidi override never reorders a row."""
    return "".join(f"\\u{ord(ch):04x}" if ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs", "Co")
                   else ch for ch in text)


def _plain(value: object) -> Text:
    """Stored text shown literally: rich markup such as ``[link=...]`` is not interpreted."""
    return Text(_visible(str(value)))


def _row(table: Table, *cells: RenderableType | str) -> None:
    table.add_row(*(_plain(c) if isinstance(c, str) else c for c in cells))


def _panel(body: RenderableType, title: str, count: int | None, style: str = "blue") -> Panel:
    suffix = f" [{count}]" if count is not None else ""
    return Panel(body, title=f"{title}{suffix}", title_align="left", border_style=style, padding=(0, 1))


def _header(summary: dict[str, Any], url: str) -> Text:
    now = datetime.fromisoformat(summary["now"])
    text = Text()
    text.append("Social emergency EOC · اورژانس اجتماعی", style="bold")
    if summary.get("drill"):
        text.append("  DRILL · " + BOARD_TERMS["drill"], style="bold black on yellow")
    text.append(f"   {format_long(now)}   {url}\n", style="dim")
    for status in STATUS_ORDER:
        n = summary["team_status"].get(status)
        if n:
            text.append(f"{_word(status)} {n}   ", style=STATUS_STYLE.get(status, ""))
    return text


def _day(day: str) -> str:
    """A local day as operators read it (Jalali), with the Gregorian date the figures are keyed by."""
    jy, jm, jd = to_jalali(date.fromisoformat(day))
    return f"{jd} {MONTHS_EN[jm - 1]} {jy} · {day}"


def _word(value: str | None) -> str:
    if not value:
        return "—"
    fa = PERSIAN.get(value)
    return f"{value.replace('_', ' ')} · {fa}" if fa else value.replace("_", " ")


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _more(table: Table, shown: int, total: int, empty: str = "") -> None:
    if total > shown:
        table.caption = f"… and {total - shown} more"
    elif not total and empty:
        table.caption = empty


def _table(*columns: tuple[str, int]) -> Table:
    """A compact table; each column keeps at least its minimum width when space is short."""
    table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False, show_edge=False)
    for name, min_width in columns:
        table.add_column(name, overflow="ellipsis", no_wrap=True, min_width=min_width)
    return table


def _teams(teams: list[dict[str, Any]], limit: int) -> Table:
    table = _table(("Team", 10), ("Where", 8), ("Status", 12), ("For", 6), ("Shift", 8), ("Incident", 8),
                   ("Check-in", 5))
    ordered = sorted(teams, key=lambda t: (STATUS_ORDER.get(t["status"], 9), -(t["in_status_s"] or 0)))
    for t in ordered[:limit]:
        if t.get("check_in_missed"):
            check = Text("MISSED · " + BOARD_TERMS["alert_check_in_missed"], style="bold white on red")
        elif t.get("last_check_in"):
            check = Text("ok", style="green")
        else:
            check = Text("—", style="dim")
        shift = f"{_word(t['shift'])} ({t['crew']})" if t.get("shift") else "—"
        _row(table, t["name"], f"{t['province']}/{t['county']}", Text(_word(t["status"]),
                      style=STATUS_STYLE.get(t["status"], "")), _ago(t["in_status_s"]), shift,
                      (t.get("incident_id") or "—")[:8], check)
    _more(table, min(limit, len(teams)), len(teams), "no teams on this board")
    return table


def _incidents(incidents: list[dict[str, Any]], teams: dict[str, dict[str, Any]], limit: int) -> Table:
    table = _table(("Priority", 8), ("Category", 12), ("Where", 8), ("Route", 8), ("Age", 6), ("Teams", 10),
                   ("Risk", 4))
    for i in incidents[:limit]:
        if i["unassigned"]:
            assigned = Text("UNASSIGNED · " + BOARD_TERMS["unassigned"], style="bold white on red")
        else:
            assigned = _plain(", ".join(teams.get(t, {}).get("name", t[:8]) for t in i["teams"]))
        _row(table, Text(_word(i["priority"]), style=PRIORITY_STYLE.get(i["priority"], "")),
                      _word(i["category"]), f"{i['province']}/{i['county']}", i["route"].replace("_", " "),
                      _ago(i["age_s"]), assigned, ", ".join(f.replace("_", " ") for f in i.get("risk_flags", [])))
    _more(table, min(limit, len(incidents)), len(incidents), "no open incidents")
    return table


def _bar(occupied: int, capacity: int, width: int = 12) -> Text:
    share = occupied / capacity if capacity else 0.0
    filled = min(width, round(share * width))
    style = "red" if share >= 0.9 else "yellow" if share >= 0.7 else "green"
    bar = Text("█" * filled, style=style)
    bar.append("░" * (width - filled), style="dim")
    bar.append(f" {occupied}/{capacity}")
    return bar


def _occupancy(centres: list[dict[str, Any]], limit: int) -> Table:
    table = _table(("Centre", 12), ("Kind", 6), ("Occupied", 17), ("Free", 4), ("Holding · days left", 8),
                   ("Due", 3), ("Declined", 3))
    staying = [c for c in centres if c["kind"] in RESIDENTIAL_KINDS]
    for c in staying[:limit]:
        holding = sorted(h["days_left"] for h in c.get("holding", []))
        held = f"{len(holding)} ({', '.join(f'{d:g}' for d in holding[:3])}{'…' if len(holding) > 3 else ''})" \
            if holding else "—"
        name = c["name"] + ("" if c.get("open", True) else " (closed)")
        _row(table, name, PERSIAN.get(c["kind"], c["kind"]), _bar(c["occupied"], c["capacity"]),
                      str(c.get("free", c["capacity"] - c["occupied"])), held,
                      Text(str(c.get("transfers_due", 0)), style="bold yellow" if c.get("transfers_due") else ""),
                      Text(str(c["declined"]), style="red" if c["declined"] else ""))
    _more(table, min(limit, len(staying)), len(staying), "no residential places on this board")
    return table


def _seconds(value: float | None) -> str:
    return _ago(value) if value is not None else "—"


def _figures(figures: dict[str, Any]) -> Table:
    table = _table(("Prov.", 4), ("Calls", 5), ("Interv.", 8), ("Incidents open/closed", 7), ("Disp.", 5),
                   ("Adm.", 4), ("Decl.", 4), ("Transf.", 4), ("Call→dispatch mean/p90", 11),
                   ("Dispatch→scene mean/p90", 11))
    provinces = sorted(figures["provinces"].items())
    rows = provinces + ([("IR", figures["nation"])] if len(provinces) > 1 else [])
    for code, f in rows:
        share = f.get("intervention_share")
        _row(table, 
            Text(code, style="bold" if code == "IR" else ""), str(f["calls"]),
            f"{f['interventions']} ({share:.0%})" if share is not None else str(f["interventions"]),
            f"{f['incidents_opened']}/{f['incidents_closed']}", str(f["dispatches"]), str(f["admissions"]),
            Text(str(f["declined"]), style="red" if f["declined"] else ""), str(f["transfers"]),
            f"{_seconds(f.get('call_to_dispatch_mean_s'))}/{_seconds(f.get('call_to_dispatch_p90_s'))}",
            f"{_seconds(f.get('dispatch_to_scene_mean_s'))}/{_seconds(f.get('dispatch_to_scene_p90_s'))}",
        )
    if not rows:
        table.caption = "no figures yet today"
    return table


def _alerts(alerts: list[dict[str, Any]], teams: dict[str, dict[str, Any]],
            centres: dict[str, dict[str, Any]], limit: int, now: datetime) -> Table:
    table = _table(("Alert", 16), ("Where", 8), ("Since", 6), ("About", 10))
    for a in alerts[:limit]:
        if a["kind"] == "check_in_missed":
            about = f"team {teams.get(a['team_id'], {}).get('name', a['team_id'][:8])}"
        elif a["kind"] == "centre_full":
            about = f"{centres.get(a['centre_id'], {}).get('name', 'centre')} {a['occupied']}/{a['capacity']}"
        elif a["kind"] == "dead_letter":
            about = f"{a.get('type')} at log position {a.get('position')}"
        elif a["kind"] == "urgent_unassigned":
            about = f"incident {a['incident_id'][:8]}, waiting {_ago(a.get('age_s'))}"
        elif a["kind"] == "transfer_overdue":
            about = f"{centres.get(a['centre_id'], {}).get('name', 'centre')}, {a['days_overdue']} days over"
        else:
            about = ""
        since = a.get("since")
        age = _ago((now - datetime.fromisoformat(since)).total_seconds()) if since else "—"
        kind = a["kind"]
        if kind == "centre_full" and a.get("occupied", 0) < a.get("capacity", 0):
            kind = "centre_nearly_full"  # the alert fires at 90%: say which
        _row(table, Text(ALERT_TITLES.get(kind, kind), style="bold red"),
                      f"{a['province']}/{a.get('county') or '—'}", age, about)
    _more(table, min(limit, len(alerts)), len(alerts), "no alerts")
    return table
