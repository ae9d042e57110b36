"""Calls per hour (تماس در هر ساعت): the hourly figures, read off the key-figures rows.

Every runner folds the key figures (projections/figures.py): the row of each live day of a
province holds its real classified calls by local hour and category
(``calls_by_hour_category``; drill calls go to ``drill/`` rows). The hourly figures are those
cells, one record each, so the embedded follower, the Faust worker and the auditor's replay
give the same ones: ``hourly_figures(rows)`` over any of their boards. The worker publishes
the cells a batch changed (``hourly_changes``) on ``eoc.figures.hourly``.

A record's hour is a local hour of Iran Standard Time written as a UTC window: a local hour
begins at half past a UTC hour (UTC+03:30). A call recorded late (ثبت با تأخیر) counts in the
hour it came in, like on the board; a day that has left the live board keeps no hour detail
(projections/period_figures.py), so it has no hourly records.

Key: ``<province>/<category>/<window start>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypedDict

from events.envelope import iso
from events.jalali import IRST
from projections.board import Board

__all__ = ["LIVE_FIGURES", "BatchBoard", "HourlyCalls", "hourly_changes", "hourly_figures", "hourly_of_row", "window"]

LIVE_FIGURES = "figures/"  # real (not drill/), live (not period-figures/) day rows


class HourlyCalls(TypedDict):
    province: str
    category: str
    window_start: str  # UTC ISO
    window_end: str
    calls: int


@lru_cache(maxsize=4096)
def window(day: str, hour: str) -> tuple[str, str]:
    """The UTC window of a local hour (``day`` YYYY-MM-DD, ``hour`` HH, Iran Standard Time)."""
    start = datetime.fromisoformat(f"{day}T{hour}:00:00").replace(tzinfo=IRST).astimezone(UTC)
    return iso(start), iso(start + timedelta(hours=1))


def hourly_of_row(row: Mapping[str, Any]) -> dict[str, HourlyCalls]:
    """The hourly records of one live figures row."""
    province, day = row["province"], row["day"]
    records: dict[str, HourlyCalls] = {}
    for hour, categories in row.get("calls_by_hour_category", {}).items():
        start, end = window(day, hour)
        for category, calls in categories.items():
            records[f"{province}/{category}/{start}"] = HourlyCalls(
                province=province, category=category, window_start=start, window_end=end, calls=calls)
    return records


def hourly_figures(rows: Mapping[str, Any]) -> dict[str, HourlyCalls]:
    """Every hourly record of a board (any runner's rows)."""
    records: dict[str, HourlyCalls] = {}
    for key, row in rows.items():
        if key.startswith(LIVE_FIGURES) and row is not None:
            records.update(hourly_of_row(row))
    return records


def hourly_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, HourlyCalls]:
    """The hourly records that ``after`` (changed rows: key → new row or None) changes, given
    the rows as they were (``before``: key → old row or None; a missing key was absent)."""
    records: dict[str, HourlyCalls] = {}
    for key, row in after.items():
        if row is None or not key.startswith(LIVE_FIGURES):
            continue
        old_row = before.get(key)
        old = hourly_of_row(old_row) if old_row is not None else {}
        for record_key, record in hourly_of_row(row).items():
            if old.get(record_key) != record:
                records[record_key] = record
    return records


class BatchBoard(Board):
    """A partition's board for one batch that also keeps each live figures row as it was
    before the batch, so that the batch's hourly figures are the cells it changed."""

    __slots__ = ("before",)

    def __init__(self, rows: Any) -> None:
        super().__init__(rows)
        self.before: dict[str, Any] = {}

    def put(self, key: str, row: Any) -> None:
        if key.startswith(LIVE_FIGURES) and key not in self.before:
            self.before[key] = self.rows.get(key)
        super().put(key, row)
