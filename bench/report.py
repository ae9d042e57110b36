"""Figures and the table: every figure with its value, the baseline measured in the same run,
their ratio, and the target it is held against (a goal, never an assertion)."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


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

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


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
            "figures": [f.to_dict() for f in self.figures],
            "errors": self.errors,
            "details": self.details,
        }
        path.write_text(json.dumps(record, indent=1, default=str) + "\n")


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            # Other work on the machine shows in the figures: say how busy it was.
            "load_average_1m": os.getloadavg()[0]}
