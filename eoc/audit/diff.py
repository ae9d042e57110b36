"""Comparing boards: a replay against the live boards at the same log position.

Rows are compared field by field, nested fields by their dotted path, so a difference reads
as ``team/… status: 'available' → 'dispatched'`` (live → replay) rather than as two blobs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from projections.board import DRILL
from projections.teams import kept_position

_MISSING = object()


@dataclass
class Difference:
    key: str
    kind: str  # only_live | only_replay | changed
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)  # (path, live, replay)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind,
                "changes": [{"field": p, "live": _plain(a), "replay": _plain(b)} for p, a, b in self.changes]}


def _plain(value: Any) -> Any:
    return None if value is _MISSING else value


def without_telemetry(rows: dict[str, Any]) -> dict[str, Any]:
    """Team positions come from telemetry (and from status changes): only the live side has the
    former, so positions are left out of a comparison unless asked for."""
    return {k: v for k, v in rows.items() if not k.removeprefix(DRILL).startswith("position/")}


def kept_positions(rows: dict[str, Any]) -> dict[str, Any]:
    """The rows with each team's position as history holds it: its last point kept in the
    position track. The live map may be ahead of it by reports it only showed (eoc/app/track.py),
    which no replay shows again; a team with no kept point yet has no row."""
    out = {}
    for k, v in rows.items():
        if k.removeprefix(DRILL).startswith("position/") and isinstance(v, dict):
            v = kept_position(v)
            if v is None:
                continue
        out[k] = v
    return out


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k in value:
            _flatten(value[k], f"{path}.{k}" if path else str(k), out)
    else:
        out[path] = value


def diff_rows(live: dict[str, Any], replayed: dict[str, Any]) -> list[Difference]:
    out: list[Difference] = []
    for key in sorted(set(live) | set(replayed)):
        a, b = live.get(key, _MISSING), replayed.get(key, _MISSING)
        if a is _MISSING:
            out.append(Difference(key, "only_replay", [("", _MISSING, b)]))
        elif b is _MISSING:
            out.append(Difference(key, "only_live", [("", a, _MISSING)]))
        elif a != b:
            fa: dict[str, Any] = {}
            fb: dict[str, Any] = {}
            _flatten(a, "", fa)
            _flatten(b, "", fb)
            changes = [(p, fa.get(p, _MISSING), fb.get(p, _MISSING))
                       for p in sorted(set(fa) | set(fb)) if fa.get(p, _MISSING) != fb.get(p, _MISSING)]
            out.append(Difference(key, "changed", changes))
    return out


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "…"


def describe(differences: list[Difference], *, limit: int = 50) -> list[str]:
    """Readable lines: which keys, which fields, live → replay."""
    lines = []
    for d in differences[:limit]:
        if d.kind == "only_live":
            lines.append(f"- {d.key}: on the live boards, not in the replay: {_show(d.changes[0][1])}")
        elif d.kind == "only_replay":
            lines.append(f"+ {d.key}: in the replay, not on the live boards: {_show(d.changes[0][2])}")
        else:
            lines.append(f"~ {d.key}:")
            for path, a, b in d.changes:
                lines.append(f"    {path or '(row)'}: {_show(a)} → {_show(b)}")
    if len(differences) > limit:
        lines.append(f"… and {len(differences) - limit} more rows differ")
    return lines
