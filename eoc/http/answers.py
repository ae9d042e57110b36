"""What the HTTP API answers on success: one pydantic model per answer, named in OpenAPI.

Each model declares exactly the keys its handler returns today (the service's dicts in
eoc/app/service.py and eoc/app/workspace_service.py, the queries' dicts in the routers): an
undeclared key is refused (``extra="forbid"``) so a handler that grows a key fails in the
tests instead of losing it silently. Keys a handler gives only sometimes have a default and
the routes answer with ``response_model_exclude_unset=True``, so no key is ever added.
The board summary is typed through (projections/views.py, on the row types of
projections/rows.py); raw board rows and reports stay open objects (``dict``): their types are
the folds' (``SEEN_KINDS``, published in AsyncAPI as ``DashboardRow``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from projections import views
from projections.rosters import RosterLine


class Answer(BaseModel):
    """An answer with exactly these keys."""

    model_config = ConfigDict(extra="forbid")


# Routes whose answers have keys given only sometimes: nothing is added to what the handler gave.
ANSWER_AS_GIVEN: dict[str, Any] = {"response_model_exclude_unset": True}


# ---------------------------------------------------------------- commands (eoc.http.routes)


class Stored(Answer):
    position: int = Field(description="the event log position of the command's last event")


class CallStored(Stored):
    call_id: str


class CallReceived(CallStored):
    caller_id: str = Field(description="the caller's pseudonymous id (a known number finds its caller again)")


class CallTaken(CallReceived):
    incident_id: str | None = Field(None, description="the incident opened, when the call was escalated")


class CallEscalated(CallStored):
    incident_id: str


class IncidentStored(Stored):
    incident_id: str


class TeamRegistered(Stored):
    team_id: str


class TeamStored(TeamRegistered):
    status: str


class PositionReported(Answer):
    team_id: str
    reported_at: str
    kept: bool = Field(description="kept in the position track (at most one report per team per 30 s)")
    shown: bool = Field(description="the map moves with it (kept, or newer than the map's position "
                                    "by a quarter second; false: older, or a repeat)")


class PositionInBatch(BaseModel):
    """One report of a batch: as ``PositionReported``, or refused in the one error shape."""

    model_config = ConfigDict(extra="allow")  # a refusal's details (eoc/domain/errors.py)
    team_id: str
    reported_at: str | None = None
    kept: bool | None = Field(None, description="kept in the position track (at most one report per team per 30 s)")
    shown: bool | None = Field(None, description="the map moves with it (of a batch, a team's newest report only)")
    error: str | None = Field(None, description="this report was refused: a stable code, e.g. not_found")
    reason: str | None = None


class PositionsReported(Answer):
    reports: list[PositionInBatch] = Field(description="one answer per report, in the batch's order")
    kept: int = Field(description="reports kept in the position track (and shown on the map)")
    shown: int = Field(description="reports the map moved with, the kept ones included")
    refused: int = Field(description="reports refused (each answered with its error)")


class CentreRegistered(Stored):
    centre_id: str
    secret: bool


class CentreStored(Stored):
    centre_id: str
    occupied: int
    capacity: int


class ClientAdmitted(CentreStored):
    client_id: str
    admitted: bool


class HoldingStarted(CentreStored):
    holding_ends_at: str


class ClientDischarged(CentreStored):
    follow_up_ids: list[str] | None = Field(None, description="the call-backs scheduled, when any")


class PlaceHeld(CentreStored):
    hold_id: str
    until: str


class ClientTransferred(Stored):
    centre_id: str
    to_centre_id: str


class CallLinked(CallStored):
    incident_id: str


class DangerFlagStored(Stored):
    flag_id: str
    expires_at: str


class FollowUpsScheduled(Stored):
    follow_up_ids: list[str]


class FollowUpDone(Stored):
    follow_up_id: str


class RosterSet(Stored):
    roster_id: str
    province: str
    county: str
    shifts: dict[str, Any]


class ReferralOpened(IncidentStored):
    route: str
    category: str


# ---------------------------------------------------------------- reads


class Health(Answer):
    status: str
    store: str
    position: int


class Boards(Answer):
    sequence: int
    position: int
    as_of: dict[str, Any]
    rows: dict[str, Any]


class BoardSummary(Answer):
    """What the boards say now, for the viewer: the types of projections/views.py."""

    now: str
    drill: bool
    teams: list[views.TeamView]
    team_status: dict[str, int]
    incidents: list[views.IncidentView]
    centres: list[views.CentreView]
    occupancy: views.Occupancy
    figures: views.FiguresForDay
    rosters: list[RosterLine]
    alerts: list[views.AlertView]


class Report(Answer):
    """``eoc report --format json`` for the same period and province."""

    period: dict[str, Any]
    source: str
    events: int
    drill_events_excluded: int
    nation: dict[str, Any]
    by_province: list[dict[str, Any]]
    by_county: list[dict[str, Any]]
    by_category: list[dict[str, Any]]
    by_province_category: list[dict[str, Any]]
    cells: list[dict[str, Any]]
    key_figures_check: dict[str, Any]
