"""Secret places (a safe house, a health house) and their clients, registered through the API."""

from __future__ import annotations

from typing import Any

from tests.support.scenario import IN_QAZVIN, QZV

SAFE_AT = {"lat": 36.123456, "lon": 50.654321}
HEALTH_AT = {"lat": 36.234567, "lon": 49.876543}
SAFE_NAME = "Khaneh-Omid-QZV-7731"
HEALTH_NAME = "Khaneh-Salamat-QZV-4412"
CLIENTS = ("CL-HELD-7f3a9c", "CL-DIRECT-2b8e41", "CL-THIRD-91d0aa", "CL-DRILL-55c3e7")
PERSONAL = "Maryam-Testi-0912"


def secret_history(api) -> dict[str, Any]:
    """Houses registered, clients admitted, held, transferred, a house full, a drill admission."""
    centre = api.ok("/centres", {**QZV, "name": "Qazvin crisis centre", "kind": "residential_level_1",
                                 "capacity": 10, "location": IN_QAZVIN})["centre_id"]
    safe = api.ok("/centres", {**QZV, "name": SAFE_NAME, "kind": "safe_house", "capacity": 2,
                               "location": SAFE_AT})["centre_id"]
    health = api.ok("/centres", {**QZV, "name": HEALTH_NAME, "kind": "health_house", "capacity": 3,
                                 "location": HEALTH_AT})["centre_id"]
    staff = {"role": "centre_staff"}
    held, direct, third, drill = CLIENTS
    api.ok(f"/centres/{centre}/admissions", {"route": "line_123", "client_id": held,
                                             "client": {"name": PERSONAL, "age": 24}}, **staff)
    api.ok(f"/centres/{centre}/holding", {"client_id": held, "days": 15, "destination_kind": "safe_house"}, **staff)
    api.ok(f"/centres/{centre}/transfers", {"client_id": held, "to_centre_id": safe,  # before the holding ends:
                                            "override_reason": "the supervisor moves her at once"})  # an override
    api.ok(f"/centres/{health}/admissions", {"route": "police", "client_id": direct}, **staff)
    api.ok(f"/centres/{safe}/admissions", {"route": "judiciary", "client_id": third}, **staff)  # 2 of 2: alert
    api.ok(f"/centres/{health}/admissions", {"route": "self", "client_id": drill, "exercise": True}, **staff)
    return {"centre": centre, "safe": safe, "health": health}
