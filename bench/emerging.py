"""How well the emerging-harm detector finds spikes, and how often it cries wolf.

``python -m bench.emerging`` simulates two years of daily cases for every county × category of
a province (Kermanshah by default: its counties' shares and 81,541 calls a year, the
simulator's category mix, an annual season per category, some overdispersion), folds them
through the real projection (the same ``apply`` the runners use), and measures in the second
year:

* false alarms per county-year, on a history with no spike (alarm episodes of county series);
* for spikes of 2× and 3× a category's rate in one county for 3 days (5 per series, at random
  days of the second year): the share found within 2 days, within the spike's week, and the
  days to detect — overall and by the series' usual cases per day; found by the county's
  series, and found by the county's or the whole province's series of the category;
* false alarms of the province-wide series per province-year;
* the best any detector of daily counts could do (``oracle``): the known rate, Poisson counts,
  a 1-day and a 2-day test each day at the level that spends exactly the false-alarm budget
  (≤ 1 a county-year over 12 categories), the chance either fires within the spike's first
  two days (union bound) — an upper bound of the 2-day detection rate.

Results go to ``bench/results/emerging.json``; BENCHMARKS.md keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench.harm_history import draw, envelopes, seasonal_rates
from eoc.simulator.casework import CALL_CATEGORIES
from eoc.simulator.profiles import PROFILES
from projections import Board, apply
from projections.emerging import WHOLE_PROVINCE

FIRST = date(2023, 3, 25)  # a Saturday (4 Farvardin 1402): two years from here
DAYS = 2 * 364
EVALUATED = range(364, DAYS)  # the second year: the first is the model's history
SPIKE_DAYS = 3
SPIKES_PER_SERIES = 5
BANDS = ((0.0, 0.5), (0.5, 2.0), (2.0, 5.0), (5.0, float("inf")))
# The season of each category: (amplitude, day of the year it peaks) — summer for runaways and
# street children, winter evenings for family disputes and addiction; others mild.
SEASON = {"runaway": (0.35, 120), "street_children": (0.3, 110), "family_dispute": (0.2, 280),
          "spouse_addiction": (0.2, 290), "suicide": (0.15, 60)}
DISPERSION = 0.03  # extra-Poisson variation of daily counts (variance = mean·(1 + 0.03·mean))


def base_rates(province: str) -> dict[tuple[str, str], np.ndarray]:
    profile = PROFILES[province]
    weights = sum(c.weight for c in profile.counties)
    mix = sum(CALL_CATEGORIES.values())
    out = {}
    for county in profile.counties:
        for category, share in CALL_CATEGORIES.items():
            per_day = profile.calls_per_day * county.weight / weights * share / mix
            amplitude, peak = SEASON.get(str(category), (0.1, 200))
            out[(county.name, str(category))] = seasonal_rates(DAYS, per_day, amplitude=amplitude, peak_day=peak)
    return out


def spike_starts(rng: np.random.Generator) -> list[int]:
    """Days of the second year when spikes start, at least seven weeks apart."""
    while True:
        starts = sorted(int(d) for d in rng.choice(range(EVALUATED.start + 7, EVALUATED.stop - 14),
                                                    SPIKES_PER_SERIES, replace=False))
        if all(b - a >= 49 for a, b in zip(starts, starts[1:], strict=False)):
            return starts


def run(province: str, series: dict[tuple[str, str], list[int]]) -> dict[tuple[str, str], list[int]]:
    """Fold the history; for each county series, the days (indexes) on which an alert stood."""
    board = Board()
    alarm_days: dict[tuple[str, str], list[int]] = defaultdict(list)
    last_day = None
    for e in envelopes(province, FIRST, series):
        apply(board, e)
        state = board.get(f"harm/{province}")
        if state["day"] != last_day:
            last_day = state["day"]
            closed = (date.fromisoformat(last_day) - FIRST).days - 1
            for key in board.rows:
                if key.startswith("alert/emerging_harm/"):
                    _, _, _, category, county = key.split("/", 4)
                    alarm_days[(county, category)].append(closed)  # county "*": the whole province
    return alarm_days


def episodes(days: list[int], within: range) -> list[int]:
    """First days of runs of consecutive alarm days that start inside ``within``."""
    out, prev = [], None
    for d in sorted(days):
        if prev is None or d != prev + 1:
            if d in within:
                out.append(d)
        prev = d
    return out


def _fold(args: tuple[str, dict[tuple[str, str], list[int]]]) -> tuple[dict[tuple[str, str], list[int]], float]:
    t0 = time.perf_counter()
    alarms = run(*args)
    return alarms, time.perf_counter() - t0


def measure(province: str = "KSH", seed: int = 2024, clean_runs: int = 3, jobs: int = 1) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    rates = base_rates(province)
    counties = sorted({c for c, _ in rates})
    # Every history is drawn first, in one order (the figures do not depend on ``jobs``); the
    # folds, the costly part, then run side by side in ``jobs`` processes.
    cleans = [{k: draw(r, rng, dispersion=DISPERSION) for k, r in rates.items()} for _ in range(clean_runs)]
    spiked_runs: list[tuple[int, dict[tuple[str, str], list[int]], dict[tuple[str, str], list[int]]]] = []
    for multiplier in (2, 3):
        spiked = {k: draw(r, rng, dispersion=DISPERSION) for k, r in rates.items()}
        starts = {k: spike_starts(rng) for k in rates}
        for k, days in starts.items():
            for s in days:
                for d in range(s, s + SPIKE_DAYS):
                    spiked[k][d] = int(rng.poisson(rates[k][d] * multiplier))
        spiked_runs.append((multiplier, spiked, starts))
    histories = [(province, h) for h in cleans] + [(province, h) for _, h, _ in spiked_runs]
    if jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(min(jobs, len(histories))) as pool:
            folded = pool.map(_fold, histories)
    else:
        folded = [_fold(h) for h in histories]
    fold_s = sum(seconds for _, seconds in folded[:clean_runs])
    cases = sum(int(sum(sum(v) for v in clean.values())) for clean in cleans)
    false_alarms: dict[tuple[int, tuple[str, str]], list[int]] = {}
    province_alarms: list[dict[tuple[str, str], list[int]]] = []
    for run_no in range(clean_runs):  # several clean histories: false alarms are rare events
        alarms = folded[run_no][0]
        province_alarms.append(alarms)
        for k in rates:
            false_alarms[(run_no, k)] = episodes(alarms.get(k, []), EVALUATED)
    per_county = {c: sum(len(v) for (_, (cc, _)), v in false_alarms.items() if cc == c) for c in counties}
    province_fa = sum(len(episodes(alarms_of_run.get((WHOLE_PROVINCE, cat), []), EVALUATED))
                      for alarms_of_run in province_alarms for cat in {c for _, c in rates})
    by_band = {}
    for lo, hi in BANDS:
        inside = [k for k in rates if lo <= float(rates[k][EVALUATED].mean()) < hi]
        by_band[_band(lo, hi)] = {"series": len(inside) * clean_runs,
                                  "episodes": sum(len(false_alarms[(r, k)]) for k in inside for r in range(clean_runs))}
    years = len(EVALUATED) / 364 * clean_runs
    result: dict[str, Any] = {
        "province": province, "seed": seed, "counties": len(counties), "categories": len(CALL_CATEGORIES),
        "days": DAYS, "evaluated_days": len(EVALUATED), "clean_runs": clean_runs,
        "county_years": round(len(counties) * years, 1), "cases_per_run": cases // clean_runs,
        "fold_seconds_per_run": round(fold_s / clean_runs, 1), "jobs": jobs,
        "false_alarms": {"episodes": sum(per_county.values()),
                         "per_county_year": round(sum(per_county.values()) / len(counties) / years, 3),
                         "max_county_year_avg": round(max(per_county.values()) / years, 3),
                         "by_county": per_county, "by_usual_cases_per_day": by_band},
        "province_false_alarms": {"episodes": province_fa,
                                  "per_province_year": round(province_fa / years, 3)},
        "spikes": {}, "spikes_county_or_province": {},
        "oracle_3x_within_2_days": oracle(rates, 3),
    }
    for (multiplier, _, starts), (alarms, _) in zip(spiked_runs, folded[clean_runs:], strict=True):
        found: list[dict[str, Any]] = []
        either: list[dict[str, Any]] = []
        for k, days in starts.items():
            standing = set(alarms.get(k, ()))
            wide = standing | set(alarms.get((WHOLE_PROVINCE, k[1]), ()))
            for s in days:
                if s - 1 in standing:  # an alarm already standing: not a fair trial
                    continue
                first = next((d for d in range(s, s + 7) if d in standing), None)
                found.append({"per_day": float(rates[k][s]), "delay": None if first is None else first - s + 1})
                if s - 1 not in wide:
                    first = next((d for d in range(s, s + 7) if d in wide), None)
                    either.append({"per_day": float(rates[k][s]), "delay": None if first is None else first - s + 1})
        result["spikes"][f"{multiplier}x"] = summarise(found)
        result["spikes_county_or_province"][f"{multiplier}x"] = summarise(either)
    return result


def oracle(rates: dict[tuple[str, str], np.ndarray], multiplier: int, *, per_county_year: float = 1.0) -> dict[str, Any]:
    """Upper bound of the share of spikes any detector of a county's daily counts finds within
    2 days, at the false-alarm budget: the rate known exactly (no estimation), Poisson counts (no
    overdispersion), a 1-day and a 2-day test every day, each at the level that alone spends
    the budget (``per_county_year`` over the categories and 365 days, split over the two
    tests), and the union bound of the two firing during the spike's first two days."""
    from scipy import stats

    categories = len({c for _, c in rates})
    alpha = per_county_year / (categories * 365 * 2)

    def critical(mu: float) -> int:
        c = int(stats.poisson.isf(alpha, mu)) + 1  # smallest c with P(X ≥ c) ≤ alpha
        while stats.poisson.sf(c - 2, mu) <= alpha and c > 1:
            c -= 1
        while stats.poisson.sf(c - 1, mu) > alpha:
            c += 1
        return c

    found: list[tuple[float, float]] = []
    for r in rates.values():
        for s in range(EVALUATED.start, EVALUATED.stop, 7):  # every week of the measured year
            lam = float(r[s])
            one = stats.poisson.sf(critical(lam) - 1, multiplier * lam)
            two = stats.poisson.sf(critical(2 * lam) - 1, 2 * multiplier * lam)
            found.append((lam, min(1.0, float(one + two))))
    lams = np.array([f[0] for f in found])
    power = np.array([f[1] for f in found])
    out: dict[str, Any] = {"per_test_alpha": alpha, "all": round(float(power.mean()), 3),
                           "no_case_at_all_in_2_days": round(float(np.exp(-2 * multiplier * lams).mean()), 3)}
    for lo, hi in BANDS:
        inside = (lams >= lo) & (lams < hi)
        out[_band(lo, hi)] = {"share_of_series_weeks": round(float(inside.mean()), 3),
                              "bound": round(float(power[inside].mean()), 3) if inside.any() else None}
    return out


