"""Period figures: the key figures of days that left the live board, kept for reports.

The live key-figures board holds the last ``KEEP_DAYS`` days per province, counted from the
newest day the system has *recorded* something in (a fact's ``recorded_at`` is never in the
future, whereas a back-dated or mis-dated ``occurred_at`` may be anywhere). Older days are not
deleted: their rows move here, without their hour-by-hour detail, and a late entry for such a
day (ثبت با تأخیر) is counted here, on its own day. So every day a report can ask for is on
the board exactly once — live or here — whatever order the events arrived in.

Keys: ``period-figures/<province>/<local day>`` (the row without hour detail) and
``figures-days/<province>`` (the index of live days, so no runner has to scan its table).
Drill events use the same keys under ``drill/``. Dashboards are not sent these rows
(projections/visibility.py); reports and auditors read them.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from projections.board import Board

KEEP_DAYS = 40  # live days per province
ARCHIVE = "period-figures/"
INDEX = "figures-days/"
HOUR_DETAIL = ("calls_by_hour", "calls_by_hour_category")


def live_key(ns: str, province: str, day: str) -> str:
    return f"{ns}figures/{province}/{day}"


def archive_key(ns: str, province: str, day: str) -> str:
    return f"{ns}{ARCHIVE}{province}/{day}"


@lru_cache(maxsize=1024)  # asked on every counted event, of a few days
def oldest_live_day(newest_recorded: str) -> str:
    return (date.fromisoformat(newest_recorded) - timedelta(days=KEEP_DAYS - 1)).isoformat()


def day_key(board: Board, ns: str, province: str, day: str, recorded_day: str) -> str:
    """Where the figures of ``day`` are kept now; first moves out the days that the newest
    recorded day pushes out of the live window."""
    index_key = f"{ns}{INDEX}{province}"
    index = board.get(index_key) or {"province": province, "newest_recorded": None, "days": []}
    newest, days = index["newest_recorded"], index["days"]  # copied before it changes
    changed = False
    if newest is None or recorded_day > newest:
        newest, changed, days = recorded_day, True, list(days)
        oldest = oldest_live_day(newest)
        for old in [d for d in days if d < oldest]:
            _move(board, ns, province, old)
            days.remove(old)
    if day < oldest_live_day(newest):
        key = archive_key(ns, province, day)
    else:
        key = live_key(ns, province, day)
        if day not in days:
            days = sorted([*days, day])
            changed = True
    if changed:
        board.put(index_key, {"province": province, "newest_recorded": newest, "days": days})
    return key


def _move(board: Board, ns: str, province: str, day: str) -> None:
    row = board.get(live_key(ns, province, day))
    if row is None:
        return
    board.delete(live_key(ns, province, day))
    key = archive_key(ns, province, day)
    old = board.get(key)
    board.put(key, compact(row if old is None else merge(old, row)))


def compact(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in HOUR_DETAIL}


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two rows of the same province and day added together (counters, categories, latencies)."""
    out = dict(a)
    for k, v in b.items():
        if k in ("province", "day") or k in HOUR_DETAIL:
            continue
        if isinstance(v, int) and not isinstance(v, bool):
            out[k] = out.get(k, 0) + v
        elif k == "calls_by_category":
            cats = dict(out.get(k, {}))
            for cat, n in v.items():
                cats[cat] = cats.get(cat, 0) + n
            out[k] = cats
        elif isinstance(v, dict) and "buckets" in v:
            o = out.get(k) or {"n": 0, "sum_s": 0.0, "max_s": 0.0, "buckets": [0] * len(v["buckets"])}
            out[k] = {"n": o["n"] + v["n"], "sum_s": round(o["sum_s"] + v["sum_s"], 3),
                      "max_s": max(o["max_s"], v["max_s"]),
                      "buckets": [x + y for x, y in zip(o["buckets"], v["buckets"], strict=True)]}
    return out


def day_rows(rows: Any, ns: str = "") -> dict[str, dict[str, Any]]:
    """Every day's figures on the board, live or archived: ``"<province>/<day>" -> row``."""
    out = {}
    for prefix in (f"{ns}figures/", f"{ns}{ARCHIVE}"):
        for key, row in rows.items():
            if key.startswith(prefix) and isinstance(row, dict):
                out[f"{row['province']}/{row['day']}"] = row
    return out
