"""Showing and exporting replayed boards: rich tables in a terminal, JSON, CSV.

CSV is one file per board kind (``team.csv``, ``incident.csv``, ``centre.csv``,
``figures.csv``, ``alert.csv``, ``position.csv``, ``applied.csv``; drills as
``drill-team.csv``…): a column per top-level field, nested values as JSON text, the row key
first. What is exported is what the auditor may see (projections/visibility.py).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eoc.audit.reports import COUNTS, GROUPINGS, Report
from events.jalali import format_jalali
from projections.clock import local
from projections.views import BoardSummary


def kind_of(key: str) -> str:
    drill = key.startswith("drill/")
    kind = key.removeprefix("drill/").split("/", 1)[0]
    return f"drill-{kind}" if drill else kind


def write_csv(rows: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    by_kind: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for key in sorted(rows):
        by_kind[kind_of(key)].append((key, rows[key]))
    files = []
    for kind, items in sorted(by_kind.items()):
        columns: list[str] = []
        for _, row in items:
            for c in (row if isinstance(row, dict) else {"value": row}):
                if c not in columns:
                    columns.append(c)
        path = out_dir / f"{kind}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["key", *columns])
            for key, row in items:
                row = row if isinstance(row, dict) else {"value": row}
                w.writerow([key, *(_cell(row.get(c)) for c in columns)])
        files.append(path)
    return files


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else value


def write_report_csv(report: Report, path: Path, grouping: str) -> Path:
    keys = GROUPINGS[grouping]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["period", *keys, *COUNTS, "intervention_share", "call_to_dispatch_mean_s",
                    "dispatch_to_scene_mean_s"])
        for row in report.by(keys):
            w.writerow([report.period.code, *(row[k] for k in keys), *(row[c] for c in COUNTS),
                        *(_cell(v) for v in (row["intervention_share"], row["call_to_dispatch"]["mean_s"],
                                             row["dispatch_to_scene"]["mean_s"]))])
    return path


# ---------------------------------------------------------------------- terminal


def _when(moment: str | None) -> str:
    if not moment:
        return "—"
    return format_jalali(local(moment))


def print_summary(console: Any, summary: BoardSummary, header: str) -> None:
    from rich.table import Table

    console.print(header)
    teams = Table(title=f"Teams ({len(summary['teams'])}) · گروه‌های سیار", show_lines=False)
    for c in ("province", "county", "name", "status", "since (Jalali)", "in status", "incident"):
        teams.add_column(c)
    for t in summary["teams"]:
        teams.add_row(t["province"], t.get("county") or "—", t["name"], t["status"], _when(t.get("since")),
                      _duration(t.get("in_status_s")), (t.get("incident_id") or "—")[:8])
    console.print(teams)
    incidents = Table(title=f"Open incidents ({len(summary['incidents'])}) · موارد باز")
    for c in ("priority", "province", "county", "category", "opened (Jalali)", "age", "teams"):
        incidents.add_column(c)
    for i in summary["incidents"]:
        incidents.add_row(i["priority"], i["province"], i.get("county") or "—", i["category"], _when(i["opened_at"]),
                          _duration(i.get("age_s")), str(len(i["teams"])) if i["teams"] else "unassigned")
    console.print(incidents)
    centres = Table(title=f"Centres and houses ({len(summary['centres'])}) · مراکز")
    for c in ("province", "county", "name", "kind", "capacity", "occupied", "free", "holding", "declined"):
        centres.add_column(c)
    for centre in summary["centres"]:
        centres.add_row(centre["province"], centre["county"] or "—", centre["name"], centre["kind"],
                        str(centre["capacity"]), str(centre["occupied"]), str(centre["free"]),
                        str(len(centre["holding"])), str(centre["declined"]))
    console.print(centres)
    figures = summary["figures"]
    table = Table(title=f"Key figures for {figures['day']} · آمار روز")
    for c in ("province", *COUNTS, "share", "call→dispatch p50 s"):
        table.add_column(c)
    for name, row in sorted(figures["provinces"].items()) + [("nation", figures["nation"])]:
        counts: Mapping[str, Any] = row  # COUNTS names its fields by text
        table.add_row(name, *(str(counts[c]) for c in COUNTS), _pct(row["intervention_share"]),
                      str(row["call_to_dispatch_p50_s"] or "—"))
    console.print(table)
    alerts = Table(title=f"Alerts ({len(summary['alerts'])}) · هشدارها")
    for c in ("kind", "province", "since (Jalali)", "subject"):
        alerts.add_column(c)
    for a in summary["alerts"]:
        subject = a.get("team_id") or a.get("incident_id") or a.get("centre_id") or ""
        alerts.add_row(a["kind"], a.get("province") or "—", _when(a.get("since")), str(subject)[:8])
    console.print(alerts)


def print_report(console: Any, report: Report, grouping: str, title: str) -> None:
    from rich.table import Table

    keys = GROUPINGS[grouping]
    table = Table(title=title)
    for k in keys:
        table.add_column(k, no_wrap=True)
    for c in ("calls", "share", "interv.", "disp.", "adm.", "decl.", "call→disp", "disp→scene"):
        table.add_column(c, justify="right")
    for row in report.by(keys) + [{**dict.fromkeys(keys, ""), **report.total(), keys[0]: "total"}]:
        table.add_row(*(str(row[k]) for k in keys), str(row["calls"]), _pct(row["intervention_share"]),
                      str(row["interventions"]), str(row["dispatches"]), str(row["admissions"]),
                      str(row["declined"]), _duration(row["call_to_dispatch"]["mean_s"]),
                      _duration(row["dispatch_to_scene"]["mean_s"]))
    console.print(table)


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
