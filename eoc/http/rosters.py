"""The roster command over HTTP (برنامه نوبت‌کاری): a provincial supervisor sets one county's
shift pattern. Its own module, so that the command API's table of endpoints stays focused."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI

from eoc.app import commands as c
from eoc.app.auth import Claims
from eoc.app.system import System
from eoc.http.answers import RosterSet


def add_roster_routes(api: FastAPI, system: System, claims: Callable[..., Awaitable[Claims]]) -> None:
    Who = Annotated[Claims, Depends(claims)]

    @api.post("/api/v1/rosters", tags=["teams"], response_model=RosterSet)
    def set_roster(cmd: c.SetRoster, who: Who) -> dict[str, Any]:
        """Which shifts run in a county and with how many teams (``county: "*"`` for every county
        without a pattern of its own). A shift started outside the roster is refused (409)."""
        return system.service.set_roster(cmd, who)
