"""The bounded position track (مسیر موقعیت): the team positions the boards showed, kept so
that a replay shows them again.

Position reports are telemetry: tablets send one every second or so, and keeping all of them
in the aggregates' streams would grow the audit history without bound. So the map takes every
report it can show, and history keeps a bounded part of them (DESIGN: "keep the latest
position and a bounded history"):

* every status change and safety check-in carries the team's position in the event store
  (those are events, replayed like any other);
* of the position reports, at most one per team per ``THIN_S`` (30) seconds of the time the
  report was taken is *kept* (``Thinning.keep``): the first report of a team, then the first
  one 30 s or more after the last one kept;
* the others are *shown* (``Thinning.show``): the live map (موقعیت زنده) moves with them, at
  most once per team per ``SHOW_S`` (a quarter second) of report time, and of a batch only
  each team's newest report is shown (the older ones are past before they could be). A shown
  report goes to the boards (and in a cluster to Kafka) but not to the track: a replay does
  not show it again. The position row keeps the last *kept* point beside it (``kept``), so
  ``eoc diff --with-telemetry`` compares what history holds, exactly;
* the rest (repeats, older than what was shown, more than four a second) go nowhere.

A kept report is appended to the track (``PositionTrack``, a table of its own: ``track.sqlite``
in the data directory, or ``position_track`` in PostgreSQL beside the store) and gets the
track's sequence number as its ``position``; only then is it folded into the boards, under the
follower's lock, so the boards' ``as-of/<province>`` rows name the last track point folded
(``telemetry``) as they name the last log position. A replay folds the track with the log —
to those marks for a snapshot — and gives the positions the live map had
(``eoc diff --with-telemetry``).

Size (``python -m bench.track``; BENCHMARKS.md, docs/telemetry.md): a point is its envelope
as JSON, about 550 bytes; a team reporting all day keeps at most 2,880 points, about 1.5 MB
of JSON and 1.9 MB of SQLite (rows, index, pages) per team per day — a team on two
eight-hour shifts about two thirds of that.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from eoc.app.users import _Db
from events.envelope import Envelope, parse_iso

THIN_S = 30.0  # at most one kept position report per team per this many seconds
SHOW_S = 0.25  # at most one shown (not kept) position report per team per this many seconds
INSERT_ROWS = 500  # rows of one INSERT statement (6 parameters each: within SQLite's and psycopg's limits)
TRACK_LOCK = 0x7472_6163  # PostgreSQL advisory lock: one appender takes its places at a time ("trac")

SQLITE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS position_track (seq INTEGER PRIMARY KEY AUTOINCREMENT, team TEXT NOT NULL, "
    "province TEXT NOT NULL, occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, envelope TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS position_track_team ON position_track (team, occurred_at)",
)
PG_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS position_track (seq BIGSERIAL PRIMARY KEY, team TEXT NOT NULL, "
    "province TEXT NOT NULL, occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, envelope TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS position_track_team ON position_track (team, occurred_at)",
)


class Thinning:
    """Decides what becomes of a position report: kept (the track and the map), shown (the map
    only) or neither. At most one kept per team per ``every``, one shown per ``show_every``."""

    def __init__(self, every_s: float = THIN_S, last: dict[str, str] | None = None,
                 show_s: float = SHOW_S, shown: dict[str, str] | None = None) -> None:
        """``last``: each team's last kept report (the track's); ``shown``: the map's newest
        position of each team (the boards'), when the process starts again."""
        self.every = timedelta(seconds=every_s)
        self.show_every = timedelta(seconds=show_s)
        self._last: dict[str, datetime] = {t: parse_iso(at) for t, at in (last or {}).items()}
        self._shown: dict[str, datetime] = dict(self._last)  # each team's newest position on the map
        for team, at in (shown or {}).items():
            moment = parse_iso(at)
            if team not in self._shown or moment > self._shown[team]:
                self._shown[team] = moment
        self._lock = threading.Lock()

    def keep(self, team_id: str, occurred_at: str) -> bool:
        at = parse_iso(occurred_at)
        with self._lock:
            if not _first_after(self._last, team_id, at, self.every):
                return False
            shown = self._shown.get(team_id)
            if shown is None or at > shown:
                self._shown[team_id] = at
            return True

    def show(self, team_id: str, occurred_at: str) -> bool:
        """A report not kept: True if the map is to move with it — newer than the team's
        position on the map by at least ``show_every``."""
        at = parse_iso(occurred_at)
        with self._lock:
            return _first_after(self._shown, team_id, at, self.show_every)


def _first_after(marks: dict[str, datetime], team_id: str, at: datetime, gap: timedelta) -> bool:
    """True (and ``at`` marked) if ``at`` is ``gap`` or more after the team's mark, or it has none."""
    last = marks.get(team_id)
    if last is not None and at < last + gap:
        return False
    marks[team_id] = at
    return True


class PositionTrack:
    """The kept position reports, in the order they were kept (``seq``)."""

    def __init__(self, *, path: Path | None = None, dsn: str | None = None) -> None:

        self._db = _Db(path=path, dsn=dsn)
        self._db.create(PG_SCHEMA if self._db.pg else SQLITE_SCHEMA)  # one process at a time

    def close(self) -> None:
        self._db.close()

    def append(self, envelope: Envelope) -> Envelope:
        """Keep one report; the envelope back with its place in the track as ``position``."""
        return self.append_many([envelope])[0]

    def append_many(self, envelopes: list[Envelope]) -> list[Envelope]:
        """Keep these reports, in this order, in one transaction (a batch of reports); the
        envelopes back with their places in the track.

        The places are taken first, in one statement, and the rows written with their
        envelopes in a few multi-row inserts: a row used to cost two round trips (insert, then
        the envelope that names its place), which on PostgreSQL made a gateway's batch of a
        thousand new teams hold the track for most of a second."""
        if not envelopes:
            return []
        with self._db.tx() as q:
            first = self._places(q, len(envelopes))
            kept = [replace(envelope, position=first + i) for i, envelope in enumerate(envelopes)]
            for start in range(0, len(kept), INSERT_ROWS):
                chunk = kept[start:start + INSERT_ROWS]
                q("INSERT INTO position_track (seq, team, province, occurred_at, recorded_at, envelope) VALUES "
                  + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk)),
                  [value for point in chunk for value in (point.position, point.aggregate_id, point.province,
                                                          point.occurred_at, point.recorded_at,
                                                          point.to_json().decode())])
        return kept

    def _places(self, q: Any, n: int) -> int:
        """The first of ``n`` consecutive places in the track, taken inside the transaction."""
        if self._db.pg:
            # The serial's sequence moves by n at once under a transaction-scoped lock, so the
            # places are consecutive even with several API processes appending.
            q("SELECT pg_advisory_xact_lock(?)", (TRACK_LOCK,))
            rows = q("SELECT setval(pg_get_serial_sequence('position_track', 'seq'), "
                     "nextval(pg_get_serial_sequence('position_track', 'seq')) + ? - 1)", (n,))
            return int(rows[0][0]) - n + 1
        # SQLite: the writer holds the database (BEGIN IMMEDIATE); AUTOINCREMENT never gives a
        # place twice, so the next is past both the rows and the table's sequence.
        rows = q("SELECT MAX(m) FROM (SELECT MAX(seq) AS m FROM position_track UNION ALL "
                 "SELECT seq FROM sqlite_sequence WHERE name = 'position_track')")
        return int(rows[0][0] or 0) + 1

    def last_kept(self) -> dict[str, str]:
        """Each team's latest kept report time (the thinning goes on from there after a restart)."""
        with self._db.tx() as q:
            return {str(t): str(at) for t, at in q("SELECT team, MAX(occurred_at) FROM position_track GROUP BY team")}

    def head(self) -> int:
        with self._db.tx() as q:
            rows = q("SELECT MAX(seq) FROM position_track")
        return int(rows[0][0] or 0)

    def points(self, *, after: int = 0, until_seq: int | None = None, batch: int = 5000) -> Iterator[Envelope]:
        """The kept reports after ``after``, in track order."""
        position = after
        while True:
            sql, params = "SELECT seq, envelope FROM position_track WHERE seq > ?", [position]
            if until_seq is not None:
                sql += " AND seq <= ?"
                params.append(until_seq)
            with self._db.tx() as q:
                rows = q(sql + " ORDER BY seq LIMIT ?", (*params, batch))
            for seq, text in rows:
                yield Envelope.from_json(text)
                position = int(seq)
            if len(rows) < batch:
                return

    def size(self) -> dict[str, Any]:
        """Rows, teams and bytes of JSON kept (bench/track.py reports it per team per day)."""
        with self._db.tx() as q:
            rows, teams, text = q("SELECT COUNT(*), COUNT(DISTINCT team), "
                                  "COALESCE(SUM(LENGTH(envelope) + LENGTH(team) + LENGTH(province) + "
                                  "LENGTH(occurred_at) + LENGTH(recorded_at)), 0) FROM position_track")[0]
        return {"points": int(rows), "teams": int(teams), "bytes": int(text)}
