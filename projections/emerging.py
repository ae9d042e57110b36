"""Emerging social harms (آسیب‌های اجتماعی نوپدید): a category rising beyond what its own
history and season predict, per county and per province.

Counted: calls classified in a category (on the local day the call came in) and incidents
opened without a call (police, judiciary, other organizations: referrals are harms too).
Drills (مانور) are ignored entirely — they neither count nor move the clock.

A day is judged when it closes: the first event of a later local day (by ``occurred_at``) in
the province closes every day before it. Each province's events reach every runner in log
order, so the embedded follower, the Faust worker and a replay close the same days with the
same counts and write equal rows. On the day that closes, every series of the province is
tested over windows of 1, 2 and 7 days against the model of ``harm_model`` (fitted to the
complete weeks before the current one; weeks run Saturday to Friday, the Iranian week); an
alert is raised when a window's p-value is below ``ALPHA`` and it holds at least
``MIN_CASES`` cases, and cleared on the first day no window is.

Day of the week. The model is fitted to weekly counts, which no weekday pattern moves; a
window of 1 or 2 days is then expected to hold the week's mean times its days' shares of the
week. The shares are the weekday profile of the category in the whole province (the ``*``
series: a county's own days are too few to estimate seven shares), counted over the closed
days. As Farrington keeps a trend only when it is significant, the profile is used only when
its seven counts differ from an even week beyond chance (a chi-square test, divided by the
series' overdispersion, at ``DOW_SIGNIFICANCE``): a series with no weekday pattern is judged
exactly as before, with no estimation noise added. A profile in use is shrunk towards an even
week by ``DOW_PRIOR`` cases a day. Old days fade: a profile of more than ``DOW_KEEP`` cases is
halved.

Rows: ``harm/<province>`` (the open day and the series of the province),
``harm/<province>/<category>/<county>`` (a series: recent daily counts, complete weekly counts,
its model and last verdict; county ``*`` is the whole province) and
``alert/emerging_harm/<province>/<category>/<county>``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

from events.envelope import Envelope
from projections.board import Board
from projections.clock import local_day_hour
from projections.harm_model import WeeklyModel, fit_weekly, special_functions, threshold, upper_tail

ALPHA = 1e-4  # per window and day; three windows, twelve categories: under one false alarm a county-year
MIN_CASES = 3  # fewer cases in a window never raise an alert (nor identify anyone)
WINDOWS = (1, 2, 7)
KEEP_DAYS = 28  # daily counts kept per series (the chart's recent days)
KEEP_WEEKS = 104  # weekly counts kept per series: two years, enough for a season
MAX_GAP_DAYS = KEEP_WEEKS * 7  # a longer silence restarts the clock
WHOLE_PROVINCE = "*"
FRIDAY = 4  # date.weekday(): the Iranian week ends on Friday
DOW_PRIOR = 20.0  # cases a weekday is assumed to have had before any is seen (an even week)
DOW_SIGNIFICANCE = 1e-3  # a weekday profile is used only when this unlikely under an even week
DOW_KEEP = 20_000  # a profile with more cases than this is halved: older weeks fade


def state_key(province: str) -> str:
    return f"harm/{province}"


def series_key(province: str, category: str, county: str) -> str:
    return f"harm/{province}/{category}/{county}"


def alert_key(province: str, category: str, county: str) -> str:
    return f"alert/emerging_harm/{province}/{category}/{county}"


def chart_link(province: str, category: str, county: str) -> str:
    return f"/reports.html#harm={province}/{category}/{county}"


def _day(moment: str) -> str:
    return local_day_hour(moment)[0]


def _counted(e: Envelope) -> tuple[str, str] | None:
    """(category, local day) if this event is a case of a harm category."""
    if e.type == "CallClassified":
        return e.payload["category"], _day(e.payload["received_at"])
    if e.type == "IncidentOpened" and not e.payload.get("call_id"):
        return e.payload["category"], _day(e.occurred_at)
    return None


def apply_emerging(board: Board, e: Envelope) -> None:
    """Fold one stored, real (not drill) event: close the days it leaves behind, count its case."""
    if e.exercise or e.position is None:
        return
    today = _day(e.occurred_at)
    skey = state_key(e.province)
    state = board.get(skey)
    if state is None:
        state = {"province": e.province, "day": today, "first_day": today, "series": []}
        board.put(skey, state)
    elif today > state["day"]:
        state = close_days(board, state, today)
    case = _counted(e)
    if case is None:
        return
    category, _ = case  # a case of an earlier, closed day counts on the open day
    for county in (e.county, WHOLE_PROVINCE):
        key = series_key(e.province, category, county)
        row = board.get(key)
        if row is None:
            row = _new_series(state, category, county)
            state = {**state, "series": sorted([*state["series"], key])}
            board.put(skey, state)
        else:
            row = dict(row)
        row["open"] += 1
        board.put(key, row)


def _new_series(state: dict[str, Any], category: str, county: str) -> dict[str, Any]:
    """A series first seen today: every closed day since the province was first seen had none."""
    first, open_day = date.fromisoformat(state["first_day"]), date.fromisoformat(state["day"])
    closed = min((open_day - first).days, MAX_GAP_DAYS)
    # Complete weeks (Saturday..Friday) among the closed days, and the days of the current week.
    in_week = (open_day.weekday() - (FRIDAY + 1)) % 7  # closed days of the open week
    in_week = min(in_week, closed)
    weeks = min(-(-(closed - in_week) // 7), KEEP_WEEKS)  # a first, partial week counts, as for older series
    row = {"province": state["province"], "category": category, "county": county,
           "days": [0] * min(closed, KEEP_DAYS), "week": 0, "weeks": [0] * weeks, "open": 0,
           "last_day": (open_day - timedelta(days=1)).isoformat() if closed else None,
           "dow": [0] * 7, "model": None, "verdict": None}
    model = fit_weekly(row["weeks"])
    row["model"] = model.to_row() if model else None
    return row


def close_days(board: Board, state: dict[str, Any], today: str) -> dict[str, Any]:
    """Close every day from the open one to the day before ``today``, judging each."""
    province = state["province"]
    day = date.fromisoformat(state["day"])
    end = date.fromisoformat(today)
    if (end - day).days > MAX_GAP_DAYS:  # a silence longer than the history: start again
        day = end - timedelta(days=MAX_GAP_DAYS)
    keys = list(state["series"])
    rows = [dict(board.get(k)) for k in keys]
    raised: dict[str, Any] = {k: board.get(alert_key(r["province"], r["category"], r["county"]))
                              for k, r in zip(keys, rows, strict=True)}
    while day < end:
        _close_one(rows, day, raised)
        day += timedelta(days=1)
    for key, row in zip(keys, rows, strict=True):
        board.put(key, row)
        akey = alert_key(row["province"], row["category"], row["county"])
        alert = raised[key]
        if alert is None:
            board.delete(akey)
        elif alert != board.get(akey):
            board.put(akey, alert)
    new_state = {**state, "day": today}
    board.put(state_key(province), new_state)
    return new_state


def _close_one(rows: list[dict[str, Any]], day: date, raised: dict[str, Any]) -> None:
    iso_day = day.isoformat()
    for row in rows:
        row["days"] = [*row["days"], row["open"]][-KEEP_DAYS:]
        row["week"] += row["open"]
        row["open"] = 0
        row["last_day"] = iso_day
    judged = [r for r in rows if r["model"] is not None]
    if judged:
        profiles = {r["category"]: (r.get("dow"), r["model"]["phi"] if r["model"] else 1.0)
                    for r in rows if r["county"] == WHOLE_PROVINCE}
        _judge(judged, iso_day, raised, profiles)
    weekday = day.weekday()
    for row in rows:  # the day joins the weekday profiles after it was judged against them
        if row["county"] == WHOLE_PROVINCE and row["days"][-1]:
            dow = list(row.get("dow") or [0] * 7)
            dow[weekday] += row["days"][-1]
            if sum(dow) > DOW_KEEP:
                dow = [v // 2 for v in dow]
            row["dow"] = dow
        if row["model"] is None:
            row["verdict"] = None
            raised[series_key(row["province"], row["category"], row["county"])] = None
    if day.weekday() == FRIDAY:  # the week is complete: it joins the history, the model is refitted
        for row in rows:
            row["weeks"] = [*row["weeks"], row["week"]][-KEEP_WEEKS:]
            row["week"] = 0
            model = fit_weekly(row["weeks"])
            row["model"] = model.to_row() if model else None


def weekday_shares(dow: list[int] | None, phi: float = 1.0) -> np.ndarray:
    """Each weekday's share of a week's cases (Monday first, as date.weekday()): an even week
    unless the counts' departure from one is significant (chi-square over the overdispersion
    ``phi``), then the counts shrunk towards an even week."""
    counts = np.asarray(dow if dow else [0] * 7, dtype=float)
    total = counts.sum()
    if total <= 0:
        return np.full(7, 1 / 7)
    chi2 = float(np.sum((counts - total / 7) ** 2) / (total / 7)) / max(phi, 1.0)
    if float(special_functions().gammaincc(3.0, chi2 / 2)) >= DOW_SIGNIFICANCE:  # chi-square, 6 degrees of freedom
        return np.full(7, 1 / 7)
    return np.asarray((counts + DOW_PRIOR) / (total + 7 * DOW_PRIOR), dtype=float)


def _judge(rows: list[dict[str, Any]], day: str, raised: dict[str, Any],
           profiles: dict[str, tuple[list[int] | None, float]] | None = None) -> None:
    """Test every series' last 1, 2 and 7 days at once (one vectorised tail per window)."""
    models = [WeeklyModel.from_row(r["model"]) for r in rows]
    mean_week = np.array([m.mean_week for m in models])
    phi = np.array([m.phi for m in models])
    var_eta = np.array([m.var_eta for m in models])
    last = date.fromisoformat(day).weekday()
    shares = {c: weekday_shares(dow, phi) for c, (dow, phi) in (profiles or {}).items()}
    even = weekday_shares(None)
    per_row = np.array([shares.get(r["category"], even) for r in rows])  # one profile per series
    cells: list[list[dict[str, Any]]] = [[] for _ in rows]
    for window in WINDOWS:
        observed = np.array([sum(r["days"][-window:]) for r in rows], dtype=float)
        days = [(last - k) % 7 for k in range(window)]  # the weekdays of the window
        expected = mean_week * per_row[:, days].sum(axis=1)
        p = upper_tail(observed, expected, phi, var_eta)
        for i in range(len(rows)):
            cells[i].append({"window_days": window, "observed": int(observed[i]),
                             "expected": round(float(expected[i]), 3), "p_value": float(f"{p[i]:.3g}"),
                             "alarm": bool(p[i] < ALPHA and observed[i] >= MIN_CASES)})
    # The verdict is the most significant window, alarming ones first.
    verdicts = [min(c, key=lambda v: (not v["alarm"], v["p_value"], v["window_days"])) for c in cells]
    for row, model, verdict in zip(rows, models, verdicts, strict=True):
        verdict = {"day": day, **verdict}
        row["verdict"] = verdict
        key = series_key(row["province"], row["category"], row["county"])
        old = raised.get(key)
        if verdict["alarm"]:
            window = verdict["window_days"]
            raised[key] = {
                "kind": "emerging_harm", "province": row["province"], "county": row["county"],
                "category": row["category"], "day": day, "since": old["since"] if old else day,
                "window_days": window, "observed": verdict["observed"], "expected": verdict["expected"],
                "threshold": threshold(verdict["expected"], model.phi, model.var_eta, ALPHA),
                "p_value": verdict["p_value"], "model": "+".join(model.terms),
                "chart": chart_link(row["province"], row["category"], row["county"]),
            }
        else:
            raised[key] = None
