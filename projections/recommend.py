"""Which team to send (پیشنهاد گروه): a pure query over the boards, ranked with reasons.

For an open incident, every team of its province is ranked:

1. teams that may go — on shift and available, a crew of at least two (the two-person rule
   of home visits), no recorded conflict with the family, no duress alarm of their own —
   before teams that may not, each with the reason it may not;
2. among those that may go, the ones whose crew has every skill the case needs (a woman
   social worker for a runaway girl or spouse abuse, a psychologist for suicide risk)
   before the ones that lack one;
3. then by distance from the team's last position (its home when it never reported one),
   straight line (haversine) with an estimated drive at ``ROAD_FACTOR`` × the distance and
   ``SPEED_KMH``: there is no road graph yet, and the estimate says so.

Every rank carries its reasons as codes with values (``{"code": "missing_skill",
"skill": "psychologist"}``) that the workspace shows in the reader's language.
"""

from __future__ import annotations

import math
from typing import Any

from projections.workspace_views import active_danger_flags

EARTH_KM = 6371.0088
ROAD_FACTOR = 1.3  # roads are longer than the straight line
SPEED_KMH = 40.0  # an urban drive, lights and traffic included
TWO_PERSON = 2  # the smallest crew that goes to a home

# The skills a case needs, by category and by risk flag.
CATEGORY_SKILLS: dict[str, tuple[str, ...]] = {
    "runaway": ("woman_social_worker",),
    "spouse_abuse": ("woman_social_worker",),
    "suicide": ("psychologist",),
    "child_abuse": ("social_worker",),
    "child_maltreatment": ("social_worker",),
}
RISK_SKILLS: dict[str, tuple[str, ...]] = {"suicide_risk": ("psychologist",)}


def haversine_km(a: dict[str, float], b: dict[str, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(min(1.0, h)))


def needed_skills(incident: dict[str, Any]) -> list[str]:
    out = set(CATEGORY_SKILLS.get(incident["category"], ()))
    for flag in incident.get("risk_flags", []):
        out.update(RISK_SKILLS.get(flag, ()))
    return sorted(out)


def recommend(rows: dict[str, Any], incident_id: str, now: str) -> dict[str, Any]:
    """The ranked teams for this incident (``None`` rows if it is not open on these boards)."""
    ns = ""
    incident = rows.get(f"incident/{incident_id}")
    if incident is None:
        ns = "drill/"
        incident = rows.get(f"drill/incident/{incident_id}")
    if incident is None:
        return {"incident_id": incident_id, "open": False, "teams": [], "needs": [], "danger": []}
    needs = needed_skills(incident)
    conflicts = incident.get("conflicts", {})
    ranked = []
    for key, team in rows.items():
        if not key.startswith(f"{ns}team/") or team.get("province") != incident["province"]:
            continue
        ranked.append(_assess(rows, ns, team, incident, needs, conflicts))
    ranked.sort(key=lambda r: (not r["eligible"], len(r["missing"]), r["distance_km"], r["ref"] or r["team_id"]))
    for i, r in enumerate(ranked):
        r["rank"] = i + 1
    danger = active_danger_flags(rows, now, location=incident["location"], incident_id=incident_id,
                                 province=incident["province"])
    return {"incident_id": incident_id, "open": True, "needs": needs, "teams": ranked, "danger": danger,
            "estimate": {"road_factor": ROAD_FACTOR, "speed_kmh": SPEED_KMH, "road_graph": False}}


def _assess(rows: dict[str, Any], ns: str, team: dict[str, Any], incident: dict[str, Any],
            needs: list[str], conflicts: dict[str, str]) -> dict[str, Any]:
    tid = team["id"]
    pos = rows.get(f"{ns}position/{tid}") or rows.get(f"position/{tid}") or team.get("home")
    km = haversine_km(pos, incident["location"]) if pos else math.inf
    skills = set(team.get("skills") or [])
    missing = [s for s in needs if s not in skills]
    blockers: list[dict[str, Any]] = []
    if team["status"] == "off_duty":
        blockers.append({"code": "off_duty"})
    elif team["status"] != "available":
        blockers.append({"code": "busy", "status": team["status"], "incident_id": team.get("incident_id")})
    if tid in conflicts:
        blockers.append({"code": "conflict", "reason": conflicts[tid]})
    if team["status"] != "off_duty" and team.get("crew", 0) < TWO_PERSON:
        blockers.append({"code": "crew_too_small", "crew": team.get("crew", 0), "needed": TWO_PERSON})
    if team.get("duress"):
        blockers.append({"code": "duress"})
    reasons: list[dict[str, Any]] = list(blockers)
    if not blockers:
        reasons.append({"code": "on_shift", "shift": team.get("shift")})
    reasons += [{"code": "has_skill", "skill": s} for s in needs if s in skills]
    reasons += [{"code": "missing_skill", "skill": s} for s in missing]
    eta = None if math.isinf(km) else round(km * ROAD_FACTOR / SPEED_KMH * 60, 1)
    reasons.append({"code": "distance", "km": None if math.isinf(km) else round(km, 2), "eta_min": eta})
    return {"team_id": tid, "ref": team.get("ref"), "name": team.get("name"), "status": team["status"],
            "eligible": not blockers, "missing": missing, "distance_km": km if not math.isinf(km) else 1e9,
            "eta_min": eta, "reasons": reasons,
            "text": "; ".join(_text(r) for r in reasons)}


# A reason in words, from its fields; a code not here reads as itself ("duress").
_REASON_TEXTS = {
    "busy": "busy ({status})",
    "conflict": "excluded: conflict with the family ({reason})",
    "crew_too_small": "crew of {crew}: two-person rule",
    "has_skill": "has {skill}",
    "missing_skill": "lacks {skill}",
    "on_shift": "available, {shift} shift",
}


def _text(r: dict[str, Any]) -> str:
    code = r["code"]
    if code == "distance":
        return f"{r['km']} km (about {r['eta_min']} min by road, estimated)" if r["km"] is not None else "no position"
    if code in _REASON_TEXTS:
        return _REASON_TEXTS[code].format(**r)
    return str(code).replace("_", " ")
