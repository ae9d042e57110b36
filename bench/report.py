"""Figures and the table: every figure with its value, the baseline measured in the same run,
their ratio, and the target it is held against (a goal, never an assertion).

A figure says where its value and its baseline come from (``value_from``, ``baseline_from``):
a path into the run's details (``/`` between keys, list indices as numbers) and the statistic
taken of what is there, so that every figure of the JSON can be computed again from its samples
(``derive``) and checked (``problems``):

* ``p50``, ``p99``, ``p99.9``, ``max``, ``mean`` — of a list of samples (the quantile as
  ``bench.loadgen.quantile`` takes it);
* ``rate`` — of a list of windows ``{"count", "seconds"}``: all counts over all seconds;
* ``max_held`` — of the held-rate search's attempts ``{"rate", "held"}``: the highest rate held;
* ``value`` — the number itself.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .loadgen import quantile


@dataclass
class Figure:
    scenario: str
    name: str
    value: float | None
    unit: str
    baseline: float | None
    baseline_name: str
    target: str = ""  # e.g. "<= 20 ms"
    met: bool | None = None  # against the target, when there is one
    note: str = ""
    value_from: dict[str, str] | None = None  # {"samples": path into details, "stat": ...}
    baseline_from: dict[str, str] | None = None

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def source(samples: str, stat: str) -> dict[str, str]:
    return {"samples": samples, "stat": stat}


MEASURED = ("ms", "/s", "cores", "MB", "MB/100k")  # units of which no baseline can be 0
QUANTILES = {"p50": 0.5, "p99": 0.99, "p99.9": 0.999}


def resolve(details: dict[str, Any], path: str) -> Any:
    found: Any = details
    for key in path.split("/"):
        found = found[int(key)] if isinstance(found, list) else found[key]
    return found


def derive(details: dict[str, Any], where: dict[str, str]) -> float | None:
    """The figure's number, computed again from what ``where`` points at."""
    stat, found = where["stat"], resolve(details, where["samples"])
    if stat in QUANTILES:
        return quantile(sorted(found), QUANTILES[stat])
    if stat == "max":
        return max(found) if found else None
    if stat == "mean":
        return sum(found) / len(found) if found else None
    if stat == "rate":
        seconds = sum(w["seconds"] for w in found)
        return sum(w["count"] for w in found) / seconds if seconds else None
    if stat == "max_held":
        return max((a["rate"] for a in found if a["held"]), default=None)
    if stat == "value":
        return None if found is None else float(found)
    raise ValueError(f"unknown statistic {stat!r}")


def problems(figure: dict[str, Any], details: dict[str, Any]) -> list[str]:
    """Why a figure of the JSON cannot be true (empty: plausible): a value or baseline missing,
    negative or infinite; a zero baseline of a latency, a rate, CPU or memory (Kafka's
    EndToEndLatency excepted: it prints whole milliseconds; a count, such as commands waiting,
    can be 0); a latency of zero or less; a ratio that is not value / baseline; a value or
    baseline that does not follow from the samples it names."""
    import math

    found: list[str] = []
    value, baseline = figure.get("value"), figure.get("baseline")
    for what, x in (("value", value), ("baseline", baseline)):
        if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x) or x < 0:
            found.append(f"{what} is not a finite number >= 0: {x!r}")
    if found:
        return found
    assert isinstance(value, (int, float)) and isinstance(baseline, (int, float))
    if baseline == 0 and figure.get("unit") in MEASURED and "Kafka" not in figure.get("baseline_name", ""):
        found.append("a zero baseline")
    if figure.get("unit") == "ms" and value <= 0:
        found.append(f"a latency of {value} ms")
    if baseline and not math.isclose(figure.get("ratio") or 0.0, value / baseline, rel_tol=1e-9):
        found.append(f"ratio {figure.get('ratio')} is not {value} / {baseline}")
    for what, x in (("value", value), ("baseline", baseline)):
        where = figure.get(f"{what}_from")
        if where is None:
            continue
        try:
            again = derive(details, where)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            found.append(f"{what}: its samples {where} are not in the details ({exc!r})")
            continue
        if again is None or not math.isclose(again, x, rel_tol=1e-9, abs_tol=1e-9):
            found.append(f"{what} {x} does not follow from its samples: {where['stat']} of {where['samples']} "
                         f"is {again}")
    return found


def implausible(record: dict[str, Any]) -> dict[str, list[str]]:
    """Every figure of a results JSON that cannot be true, with why."""
    out: dict[str, list[str]] = {}
    for f in record["figures"]:
        found = problems(f, record["details"])
        if found:
            out[f"{f['scenario']} / {f['name']}"] = found
    return out


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "cores":
        return f"{value:.2f} cores"
    if unit == "%":
        return f"{value:.0%}"
    if unit in ("MB", "MB/100k"):
        return f"{value:,.1f} {unit}"
    return f"{value:,.3g} {unit}".strip()


def ratio_text(figure: Figure) -> str:
    r = figure.ratio
    if r is None:
        return "—"
    return f"{r:.2f}" if r < 100 else f"{r:,.0f}"


def target_text(figure: Figure) -> str:
    if not figure.target:
        return ""
    mark = {True: "met", False: "MISSED", None: ""}[figure.met]
    return f"{figure.target} {mark}".strip()


def table(figures: list[Figure]) -> str:
    """The table for a terminal: grouped by scenario."""
    rows = [("figure", "value", "baseline", "ratio", "target")]
    groups: dict[str, list[Figure]] = {}
    for f in figures:
        groups.setdefault(f.scenario, []).append(f)
    out: list[tuple[str, ...]] = []
    for scenario, found in groups.items():
        out.append((f"[{scenario}]", "", "", "", ""))
        for f in found:
            out.append((f"  {f.name}", fmt(f.value, f.unit), f"{fmt(f.baseline, f.unit)}  ({f.baseline_name})",
                        ratio_text(f), target_text(f)))
    rows += out
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    widths[2] = min(widths[2], 64)
    lines = []
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].rjust(widths[1]), (r[2][:widths[2]]).ljust(widths[2]),
                 r[3].rjust(widths[3]), r[4]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def markdown(figures: list[Figure]) -> str:
    """The same table for BENCHMARKS.md."""
    lines = ["| scenario | figure | value | baseline (same run) | ratio | target |",
             "|---|---|---:|---|---:|---|"]
    order = list(dict.fromkeys(f.scenario for f in figures))
    for f in sorted(figures, key=lambda f: order.index(f.scenario)):
        lines.append(f"| {f.scenario} | {f.name} | {fmt(f.value, f.unit)} | {fmt(f.baseline, f.unit)} "
                     f"({f.baseline_name}) | {ratio_text(f)} | {target_text(f)} |")
    return "\n".join(lines)


@dataclass
class Results:
    command: str
    smoke: bool
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # per scenario: everything measured
    errors: dict[str, str] = field(default_factory=dict)
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "command": self.command,
            "smoke": self.smoke,
            "started": self.started,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "code": code(),
            "figures": [f.to_dict() for f in self.figures],
            "errors": self.errors,
            "details": self.details,
        }
        path.write_text(json.dumps(record, indent=1, default=str) + "\n")


def code() -> dict[str, Any]:
    """Which code was measured: the commit of the tree the suite sits in (its processes run that
    tree, bench/systems.py) and whether it had changes not committed."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return {"tree": str(root)}
    return {"tree": str(root), "commit": commit or None, "changed": dirty}


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            # Other work on the machine shows in the figures: say how busy it was.
            "load_average_1m": os.getloadavg()[0]}
