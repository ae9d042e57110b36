"""Browser benchmark of the workspaces (not a test; nothing here asserts a time):

- call-taker's submit (Enter) -> the incident's row in the dispatcher's queue in another
  browser context;
- dispatcher's click on *dispatch* -> the team's screen shows "dispatched";
- each workspace's load to usable (live board drawn) with ``--teams`` teams and
  ``--incidents`` open incidents on the board.

Baseline, measured in the same run on the same system: the same two hops and the loads as a
bare websocket client sees them (the API's commands by HTTP, the board's frames without a
page), so what the pages add is the difference.

Goal (issue 15): p99 under 300 ms for the two hops, under 1 s to usable with 1,000 teams and
500 open incidents. Run: ``python -m bench.workspaces [--rounds 30] [--teams 1000 --incidents 500]``.
Results are printed and written to bench/results/workspaces.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
QZV = {"province": "QZV", "county": "Qazvin"}
# The baseline's rounds are spaced as the pages' are (a person's key press does not follow the last
# frame within a tick): back to back, each command's frame would wait for the bridge's tick (50 ms),
# a span the pages never see.
PACE_S = 0.2


# Where a page's load goes, in ms from the navigation's start: the HTML's answer, the scripts run
# (DOMContentLoaded), the user (/workspace/me), the words, the board's snapshot (parsed), the
# workspace mounted, and its first drawing painted (two animation frames later).
MARKS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const out = {html: Math.round(nav.responseEnd), scripts: Math.round(nav.domContentLoadedEventEnd)};
  for (const m of performance.getEntriesByType('mark')) if (m.name.startsWith('eoc:')) out[m.name.slice(4)] = Math.round(m.startTime);
  const snap = performance.getEntriesByType('resource').filter((r) => r.name.includes('/api/v1/'));
  out.api_ms = snap.map((r) => [r.name.split('/api/v1')[1].split('?')[0], Math.round(r.duration)]);
  return out;
}"""


