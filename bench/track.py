"""The bounded position track's size per team per day (eoc/app/track.py).

One team reports its position every second for 24 hours (86,400 reports, the tablets'
fastest setting); the thinning keeps at most one per 30 s, and the kept points are written to
a fresh SQLite track as the embedded system writes them. Printed: points kept, bytes of
JSON, and the database file's size (data, index and page overhead) per team per day.

    python -m bench.track [--teams N] [--every-s S]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from eoc.app.track import PositionTrack, Thinning
from events.catalogue import TeamPositionReported
from events.envelope import Envelope, iso


def measure(teams: int = 1, every_s: float = 1.0) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "track.sqlite"
        track, thinning = PositionTrack(path=path), Thinning()
        start = datetime(2026, 11, 23, tzinfo=UTC)
        ids = [str(uuid.uuid4()) for _ in range(teams)]
        reports = int(86_400 / every_s)
        for i in range(reports):
            at = iso(start + timedelta(seconds=i * every_s))
            for n, team in enumerate(ids):
                if not thinning.keep(team, at):
                    continue
                payload = TeamPositionReported(position={"lat": 36.27 + i * 1e-6, "lon": 50.0 + n * 1e-4},
                                               speed_kmh=40.0, heading=90.0)
                track.append(Envelope(type=payload.TYPE, version=payload.VERSION, id=str(uuid.uuid4()),
                                      aggregate_id=team, aggregate_version=3, occurred_at=at, recorded_at=at,
                                      province="QZV", county="Qazvin",
                                      actor={"role": "team", "user": "U-0123456789abcdef"}, exercise=False,
                                      payload=payload.to_json()))
        size = track.size()
        track.close()
        on_disk = sum(f.stat().st_size for f in Path(tmp).iterdir())
    return {"teams": teams, "reports_per_team": reports, "points_per_team_per_day": size["points"] / teams,
            "json_bytes_per_point": round(size["bytes"] / size["points"], 1),
            "json_kb_per_team_per_day": round(size["bytes"] / teams / 1024, 1),
            "sqlite_kb_per_team_per_day": round(on_disk / teams / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=1)
    parser.add_argument("--every-s", type=float, default=1.0, help="seconds between a team's reports")
    args = parser.parse_args()
    print(json.dumps(measure(args.teams, args.every_s), indent=1))


if __name__ == "__main__":
    main()
