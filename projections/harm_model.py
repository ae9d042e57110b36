"""What a county's count of a harm category should be, and how surprising the count is.

The method is the one public-health surveillance uses for outbreaks (Farrington et al. 1996,
improved by Noufaily et al. 2013): a quasi-Poisson log-linear model fitted to the series' own
past weekly counts — intercept, an annual season (one sine and cosine pair) once a year of
history exists, and a trend only when it is significant and does not run beyond what was
seen — fitted again with past outbreaks down-weighted so they do not raise the baseline. The
current week is never in the fit (it is what is being judged). The count of a window of days
is then compared with a negative binomial whose variance holds both the overdispersion and the
uncertainty of the fitted mean: its upper tail is the window's p-value.

The fit is iteratively reweighted least squares in numpy (a pinned test checks it against
statsmodels' GLM), so the fold stays pure, fast and deterministic: the same counts give the
same bits in every runner.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

YEAR_WEEKS = 365.2425 / 7
MIN_WEEKS = 4  # fewer complete weeks of history: the series is still being learned
SEASON_WEEKS = 52  # a season term needs a year of history
TREND_WEEKS = 26
REWEIGHT_AT = 2.58  # Noufaily et al.: residuals above this are down-weighted as past outbreaks
MEAN_FLOOR = 0.5  # a series never seen: as if half a case had been seen over its history


@dataclass(frozen=True, slots=True)
class WeeklyModel:
    """The expected count of the week after the fitted ones."""

    mean_week: float  # expected count in the next week
    var_eta: float  # variance of the log of that expectation (uncertainty of the fit)
    phi: float  # overdispersion (variance / mean), at least 1
    terms: tuple[str, ...]
    weeks: int  # weeks fitted

    def to_row(self) -> dict[str, object]:
        return {"mean_week": self.mean_week, "var_eta": self.var_eta, "phi": self.phi,
                "terms": list(self.terms), "weeks": self.weeks}

    @classmethod
    def from_row(cls, row: dict[str, object]) -> WeeklyModel:
        return cls(float(row["mean_week"]), float(row["var_eta"]), float(row["phi"]),  # type: ignore[arg-type]
                   tuple(row["terms"]), int(row["weeks"]))  # type: ignore[arg-type,call-overload]


def special_functions() -> Any:
    """SciPy's special functions, imported on first use: a process that never judges a series
    (the API, the CLI's other commands) starts without SciPy."""
    from scipy import special

    return special


def design(t: np.ndarray, terms: Sequence[str]) -> np.ndarray:
    cols = []
    for term in terms:
        if term == "intercept":
            cols.append(np.ones_like(t, dtype=float))
        elif term == "trend":
            cols.append(t.astype(float))
        elif term == "season":
            angle = 2 * math.pi * t / YEAR_WEEKS
            cols.extend((np.sin(angle), np.cos(angle)))
        else:  # pragma: no cover - a programming error
            raise ValueError(f"unknown term {term!r}")
    return np.column_stack(cols)


@dataclass(frozen=True, slots=True)
class GlmFit:
    beta: np.ndarray
    cov_unscaled: np.ndarray  # (XᵀWX)⁻¹
    mu: np.ndarray
    phi: float


def poisson_irls(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, iterations: int = 50) -> GlmFit:
    """Poisson GLM with log link and prior weights ``w``, by iteratively reweighted least squares;
    ``phi`` is the Pearson estimate of the dispersion (quasi-Poisson), floored at 1."""
    n, p = x.shape
    w = np.ones(n) if w is None else w
    beta = np.zeros(p)
    beta[0] = math.log(max(float(np.average(y, weights=w)), 1e-3))
    for _ in range(iterations):
        eta = np.clip(x @ beta, -30.0, 30.0)
        mu = np.exp(eta)
        z = eta + (y - mu) / mu
        ww = w * mu
        xtwx = x.T @ (ww[:, None] * x)
        new = np.linalg.solve(xtwx + 1e-10 * np.eye(p), x.T @ (ww * z))
        done = float(np.max(np.abs(new - beta))) < 1e-9
        beta = new
        if done:
            break
    mu = np.exp(np.clip(x @ beta, -30.0, 30.0))
    cov = np.linalg.inv(x.T @ ((w * mu)[:, None] * x) + 1e-10 * np.eye(p))
    dof = max(float(w.sum()) - p, 1.0)
    phi = max(1.0, float(np.sum(w * (y - mu) ** 2 / mu)) / dof)
    return GlmFit(beta, cov, mu, phi)


def _fit_terms(y: np.ndarray, terms: tuple[str, ...]) -> tuple[GlmFit, np.ndarray]:
    t = np.arange(len(y))
    x = design(t, terms)
    first = poisson_irls(x, y)
    # Past outbreaks would raise the baseline and the dispersion: weeks far above the first
    # fit are down-weighted in the second (Noufaily et al. 2013).
    resid = (y - first.mu) / np.sqrt(first.phi * first.mu)
    w = np.where(resid > REWEIGHT_AT, (REWEIGHT_AT / np.maximum(resid, REWEIGHT_AT)) ** 2, 1.0)
    if np.all(w == 1.0):
        return first, x
    return poisson_irls(x, y, w), x


def fit_weekly(weeks: Sequence[int]) -> WeeklyModel | None:
    """The model of the week after ``weeks`` (oldest first), or None while there are too few."""
    n = len(weeks)
    if n < MIN_WEEKS:
        return None
    y = np.asarray(weeks, dtype=float)
    if y.sum() == 0:
        return WeeklyModel(MEAN_FLOOR / n, 1.0 / MEAN_FLOOR, 1.0, ("intercept",), n)
    terms: tuple[str, ...] = ("intercept",)
    if n >= SEASON_WEEKS and y.sum() >= 2 * SEASON_WEEKS / 4:
        terms += ("season",)
    candidates = [terms + ("trend",), terms] if n >= TREND_WEEKS else [terms]
    for i, cand in enumerate(candidates):
        fit, x = _fit_terms(y, cand)
        x_next = design(np.array([n]), cand)[0]
        eta = float(x_next @ fit.beta)
        if "trend" in cand and i + 1 < len(candidates):
            k = cand.index("trend") + (1 if "season" in cand else 0)
            z = fit.beta[k] / math.sqrt(fit.phi * fit.cov_unscaled[k, k])
            # Farrington: keep a trend only when significant and not beyond what was seen.
            if abs(z) < 2.0 or math.exp(eta) > y.max():
                continue
        var_eta = float(fit.phi * x_next @ fit.cov_unscaled @ x_next)
        mean = max(math.exp(eta), MEAN_FLOOR / n)
        return WeeklyModel(mean, var_eta, fit.phi, cand, n)
    raise AssertionError("unreachable: the last candidate always returns")  # pragma: no cover


def upper_tail(observed: np.ndarray, mean: np.ndarray, phi: np.ndarray, var_eta: np.ndarray) -> np.ndarray:
    """P(Y ≥ observed) for counts of expectation ``mean`` (arrays, one cell per series).

    Y is negative binomial with variance ``phi·mean + mean²·(exp(var_eta) − 1)``: the
    quasi-Poisson dispersion plus the log-normal uncertainty of the fitted mean; when that is
    no more than the mean, Y is Poisson.
    """
    observed = np.asarray(observed, dtype=float)
    mean = np.maximum(np.asarray(mean, dtype=float), 1e-9)
    var = phi * mean + mean**2 * np.expm1(np.minimum(var_eta, 5.0))
    extra = var - mean
    out = np.ones_like(mean)
    pos = observed > 0
    nb = pos & (extra > 1e-9 * mean)
    if np.any(nb):
        size = mean[nb] ** 2 / extra[nb]
        prob = size / (size + mean[nb])
        # P(Y ≥ k) for a negative binomial = I_{1-p}(k, r) (regularized incomplete beta)
        out[nb] = special_functions().betainc(observed[nb], size, 1.0 - prob)
    po = pos & ~nb
    if np.any(po):
        # P(Y ≥ k) for a Poisson = P(k, mean) (regularized lower incomplete gamma)
        out[po] = special_functions().gammainc(observed[po], mean[po])
    return out


def threshold(mean: float, phi: float, var_eta: float, alpha: float) -> int:
    """The smallest count whose upper tail is below ``alpha``: what would have raised the alert."""
    lo, hi = 0, max(8, int(mean * 4 + 10))
    while upper_tail(np.array([hi]), np.array([mean]), np.array([phi]), np.array([var_eta]))[0] >= alpha:
        hi *= 2
        if hi > 10_000_000:
            return hi
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if upper_tail(np.array([mid]), np.array([mean]), np.array([phi]), np.array([var_eta]))[0] < alpha:
            hi = mid
        else:
            lo = mid
    return hi