PRESSED = """() => {
  for (const type of ['keydown', 'mousedown']) document.addEventListener(type, (e) => {
    if (type === 'keydown' ? e.key === 'Enter' : e.target.closest('[data-dispatch]')) window.__pressed = performance.timeOrigin + performance.now();
  }, true);
}"""
SEEN_ROWS = """() => {
  window.__seen = {};
  new MutationObserver((records) => {
    const t = performance.timeOrigin + performance.now();
    for (const r of records) for (const n of r.addedNodes) if (n.dataset && n.dataset.incident && !(n.dataset.incident in window.__seen)) window.__seen[n.dataset.incident] = t;
  }).observe(document.getElementById('dp-queue'), {childList: true});
}"""
SEEN_STATUS = """() => {
  window.__status = {};
  let prev = document.body.dataset.teamStatus;
  new MutationObserver(() => {
    const now = document.body.dataset.teamStatus;
    if (now !== prev) { prev = now; window.__status[now] = performance.timeOrigin + performance.now(); }
  })
    .observe(document.body, {attributes: true, attributeFilter: ['data-team-status']});
}"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _q(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


class Served:
    def __init__(self, data_dir: Path) -> None:
        from eoc.app.config import Settings
        from eoc.main.bootstrap import build
        from eoc.main.runtime import serve_embedded
        from ui_bridge.loop_thread import LoopThread

        # rate limits off: a benchmark sends far more than one person would
        self.system = build(Settings.from_env({}, store="sqlite", data_dir=data_dir, rate_limit_scale=0.0),
                            checkpoint=False)
        self.port, self.bridge_port = _port(), _port()
        self.loop = LoopThread("bench-workspaces")
        ready = threading.Event()

        async def event() -> asyncio.Event:
            return asyncio.Event()

        self.stop = self.loop.run(event())
        self.served = self.loop.spawn(lambda: serve_embedded(
            self.system, host="127.0.0.1", port=self.port, bridge_port=self.bridge_port,
            on_ready=lambda addr: ready.set(), stop=self.stop))
        if not ready.wait(30):
            raise RuntimeError("the embedded system did not start")
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.base, timeout=30)

    def post(self, path: str, body: dict[str, Any], role: str = "provincial_supervisor") -> dict[str, Any]:
        r = self.http.post("/api/v1" + path, json=body,
                           headers={"Authorization": "Bearer " + self.system.signer.issue(role, "QZV")})
        r.raise_for_status()
        return r.json()

    def url(self, role: str, province: str = "QZV", **binding: str) -> str:
        return f"{self.base}/work.html#token={self.system.signer.issue(role, province, sub='bench-' + role, **binding)}"

    def close(self) -> None:
        self.loop.call(self.stop.set)
        self.served.result(30)
        self.loop.close()
        self.system.close()


class RawBoard:
    """The board as a bare websocket client of the bridge sees it (no page): the baseline."""

    def __init__(self, s: Served, token: str) -> None:
        from websockets.sync.client import connect

        t0 = time.perf_counter()
        self.ws = connect(f"ws://127.0.0.1:{s.bridge_port}/", max_size=None, open_timeout=30)
        self.ws.send(json.dumps({"token": token}))
        while True:
            raw = self.ws.recv(timeout=60)
            frame = json.loads(raw)
            if frame.get("type") == "snapshot":
                break
        self.load_ms = (time.perf_counter() - t0) * 1000
        self.snapshot_bytes = len(raw)
        self.rows: dict[str, Any] = frame["rows"]
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                frame = json.loads(raw)
                if frame.get("type") == "delta":
                    with self.cond:
                        for k, v in frame["changes"].items():
                            if v is None:
                                self.rows.pop(k, None)
                            else:
                                self.rows[k] = v
                        self.cond.notify_all()
        except Exception:  # closed at the end
            pass

    def wait(self, pred: Any, timeout: float = 10.0) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: pred(self.rows), timeout):
                raise TimeoutError("the board did not change")
        return time.perf_counter()

    def close(self) -> None:
        self.ws.close()


def baseline(s: Served, team: str, rounds: int) -> dict[str, Any]:
    """The same hops without pages: API commands by HTTP, frames read by a bare client."""
    import uuid

    out: dict[str, Any] = {"load_ms": {}, "snapshot_bytes": {}}
    for role, province, kw in (("call_taker", "QZV", {}), ("dispatcher", "QZV", {}), ("team", "QZV", {"team": team}),
                               ("centre_staff", "QZV", {}), ("national_eoc", "IR", {})):
        b = RawBoard(s, s.system.signer.issue(role, province, sub="raw-" + role, **kw))
        out["load_ms"][role] = round(b.load_ms, 1)
        out["snapshot_bytes"][role] = b.snapshot_bytes
        b.close()
    dp = RawBoard(s, s.system.signer.issue("dispatcher", "QZV", sub="raw-dispatcher"))
    tm = RawBoard(s, s.system.signer.issue("team", "QZV", sub="raw-team", team=team))
    intake, dispatch = [], []
    try:
        for _ in range(rounds):
            time.sleep(PACE_S)
            call, incident = str(uuid.uuid4()), str(uuid.uuid4())
            t0 = time.perf_counter()
            # The page's intake: one request (received, classified, escalated in one transaction).
            s.post("/calls/intake", {**QZV, "call_id": call, "line": "123", "category": "other", "priority": "urgent",
                                     "risk_flags": [], "escalate": {"location": {"lat": 36.27, "lon": 50.0},
                                                                     "incident_id": incident}}, role="call_taker")
            intake.append((dp.wait(lambda rows: f"incident/{incident}" in rows) - t0) * 1000)
        for _ in range(min(rounds, 20)):
            inc = s.post("/incidents", {**QZV, "route": "police", "category": "other", "priority": "urgent",
                                        "location": {"lat": 36.27, "lon": 50.0}})["incident_id"]
            dp.wait(lambda rows: f"incident/{inc}" in rows)
            time.sleep(PACE_S)
            t0 = time.perf_counter()
            s.post(f"/teams/{team}/dispatch", {"incident_id": inc}, role="dispatcher")
            dispatch.append((tm.wait(lambda rows: (rows.get(f"team/{team}") or {}).get("status") == "dispatched") - t0)
                            * 1000)
            s.post(f"/teams/{team}/status", {"status": "available"})
            tm.wait(lambda rows: (rows.get(f"team/{team}") or {}).get("status") == "available")
    finally:
        dp.close()
        tm.close()
    out["intake_to_queue_ms"] = _stats(intake)
    out["dispatch_to_team_ms"] = _stats(dispatch)
    return out


def _stats(values: list[float]) -> dict[str, Any]:
    return {"p50": round(statistics.median(values), 1), "p99": round(_q(values, 0.99), 1), "n": len(values)}


def seed(s: Served, teams: int, incidents: int) -> str:
    import random

    rng = random.Random(7)
    first = None
    for i in range(teams):
        t = s.post("/teams", {**QZV, "name": f"B-{i}", "home": {"lat": 36.2 + rng.random() * 0.2,
                                                                "lon": 49.9 + rng.random() * 0.2}})["team_id"]
        s.post(f"/teams/{t}/shift/start", {"shift": "morning", "members": ["a", "b"]})
        first = first or t
    for _ in range(incidents):
        s.post("/incidents", {**QZV, "route": "police", "category": "family_dispute", "priority": "normal",
                              "location": {"lat": 36.2 + rng.random() * 0.2, "lon": 49.9 + rng.random() * 0.2}})
    return first or ""


def run(rounds: int, teams: int, incidents: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        s = Served(Path(tmp))
        try:
            team = seed(s, max(1, teams), incidents)
            settled = RawBoard(s, s.system.signer.issue("dispatcher", "QZV", sub="raw-settle"))  # the boards caught up
            settled.wait(lambda rows: sum(k.startswith("incident/") for k in rows) >= incidents
                         and sum(k.startswith("team/") for k in rows) >= teams, timeout=300)
            settled.close()
            out: dict[str, Any] = {"teams": teams, "incidents": incidents, "rounds": rounds}
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                pages = {}
                loads, marks = {}, {}
                for role, kw in (("call_taker", {}), ("dispatcher", {}), ("team", {"team": team}),
                                 ("centre_staff", {}), ("national_eoc", {"province": "IR"})):
                    ctx = b.new_context(viewport={"width": 1366, "height": 768})
                    page = ctx.new_page()
                    t0 = time.perf_counter()
                    page.goto(s.url(role, **kw))
                    page.wait_for_selector("body[data-conn='live']", timeout=30_000)
                    page.wait_for_function("() => document.querySelector('#w-main').children.length > 0")
                    page.evaluate("() => new Promise(requestAnimationFrame)")
                    loads[role] = round((time.perf_counter() - t0) * 1000, 1)
                    page.wait_for_function("() => performance.getEntriesByName('eoc:drawn').length > 0", timeout=30_000)
                    marks[role] = page.evaluate(MARKS)
                    pages[role] = page
                out["load_ms"] = loads
                out["load_marks_ms"] = marks
                ct, dp, tm = pages["call_taker"], pages["dispatcher"], pages["team"]
                intake, dispatch = [], []
                # The pages' own clocks too (performance.timeOrigin + now(): the same machine's clock in
                # every context), without the harness's round trips: the key's press or the click,
                # and the moment the row or the status is in the other page's document.
                ct.evaluate(PRESSED)
                dp.evaluate(PRESSED)
                dp.evaluate(SEEN_ROWS)
                tm.evaluate(SEEN_STATUS)
                intake_in_page, dispatch_in_page = [], []
                for i in range(rounds):
                    ct.fill("#ct-lat", "36.27")
                    ct.fill("#ct-lon", "50.0")
                    ct.select_option("#ct-action", "escalate")
                    t0 = time.perf_counter()
                    ct.focus("#ct-action")
                    ct.keyboard.press("Enter")
                    inc = ct.evaluate("() => document.body.dataset.lastIncident")
                    dp.wait_for_selector(f"#dp-incidents tr[data-incident='{inc}']", state="attached", timeout=10_000)
                    intake.append((time.perf_counter() - t0) * 1000)
                    intake_in_page.append(dp.evaluate(f"() => window.__seen['{inc}']")
                                          - ct.evaluate("() => window.__pressed"))
                # dispatch: the team available again between rounds (supervisor via the API, not timed)
                for i in range(min(rounds, 20)):
                    inc = s.post("/incidents", {**QZV, "route": "police", "category": "other", "priority": "urgent",
                                                "location": {"lat": 36.27, "lon": 50.0}})["incident_id"]
                    dp.click(f"#dp-incidents tr[data-incident='{inc}']")  # urgent: at the top of the queue
                    dp.wait_for_selector(f"[data-dispatch='{team}']", timeout=10_000)
                    t0 = time.perf_counter()
                    dp.click(f"[data-dispatch='{team}']")
                    tm.wait_for_function("() => document.body.dataset.teamStatus === 'dispatched'", polling="raf",
                                         timeout=10_000)
                    dispatch.append((time.perf_counter() - t0) * 1000)
                    dispatch_in_page.append(tm.evaluate("() => window.__status.dispatched")
                                            - dp.evaluate("() => window.__pressed"))
                    s.post(f"/teams/{team}/status", {"status": "available"})
                    tm.wait_for_function("() => document.body.dataset.teamStatus === 'available'", timeout=10_000)
                out["intake_to_queue_ms"] = _stats(intake)
                out["dispatch_to_team_ms"] = _stats(dispatch)
                out["in_page"] = {"intake_to_queue_ms": _stats(intake_in_page),
                                  "dispatch_to_team_ms": _stats(dispatch_in_page)}
                b.close()
            out["baseline"] = baseline(s, team, rounds)
            return out
        finally:
            s.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--teams", type=int, default=1000)
    ap.add_argument("--incidents", type=int, default=500)
    a = ap.parse_args()
    result = run(a.rounds, a.teams, a.incidents)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    out = Path(__file__).resolve().parent / "results" / "workspaces.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