def _band(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g}/day" if hi != float("inf") else f">={lo:g}/day"


def summarise(found: list[dict[str, Any]]) -> dict[str, Any]:
    def figures(cases: list[dict[str, Any]]) -> dict[str, Any]:
        delays = [c["delay"] for c in cases if c["delay"] is not None]
        n = len(cases)
        return {"spikes": n,
                "within_2_days": round(sum(1 for d in delays if d <= 2) / n, 3) if n else None,
                "within_7_days": round(len(delays) / n, 3) if n else None,
                "median_days_to_detect": float(np.median(delays)) if delays else None}

    out = {"all": figures(found)}
    for lo, hi in BANDS:
        out[_band(lo, hi)] = figures([c for c in found if lo <= c["per_day"] < hi])
    return out


def table(result: dict[str, Any]) -> str:
    fa = result["false_alarms"]
    lines = [f"{result['province']}: {result['counties']} counties × {result['categories']} categories, "
             f"{result['cases_per_run']:,} cases over {result['days']} days a run "
             f"(fold {result['fold_seconds_per_run']} s a run)",
             f"false alarms per county-year: {fa['per_county_year']} over {result['county_years']} county-years "
             f"(worst county {fa['max_county_year_avg']}); "
             f"by usual cases/day: {fa['by_usual_cases_per_day']}",
             f"province-wide series: {result['province_false_alarms']['per_province_year']} false alarms "
             f"per province-year (12 categories)",
             f"best possible (oracle) 3x within 2 days: {result['oracle_3x_within_2_days']}",
             "| spike | usual cases/day | spikes | found ≤ 2 days | found ≤ 7 days | median days | "
             "county or province ≤ 2 days |",
             "|---|---|---|---|---|---|---|"]
    for name, bands in result["spikes"].items():
        wide = result["spikes_county_or_province"][name]
        for band, f in bands.items():
            lines.append(f"| {name} | {band} | {f['spikes']} | {f['within_2_days']} | {f['within_7_days']} | "
                         f"{f['median_days_to_detect']} | {wide[band]['within_2_days']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.emerging", description=__doc__.split("\n")[0])
    ap.add_argument("--province", default="KSH")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--clean-runs", type=int, default=3, help="spike-free histories for the false-alarm rate")
    ap.add_argument("--jobs", type=int, default=1, help="fold the histories in this many processes")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "emerging.json"))
    args = ap.parse_args(argv)
    result = measure(args.province, args.seed, args.clean_runs, args.jobs)
    Path(args.out).write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(table(result))


if __name__ == "__main__":
    main()
