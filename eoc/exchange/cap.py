"""Alerts as OASIS CAP 1.2 XML: emerging harms, a team's missed safety check-in (duress), a centre full.

One CAP message per alert row (projections/alerts.py, projections/emerging.py). Scope is
``Restricted`` (partner organizations, not the public); the area names the province and
county, never a place: an alert about a secret house never reaches this module (policy.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from events.jalali import IRST
from events.vocabulary import PERSIAN

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
SENDER = "eoc@behzisti.ir"
ET.register_namespace("", CAP_NS)

# kind -> (CAP category, event, urgency, severity, certainty, English headline)
KINDS = {
    "emerging_harm": ("Health", "Emerging social harm", "Expected", "Moderate", "Likely",
                      "Emerging social harm: {category} rising in {county}, {province}"),
    "check_in_missed": ("Safety", "Staff safety check-in missed", "Immediate", "Severe", "Possible",
                        "A mobile team missed its safety check-in in {county}, {province}"),
    "centre_full": ("Health", "Crisis centre near capacity", "Expected", "Minor", "Observed",
                    "A crisis intervention centre in {county}, {province} is {occupied}/{capacity} full"),
}


def _cap_time(moment: str) -> str:
    """CAP wants local time with an explicit offset and no fraction (its sent pattern)."""
    return datetime.fromisoformat(moment).astimezone(IRST).isoformat(timespec="seconds")


def _el(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{CAP_NS}}}{name}")
    if text is not None:
        el.text = text
    return el


def identifier(key: str, row: dict[str, Any]) -> str:
    since = row.get("since") or row.get("day") or ""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{key}/{since}')}"


def cap_alert(key: str, row: dict[str, Any], sent_at: str, *, exercise: bool = False) -> bytes:
    """The CAP 1.2 document of one alert row."""
    category, event, urgency, severity, certainty, headline = KINDS[row["kind"]]
    county = row.get("county") or ""
    words = {"category": row.get("category", ""), "county": "the whole province" if county == "*" else county,
             "province": row["province"], "occupied": row.get("occupied"), "capacity": row.get("capacity")}
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _el(alert, "identifier", identifier(key, row))
    _el(alert, "sender", SENDER)
    _el(alert, "sent", _cap_time(sent_at))
    _el(alert, "status", "Exercise" if exercise else "Actual")
    _el(alert, "msgType", "Alert")
    _el(alert, "scope", "Restricted")
    _el(alert, "restriction", "Partner organizations of the social emergency service only")
    for lang, title in (("fa-IR", PERSIAN.get(row["kind"], event)), ("en-US", headline.format(**words))):
        info = _el(alert, "info")
        _el(info, "language", lang)
        _el(info, "category", category)
        _el(info, "event", event if lang == "en-US" else title)
        _el(info, "urgency", urgency)
        _el(info, "severity", severity)
        _el(info, "certainty", certainty)
        code = _el(info, "eventCode")
        _el(code, "valueName", "ir.behzisti.eoc.alert")
        _el(code, "value", row["kind"])
        _el(info, "effective", _cap_time(row.get("since_at") or sent_at))
        _el(info, "senderName", "مرکز عملیات اضطراری اورژانس اجتماعی · Social emergency EOC")
        _el(info, "headline", title if lang == "fa-IR" else headline.format(**words))
        if row["kind"] == "emerging_harm":
            _el(info, "description",
                f"{PERSIAN.get(row['category'], row['category'])}: observed {row['observed']} in {row['window_days']} "
                f"day(s), expected {row['expected']} (p = {row['p_value']}, model {row['model']}), since {row['since']}")
            if row.get("chart"):
                _el(info, "web", row["chart"])
            for name in ("observed", "expected", "p_value", "window_days", "threshold"):
                param = _el(info, "parameter")
                _el(param, "valueName", name)
                _el(param, "value", str(row[name]))
        area = _el(info, "area")
        _el(area, "areaDesc", f"{words['county']}, {row['province']}" if county else row["province"])
        geocode = _el(area, "geocode")
        _el(geocode, "valueName", "ir.province")
        _el(geocode, "value", row["province"])
    return ET.tostring(alert, encoding="utf-8", xml_declaration=True)


def alert_rows(rows: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in sorted(rows.items()) if k.startswith("alert/") and v.get("kind") in KINDS}
