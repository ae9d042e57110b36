"""The emerging-harm detector (آسیب‌های نوپدید) on synthetic series, through the real fold."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

import numpy as np
import pytest

from bench.harm_history import draw, envelopes, seasonal_rates
from projections import Board, apply, fold
from projections.emerging import ALPHA, alert_key, series_key
from projections.harm_model import fit_weekly, poisson_irls, upper_tail

FIRST = date(2024, 3, 23)  # a Saturday: 3 Farvardin 1403


def harm_rows(rows) -> dict:
    return {k: v for k, v in rows.items() if k.startswith(("harm/", "alert/emerging_harm/"))}


def alarms_by_day(events) -> dict[str, set[str]]:
    """Fold event by event; for each closed day, the emerging-harm alerts standing after it."""
    board = Board()
    out: dict[str, set[str]] = {}
    for e in events:
        apply(board, e)
        state = board.get("harm/KSH")
        if state:
            out[state["day"]] = {k for k, v in board.rows.items() if k.startswith("alert/emerging_harm/")}
    return out


def test_emerging_clear_spike_found() -> None:
    rng = np.random.default_rng(7)
    days = 7 * 40
    counts = draw(seasonal_rates(days, 4.0), rng)
    spike_day = days - 3
    for d in range(spike_day, days):
        counts[d] = int(rng.poisson(12.0))  # three times the rate, for three days
    board = fold(envelopes("KSH", FIRST, {("Kermanshah", "suicide"): counts}))
    key = alert_key("KSH", "suicide", "Kermanshah")
    alert = board.get(key)
    assert alert is not None, board.get(series_key("KSH", "suicide", "Kermanshah"))["verdict"]
    assert alert["kind"] == "emerging_harm"
    assert (alert["province"], alert["county"], alert["category"]) == ("KSH", "Kermanshah", "suicide")
    assert alert["observed"] > alert["expected"] * 2
    assert alert["observed"] >= alert["threshold"]
    assert alert["p_value"] < ALPHA
    assert alert["since"] >= (FIRST + timedelta(days=spike_day)).isoformat()
    assert alert["chart"].endswith("KSH/suicide/Kermanshah")
    # The whole province's series sees the same spike; before it, no alert stood on any day.
    assert board.get(alert_key("KSH", "suicide", "*")) is not None
    before = alarms_by_day(envelopes("KSH", FIRST, {("Kermanshah", "suicide"): counts[:spike_day]}))
    assert not any(before.values())


def test_emerging_seasonal_rise_not_flagged() -> None:
    """A summer rise seen the year before is expected; the same rise after a flat year is not."""
    rng = np.random.default_rng(11)
    days = 7 * 100
    rates = seasonal_rates(days, 6.0, amplitude=0.7, peak_day=200)
    seasonal = draw(rates, rng)
    season_two = range(365 + 150, 365 + 250)  # around the second year's peak
    by_day = alarms_by_day(envelopes("KSH", FIRST, {("Kermanshah", "runaway"): seasonal}))
    flagged = [d for d, alerts in by_day.items()
               if alerts and (date.fromisoformat(d) - FIRST).days in season_two]
    assert flagged == []
    model = fit_weekly([sum(seasonal[w * 7:(w + 1) * 7]) for w in range(71)])
    assert model is not None and "season" in model.terms
    # The same second-year rise after a flat first year is flagged: the test can fail.
    flat = draw(np.full(365 + 150, rates[:365].mean() * 0.6), rng) + seasonal[365 + 150:]
    by_day = alarms_by_day(envelopes("KSH", FIRST, {("Kermanshah", "runaway"): flat}))
    assert any(alerts for d, alerts in by_day.items() if (date.fromisoformat(d) - FIRST).days in season_two)


def test_emerging_drills_ignored() -> None:
    rng = np.random.default_rng(3)
    days = 7 * 30
    counts = draw(seasonal_rates(days, 3.0), rng)
    drills = [0] * days
    drills[-2] = 40  # a large exercise in the last days: many drill calls of one category
    drills[-1] = 40
    history = {("Kermanshah", "spouse_abuse"): counts}
    real = fold(envelopes("KSH", FIRST, history))
    with_drills = fold(envelopes("KSH", FIRST, history, drills={("Kermanshah", "spouse_abuse"): drills}))
    assert real.get(series_key("KSH", "spouse_abuse", "Kermanshah"))["days"][-2:] == counts[-2:]
    assert harm_rows(real.rows) == harm_rows(with_drills.rows)
    assert not [k for k in with_drills.rows if "emerging_harm" in k]
    # The same calls as real ones do raise the alert.
    spiked = [c + d for c, d in zip(counts, drills, strict=True)]
    assert fold(envelopes("KSH", FIRST, {("Kermanshah", "spouse_abuse"): spiked})).get(
        alert_key("KSH", "spouse_abuse", "Kermanshah")) is not None


def test_emerging_same_result_in_two_arrival_batchings() -> None:
    """One pass, or batches whose board goes through JSON between them (a checkpoint, a
    changelog) with the last batch redelivered: the same rows."""
    rng = np.random.default_rng(5)
    days = 7 * 20
    history = {(county, cat): draw(seasonal_rates(days, rate), rng)
               for county, cat, rate in [("Kermanshah", "suicide", 3.0), ("Kermanshah", "runaway", 1.0),
                                         ("Eslamabad-e Gharb", "suicide", 0.5)]}
    history[("Kermanshah", "suicide")][-2] += 15
    events = list(envelopes("KSH", FIRST, history))
    one = fold(events)
    rnd = random.Random(9)
    rows: dict = {}
    i = 0
    while i < len(events):
        n = rnd.randint(1, 400)
        board = Board(json.loads(json.dumps(rows)))
        for e in events[max(0, i - rnd.randint(0, 5)):i + n]:  # a few redelivered
            apply(board, e)
        rows = board.snapshot()
        i += n
    assert harm_rows(rows) == harm_rows(one.rows)
    assert one.get(alert_key("KSH", "suicide", "Kermanshah")) is not None
    assert one.get(series_key("KSH", "suicide", "Eslamabad-e Gharb"))["model"] is not None


def test_emerging_irls_matches_statsmodels() -> None:
    """The numpy fit inside the fold is the GLM that statsmodels fits (pinned)."""
    import statsmodels.api as sm
    rng = np.random.default_rng(1)
    t = np.arange(80)
    x = np.column_stack([np.ones(80), np.sin(2 * np.pi * t / 52.18), np.cos(2 * np.pi * t / 52.18), t])
    y = rng.poisson(np.exp(1.5 + 0.4 * x[:, 1] + 0.004 * t)).astype(float)
    ours = poisson_irls(x, y)
    theirs = sm.GLM(y, x, family=sm.families.Poisson()).fit(scale="X2")
    np.testing.assert_allclose(ours.beta, theirs.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.phi, max(1.0, theirs.scale), rtol=1e-6)
    np.testing.assert_allclose(ours.cov_unscaled * max(1.0, theirs.scale), theirs.cov_params(), rtol=1e-4)


def test_emerging_tail_matches_scipy_distributions() -> None:
    from scipy import stats

    mean, phi = np.array([4.0, 4.0]), np.array([1.0, 2.5])
    obs = np.array([9.0, 9.0])
    p = upper_tail(obs, mean, phi, np.zeros(2))
    assert p[0] == pytest.approx(stats.poisson.sf(8, 4.0), rel=1e-9)
    size = 4.0 / 1.5
    assert p[1] == pytest.approx(stats.nbinom.sf(8, size, size / (size + 4.0)), rel=1e-9)


def test_emerging_series_stay_off_screens_but_alerts_show() -> None:
    from projections.visibility import visible_rows

    rng = np.random.default_rng(7)
    counts = draw(seasonal_rates(7 * 30, 4.0), rng)
    counts[-2:] = [20, 22]
    rows = fold(envelopes("KSH", FIRST, {("Kermanshah", "suicide"): counts})).rows
    assert any(k.startswith("harm/") for k in rows)
    for role, province in [("national_eoc", "IR"), ("provincial_supervisor", "KSH"), ("dispatcher", "KSH")]:
        seen = visible_rows(dict(rows), role, province)
        assert not any(k.startswith("harm/") for k in seen)
        assert alert_key("KSH", "suicide", "Kermanshah") in seen
    assert alert_key("KSH", "suicide", "Kermanshah") not in visible_rows(dict(rows), "dispatcher", "QZV")


def test_emerging_series_first_seen_late_share_the_province_weeks() -> None:
    """A category first seen weeks after the province has the same week boundaries, with zeros before."""
    first = date(2024, 3, 27)  # a Wednesday: the first week is partial
    rows = fold(envelopes("KSH", first, {("Kermanshah", "suicide"): [1] * 60,
                                         ("Harsin", "suicide"): [0] * 20 + [1] * 40})).rows
    early, late = rows[series_key("KSH", "suicide", "Kermanshah")], rows[series_key("KSH", "suicide", "Harsin")]
    assert len(early["weeks"]) == len(late["weeks"]) and early["week"] == late["week"]
    assert early["weeks"] == [3] + [7] * 8  # Wednesday to Friday, then whole weeks
    assert late["weeks"] == [0, 0, 0, 4] + [7] * 5  # first seen on a Tuesday of the fourth week
    assert late["last_day"] == early["last_day"]


WEEKDAY_PATTERN = {5: 3.5, 6: 1.2, 0: 0.8, 1: 0.6, 2: 0.4, 3: 0.3, 4: 0.2}  # Saturday busiest, Friday quiet


def _weekday_series(rng: np.random.Generator, days: int, per_day: float) -> list[int]:
    return [int(rng.poisson(per_day * WEEKDAY_PATTERN[(FIRST + timedelta(days=d)).weekday()]))
            for d in range(days)]


def _alarm_days(counts: list[int]) -> set[str]:
    by_day = alarms_by_day(envelopes("KSH", FIRST, {("Kermanshah", "runaway"): counts}))
    key = alert_key("KSH", "runaway", "Kermanshah")
    return {d for d, standing in by_day.items() if key in standing}


def test_emerging_day_of_week_pattern_not_flagged_but_a_spike_is(monkeypatch) -> None:
    """A category busiest on Saturdays and quiet on Fridays (4 a day on average): judged with
    the weekday profile, its Saturdays are expected and raise nothing; judged as if every day
    were alike (the term switched off), they raise alarm after alarm. A threefold spike is found."""
    import projections.emerging as emerging

    rng = np.random.default_rng(11)
    days = 7 * 60
    counts = _weekday_series(rng, days, 4.0)
    assert sum(counts[-7:]) > 0
    with_term = _alarm_days(counts)
    monkeypatch.setattr(emerging, "DOW_PRIOR", 1e12)  # every weekday alike: no day-of-week term
    without_term = _alarm_days(counts)
    monkeypatch.undo()
    assert len(with_term) <= 1, sorted(with_term)
    assert len(without_term) >= 10, sorted(without_term)
    # Three times the usual rate for three days from the busy Saturday (then two usual days,
    # which close the spike's days): found, although the profile expects a busy Saturday.
    start = days
    assert (FIRST + timedelta(days=start)).weekday() == 5  # the history ended on a Friday
    tail = _weekday_series(rng, 5, 4.0)
    tail[:3] = [int(rng.poisson(3 * 4.0 * WEEKDAY_PATTERN[(FIRST + timedelta(days=start + k)).weekday()]))
                for k in range(3)]
    found = _alarm_days(counts + tail) - with_term
    spike_days = {(FIRST + timedelta(days=start + k)).isoformat() for k in range(3)}
    assert found & spike_days, (sorted(found), sorted(spike_days))
