"""When a fact happened, as a command may state it (ثبت با تأخیر: a late entry).

Paper records and entries made after a network outage are entered later than they happened;
their command names the moment (``occurred_at``), and the system keeps both times: the fact's
``occurred_at`` and its own ``recorded_at``. Boards and reports count by ``occurred_at``.

The rules: nothing in the future (beyond a small skew between clocks); nothing older than
the late-entry window unless a provincial supervisor enters it (an old entry changes
figures that may already have been reported); and nothing before the previous fact of the
same record (checked by the aggregate, ``EOCAggregate.record``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from eoc.domain.errors import LateEntryTooOld, OccurredInFuture
from events.envelope import iso
from events.vocabulary import Role

FUTURE_SKEW = timedelta(minutes=2)  # clocks of tablets and desks may run a little ahead
DEFAULT_LATE_WINDOW = timedelta(hours=24)
# Who may enter a fact older than the window.
OLD_ENTRY_ROLES = frozenset({Role.PROVINCIAL_SUPERVISOR})


def occurred_time(requested: datetime | None, now: datetime, role: Role,
                  window: timedelta = DEFAULT_LATE_WINDOW) -> datetime:
    """The moment a fact is recorded as having happened: ``requested``, checked, or ``now``."""
    if requested is None:
        return now
    if requested > now + FUTURE_SKEW:
        raise OccurredInFuture(
            f"occurred_at {iso(requested)} is in the future (now {iso(now)}); check the device clock",
            occurred_at=iso(requested), now=iso(now))
    if now - requested > window and role not in OLD_ENTRY_ROLES:
        hours = window.total_seconds() / 3600
        raise LateEntryTooOld(
            f"an entry older than {hours:g} hours may be made only by a provincial supervisor "
            f"(occurred_at {iso(requested)})",
            occurred_at=iso(requested), window_hours=hours)
    return min(requested, now)
