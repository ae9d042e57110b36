"""Incidents as NENA EIDO JSON (NENA-STA-021), out to partners and in from them.

Outbound, an open incident becomes one EIDO: an incident component (tracking id, type as
our category, status, priority), a location component whose ``locationByValue`` is a
PIDF-LO ``gml:Point`` (as EIDO carries locations), and the agency component of the sending
centre. Inbound, an EIDO from a partner (police, judiciary, another organization) becomes an
``OpenIncident`` command with the referral route (مسیر ارجاع) that the sending agency's type
names; anything we cannot read is refused with the field that is wrong, and nothing is stored.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import ValidationError

from eoc.app.commands import OpenIncident
from eoc.domain.errors import InvalidCommand
from events.vocabulary import CallCategory, Priority, ReferralRoute

AGENCY_ID = "ir.behzisti.eoc"  # the sending system (سامانه اورژانس اجتماعی بهزیستی)
AGENCY_NAME = "Social Emergency 123, State Welfare Organization of Iran (اورژانس اجتماعی بهزیستی)"
CATEGORY_URN = "urn:ir:behzisti:eoc:category:"
PIDF_POINT = ('<gml:Point xmlns:gml="http://www.opengis.net/gml" srsName="urn:ogc:def:crs:EPSG::4326">'
              '<gml:pos>{lat} {lon}</gml:pos></gml:Point>')
_POS = re.compile(r"<(?:\w+:)?pos>\s*(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)\s*</(?:\w+:)?pos>")

# The sending agency's type (EIDO agencyTypeCommonRegistryText) names the referral route.
ROUTE_BY_AGENCY_TYPE = {
    "law enforcement": ReferralRoute.POLICE, "police": ReferralRoute.POLICE,
    "judiciary": ReferralRoute.JUDICIARY, "court": ReferralRoute.JUDICIARY, "prosecutor": ReferralRoute.JUDICIARY,
}
PRIORITY_NUMBER = {"urgent": 1, "high": 2, "normal": 3, "low": 4}


def incident_eido(row: dict[str, Any], sent_at: str) -> dict[str, Any]:
    """One open incident row (projections/incidents.py) as an EIDO message."""
    inc, loc, agency = f"inc-{row['id']}", f"loc-{row['id']}", f"agency-{AGENCY_ID}"
    message = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{row['id']}/{sent_at}"))
    return {
        "$id": message,
        "eidoMessageIdentifier": message,
        "sendingSystemIdentifier": AGENCY_ID,
        "lastUpdateTimeStamp": sent_at,
        "incidentComponent": [{
            "componentIdentifier": inc,
            "incidentTrackingIdentifier": f"urn:uuid:{row['id']}",
            "lastUpdateTimeStamp": sent_at,
            "incidentCreationTimeStamp": row["opened_at"],
            "incidentTypeCommonRegistryText": f"{CATEGORY_URN}{row['category']}",
            "incidentStatusCommonRegistryText": "Dispatched" if row.get("teams") else "Received",
            "incidentPriority": PRIORITY_NUMBER.get(row["priority"], 3),
            "locationReference": {"$ref": loc},
            "updatedByAgencyReference": {"$ref": agency},
        }],
        "locationComponent": [{
            "$id": loc,
            "locationByValue": PIDF_POINT.format(lat=row["location"]["lat"], lon=row["location"]["lon"]),
            "civicAddressText": f"{row['county']}, {row['province']}",
        }],
        "agencyComponent": [{
            "$id": agency,
            "agencyIdentifier": AGENCY_ID,
            "agencyName": AGENCY_NAME,
            "agencyTypeCommonRegistryText": "Social Services",
        }],
    }


def feed(rows: dict[str, Any], sent_at: str) -> list[dict[str, Any]]:
    """Every open incident among ``rows`` (already filtered for the reader) as EIDO."""
    return [incident_eido(r, sent_at) for k, r in sorted(rows.items()) if k.startswith("incident/")]


def _component(doc: dict[str, Any], name: str) -> dict[str, Any]:
    items = doc.get(name)
    if isinstance(items, dict):
        return items
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise InvalidCommand(f"an EIDO referral needs {name}", field=name)
    return items[0]


def referral_command(doc: Any, province: str, county: str | None = None) -> OpenIncident:
    """An inbound EIDO referral as the command that opens our incident for it."""
    if not isinstance(doc, dict):
        raise InvalidCommand("an EIDO referral is a JSON object", field="body")
    incident = _component(doc, "incidentComponent")
    agency = _component(doc, "agencyComponent")
    location = _component(doc, "locationComponent")
    kind = str(agency.get("agencyTypeCommonRegistryText", "")).strip().lower()
    route = ROUTE_BY_AGENCY_TYPE.get(kind, ReferralRoute.OTHER_ORGANIZATION)
    text = str(incident.get("incidentTypeCommonRegistryText", ""))
    category = text.removeprefix(CATEGORY_URN)
    if category not in {str(c) for c in CallCategory}:
        category = str(CallCategory.OTHER)
    number = incident.get("incidentPriority")
    priority = {v: k for k, v in PRIORITY_NUMBER.items()}.get(number, str(Priority.HIGH)) \
        if isinstance(number, int) else str(Priority.HIGH)
    match = _POS.search(str(location.get("locationByValue", "")))
    if match is None:
        raise InvalidCommand("locationComponent.locationByValue needs a gml:pos with latitude and longitude",
                      field="locationComponent.locationByValue")
    where = county or str(location.get("civicAddressText", "")).split(",")[0].strip()
    if not where:
        raise InvalidCommand("the referral names no county (civicAddressText)", field="locationComponent.civicAddressText")
    try:
        return OpenIncident(province=province, county=where, route=route, category=category, priority=priority,
                            location={"lat": float(match.group(1)), "lon": float(match.group(2))})
    except ValidationError as exc:  # a field out of range: a position outside Iran, a county too long
        first = exc.errors()[0]
        raise InvalidCommand(f"the referral cannot become an incident: {first['msg']}",
                             field=".".join(str(p) for p in first.get("loc", ()))) from None
