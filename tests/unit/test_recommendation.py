"""The team recommendation: a pure query over the boards (distance, skills, exclusions, shift)."""

from __future__ import annotations

from projections.recommend import haversine_km, needed_skills, recommend

NOW = "2026-11-23T08:00:00.000Z"
SCENE = {"lat": 36.27, "lon": 50.00}


def _team(tid, lat, lon, *, status="available", shift="morning", crew=2, skills=(), ref=None):
    return {f"team/{tid}": {"id": tid, "ref": ref or f"QZV-T{tid}", "name": tid, "province": "QZV",
                            "county": "Qazvin", "status": status, "shift": None if status == "off_duty" else shift,
                            "crew": crew if status != "off_duty" else 0, "skills": list(skills),
                            "home": {"lat": lat, "lon": lon}, "incident_id": None}}


def _board(*teams, category="family_dispute", risk=(), conflicts=None):
    rows = {"incident/I1": {"id": "I1", "ref": "QZV-0001", "province": "QZV", "county": "Qazvin",
                            "category": category, "priority": "urgent", "risk_flags": list(risk),
                            "location": SCENE, "opened_at": NOW, "teams": [], "conflicts": conflicts or {}}}
    for t in teams:
        rows.update(t)
    return rows


def _order(result):
    return [t["team_id"] for t in result["teams"]]


def test_haversine_distance_between_qazvin_and_tehran():
    # Qazvin (36.27, 50.00) to Tehran (35.69, 51.39): about 140 km in a straight line.
    assert 135 < haversine_km({"lat": 36.27, "lon": 50.0}, {"lat": 35.69, "lon": 51.39}) < 145
    assert haversine_km(SCENE, SCENE) == 0


def test_recommendation_ranks_available_teams_by_distance():
    rows = _board(_team("far", 36.40, 50.20), _team("near", 36.28, 50.01), _team("mid", 36.32, 50.05))
    result = recommend(rows, "I1", NOW)
    assert _order(result) == ["near", "mid", "far"]
    assert [t["rank"] for t in result["teams"]] == [1, 2, 3]
    near = result["teams"][0]
    assert near["eligible"] and near["distance_km"] < 2
    distance = [r for r in near["reasons"] if r["code"] == "distance"][0]
    assert distance["km"] == round(near["distance_km"], 2) and distance["eta_min"] > 0


def test_recommendation_uses_the_last_reported_position_over_home():
    rows = _board(_team("a", 36.28, 50.01), _team("b", 36.60, 50.60))
    rows["position/b"] = {"team_id": "b", "province": "QZV", "lat": 36.2701, "lon": 50.0001, "at": NOW}
    assert _order(recommend(rows, "I1", NOW))[0] == "b"


def test_recommendation_puts_teams_with_the_needed_skill_first():
    rows = _board(_team("near_no_woman", 36.271, 50.001, skills=["social_worker"]),
                  _team("far_woman", 36.40, 50.30, skills=["woman_social_worker", "social_worker"]),
                  category="runaway")
    result = recommend(rows, "I1", NOW)
    assert result["needs"] == ["woman_social_worker"]
    assert _order(result) == ["far_woman", "near_no_woman"]
    lacks = result["teams"][1]
    assert {"code": "missing_skill", "skill": "woman_social_worker"} in lacks["reasons"]
    assert lacks["eligible"]  # it may still go, ranked after


def test_suicide_risk_needs_a_psychologist_whatever_the_category():
    incident = {"category": "family_dispute", "risk_flags": ["suicide_risk"]}
    assert needed_skills(incident) == ["psychologist"]
    assert needed_skills({"category": "spouse_abuse", "risk_flags": []}) == ["woman_social_worker"]
    rows = _board(_team("plain", 36.271, 50.001), _team("psy", 36.35, 50.1, skills=["psychologist"]),
                  risk=["suicide_risk"])
    assert _order(recommend(rows, "I1", NOW)) == ["psy", "plain"]


def test_a_team_with_a_recorded_conflict_with_the_family_is_excluded_with_its_reason():
    rows = _board(_team("cousin", 36.2701, 50.0001), _team("other", 36.35, 50.1),
                  conflicts={"cousin": "the team's social worker is the family's cousin"})
    result = recommend(rows, "I1", NOW)
    assert _order(result) == ["other", "cousin"]
    excluded = result["teams"][1]
    assert not excluded["eligible"]
    assert {"code": "conflict", "reason": "the team's social worker is the family's cousin"} in excluded["reasons"]


def test_off_shift_busy_and_single_person_teams_are_not_eligible():
    rows = _board(_team("off", 36.2701, 50.0001, status="off_duty"),
                  _team("busy", 36.2702, 50.0002, status="en_route"),
                  _team("alone", 36.2703, 50.0003, crew=1),
                  _team("ok", 36.50, 50.40))
    result = recommend(rows, "I1", NOW)
    assert _order(result)[0] == "ok"
    by_id = {t["team_id"]: t for t in result["teams"]}
    assert [r["code"] for r in by_id["off"]["reasons"]][0] == "off_duty"
    assert by_id["busy"]["reasons"][0] == {"code": "busy", "status": "en_route", "incident_id": None}
    assert {"code": "crew_too_small", "crew": 1, "needed": 2} in by_id["alone"]["reasons"]
    assert not any(by_id[t]["eligible"] for t in ("off", "busy", "alone"))
    assert {"code": "on_shift", "shift": "morning"} in by_id["ok"]["reasons"]


def test_only_teams_of_the_incidents_province_are_ranked_and_a_closed_incident_has_none():
    rows = _board(_team("q", 36.28, 50.01))
    rows["team/alb"] = {**rows["team/q"], "id": "alb", "province": "ALB"}
    assert _order(recommend(rows, "I1", NOW)) == ["q"]
    assert recommend(rows, "closed-one", NOW) == {"incident_id": "closed-one", "open": False, "teams": [],
                                                   "needs": [], "danger": []}


def test_the_recommendation_shows_danger_flags_in_force_at_the_scene():
    rows = _board(_team("q", 36.28, 50.01))
    rows["danger/F1"] = {"id": "F1", "province": "QZV", "county": "Qazvin", "kinds": ["dog"], "location": SCENE,
                         "radius_m": 100, "person": None, "incident_id": None, "note": None,
                         "expires_at": "2026-12-01T00:00:00.000Z", "review_at": "2026-11-30T00:00:00.000Z",
                         "recorded_at": "2026-11-01T00:00:00.000Z"}
    assert [f["id"] for f in recommend(rows, "I1", NOW)["danger"]] == ["F1"]
    assert recommend(rows, "I1", "2026-12-01T00:00:00.000Z")["danger"] == []
