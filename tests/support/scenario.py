"""Small builders for tests: a province with a centre, a team on shift, a classified call."""

from __future__ import annotations

QZV = {"province": "QZV", "county": "Qazvin"}
IN_QAZVIN = {"lat": 36.27, "lon": 50.0}


def centre(api, capacity: int = 4, kind: str = "residential_level_1", **kw) -> str:
    body = {**QZV, "name": "Qazvin crisis centre", "kind": kind, "capacity": capacity,
            "location": IN_QAZVIN, **kw}
    return api.ok("/centres", body)["centre_id"]


def team(api, on_shift: bool = True, **kw) -> str:
    team_id = api.ok("/teams", {**QZV, "name": "QZV-1", "home": IN_QAZVIN, **kw})["team_id"]
    if on_shift:
        api.ok(f"/teams/{team_id}/shift/start", {"shift": "morning", "members": ["staff-1", "staff-2"]})
    return team_id


def classified_call(api, category: str = "spouse_abuse", priority: str = "urgent") -> str:
    call_id = api.ok("/calls", {**QZV, "caller": {"name": "—", "phone": "0912"}})["call_id"]
    api.ok(f"/calls/{call_id}/classify", {"category": category, "priority": priority})
    return call_id


def incident(api, priority: str = "urgent") -> str:
    call_id = classified_call(api, priority=priority)
    return api.ok(f"/calls/{call_id}/escalate", {"location": IN_QAZVIN})["incident_id"]
