"""A light in-memory index of teams, for position reports (telemetry).

A position report is checked like a command — the team exists, is of the caller's province,
is the caller's own team for a team's account — and is stamped with the team's county,
version and whether it is on a drill. Loading the team aggregate from the event store for
each report made telemetry cost a store read per report (one per report, ten a second per
team). The index keeps what a report needs of each team (``TeamCard``), loaded from the
aggregate the first time the team reports, and forgets a team's card as soon as the boards
show a change of the team (the follower's or the board topic's listeners: a team row changed,
``team/<id>`` or ``drill/team/<id>``): the next report loads it again. So a card is never
older than the boards' view of the team, and at most ``max_age_s`` old (belt and braces: a
board feed that stopped). Each card's age limit is drawn between half ``max_age_s`` and all of
it: the cards loaded together (a gateway's first batches, all its teams at once) are then loaded
again over half a minute, not all in the same second — at 10,000 reports a second that second
held a thousand team loads, and every gateway's request waited behind them.

Without a board feed (``follow`` never called) nothing is kept: every report loads the team,
exactly as before.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

TEAM_ROW_PREFIXES = ("team/", "drill/team/")  # the boards' team rows (projections/teams.py)
POSITION_ROW_PREFIXES = ("position/", "drill/position/")  # the map's rows of the teams
MAX_AGE_S = 60.0


@dataclass(frozen=True, slots=True)
class TeamCard:
    """What a position report needs of its team."""

    id: str
    province: str
    county: str
    on_drill: bool
    version: int


def card_of(team: Any) -> TeamCard:
    """A team aggregate's card (eoc.domain.Team)."""
    return TeamCard(str(team.id), team.province, team.county, bool(team.on_drill), int(team.version))


class TeamIndex:
    """Teams' cards by id; see the module's docstring."""

    def __init__(self, max_age_s: float = MAX_AGE_S, clock: Callable[[], float] = time.monotonic,
                 draw: Callable[[], float] = random.random) -> None:
        self.max_age_s = max_age_s
        self.clock = clock
        self.draw = draw  # in [0, 1): where between half the age and all of it a card is let go
        self.fed = False  # a board feed forgets changed teams: only then are cards kept
        self.loads = 0
        self._cards: dict[str, tuple[TeamCard, float]] = {}  # the card, and until when it is kept
        self._positions: dict[str, dict[str, Any]] = {}  # each team's newest position on the map
        self._epoch = 0  # moved by every forgetting: a card loaded across one is not kept
        self._lock = threading.Lock()

    def follow(self, listeners: list[Any]) -> TeamIndex:
        """Keep cards, forgetting a team's whenever a board listened to shows it changed."""
        listeners.append(self.changed)
        self.fed = True
        return self

    def card(self, team_id: str, load: Callable[[], TeamCard]) -> TeamCard:
        """The team's card: kept, or ``load()``-ed (which raises for an unknown team)."""
        now = self.clock()
        if self.fed:
            kept = self._cards.get(team_id)
            if kept is not None and now < kept[1]:
                return kept[0]
        epoch = self._epoch
        card = load()
        self.loads += 1
        if self.fed:
            with self._lock:
                if self._epoch == epoch:  # no team changed while it was loaded
                    self._cards[team_id] = (card, self._until(now))
        return card

    def prefetch(self, team_ids: Iterable[str], load_many: Callable[[list[str]], list[TeamCard]]) -> None:
        """Keep the cards of the teams among these that have none, loaded together by
        ``load_many`` (a gateway's batch brings many teams at once: one trip to the store for
        all of them, not one each). What ``load_many`` leaves out is loaded one by one later."""
        if not self.fed:
            return
        now = self.clock()
        missing = [t for t in dict.fromkeys(team_ids)
                   if (kept := self._cards.get(t)) is None or now >= kept[1]]
        if not missing:
            return
        epoch = self._epoch
        cards = load_many(missing)
        self.loads += len(cards)
        with self._lock:
            if self._epoch == epoch:  # no team changed while they were loaded
                for card in cards:
                    self._cards[card.id] = (card, self._until(now))

    def _until(self, now: float) -> float:
        return now + self.max_age_s * (0.5 + 0.5 * self.draw())

    def position(self, team_id: str) -> dict[str, Any] | None:
        """The team's newest position on the map (``{"lat", "lon", "at"}``), as the boards
        showed it; None before any (or without a board feed)."""
        return self._positions.get(team_id)

    def moments(self) -> dict[str, str]:
        """Each team's newest position's moment noted (the thinning's start after a restart)."""
        return {team: p["at"] for team, p in self._positions.items()}

    def note_positions(self, rows: Mapping[str, Any]) -> None:
        """Note the map's positions among these board rows."""
        for key, row in rows.items():
            if key.startswith(POSITION_ROW_PREFIXES) and isinstance(row, dict) and "lat" in row and "at" in row:
                team = key.rsplit("/", 1)[1]
                old = self._positions.get(team)
                if old is None or row["at"] >= old["at"]:
                    self._positions[team] = {"lat": row["lat"], "lon": row["lon"], "at": row["at"]}

    def changed(self, _sequence: int, changes: Mapping[str, Any]) -> None:
        """A board listener: forget the teams whose rows changed; note the map's positions."""
        self.note_positions(changes)
        teams = [key.rsplit("/", 1)[1] for key in changes if key.startswith(TEAM_ROW_PREFIXES)]
        if not teams:
            return
        with self._lock:
            self._epoch += 1
            for team in teams:
                self._cards.pop(team, None)

    def forget_all(self) -> None:
        with self._lock:
            self._epoch += 1
            self._cards.clear()
