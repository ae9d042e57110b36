"""Incidents as NENA EIDO JSON (NENA-STA-021), out to partners and in from them.

Outbound, an open incident becomes one EIDO in the shape of NENA's published schema
(schemas/eido/openapi.yaml, validated in tests): an incident component (its ``$id`` the
tracking id, type as our category, status, priority), a location component whose
``locationByValue`` is a PIDF-LO ``gml:Point`` (as EIDO carries locations), and the agency
component of the sending centre. Inbound, an EIDO from a partner (police, judiciary, another organization) becomes an
``OpenIncident`` command with the referral route (مسیر ارجاع) that the sending agency's type
names; anything we cannot read is refused with the field that is wrong, and nothing is stored.
"""

from __future__ import annotations

import json
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

# The sending agency's type (EIDO agencyType; agencyTypeCommonRegistryText in older documents) names the referral route.
ROUTE_BY_AGENCY_TYPE = {
    "law enforcement": ReferralRoute.POLICE, "police": ReferralRoute.POLICE,
    "judiciary": ReferralRoute.JUDICIARY, "court": ReferralRoute.JUDICIARY, "prosecutor": ReferralRoute.JUDICIARY,
}
PRIORITY_NUMBER = {"urgent": 1, "high": 2, "normal": 3, "low": 4}


def incident_eido(row: dict[str, Any], sent_at: str) -> dict[str, Any]:
    """One open incident row (projections/incidents.py) as an EIDO message.

    The shape is the published NENA schema's ``EmergencyIncidentDataObjectType`` (schemas/eido,
    SOURCES.md): every data component opens with the prologue (``$id``, ``lastUpdateTimeStamp``,
    ``updatedByAgencyReference``); the incident component is one object whose ``$id`` is the
    incident's globally unique tracking identifier.
    """
    loc, agency = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'location/' + row['id'])}", f"urn:eoc:agency:{AGENCY_ID}"
    message = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{row['id']}/{sent_at}"))
    by = {"lastUpdateTimeStamp": sent_at, "updatedByAgencyReference": {"$ref": agency}}
    return {
        "$id": message,
        **by,
        "eidoVersion": "1.0",
        "issuingElementIdentification": AGENCY_ID,
        "incidentComponent": {
            "$id": f"urn:uuid:{row['id']}",
            **by,
            "internalIncidentId": row["id"],
            "incidentTypeCommonRegistryText": f"{CATEGORY_URN}{row['category']}",
            "incidentTypeInternalCode": row["category"],
            "incidentStatusCommonRegistryText": ["Dispatched" if row.get("teams") else "Received"],
            "incidentCommonPriorityNumber": PRIORITY_NUMBER.get(row["priority"], 3),
            "incidentPriorityInternalText": row["priority"],
            "locationReference": [{"$ref": loc}],
        },
        "locationComponent": [{
            "$id": loc,
            **by,
            "locationTypeDescriptionRegistryText": "Incident",
            "locationByValue": PIDF_POINT.format(lat=row["location"]["lat"], lon=row["location"]["lon"]),
            "locationDescriptionText": f"{row['county']}, {row['province']}",
        }],
        "agencyComponent": [{
            "$id": agency,
            **by,
            "agencyType": ["Social Services"],
            "agencyRoleDescriptionRegistryText": ["Incident Owning Agency"],
            "incidentOwningAgencyIndicator": True,
            "agencyJcard": json.dumps(["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", AGENCY_NAME]]],
                                      ensure_ascii=False),
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
    kinds = agency.get("agencyType")
    kind = str(kinds[0] if isinstance(kinds, list) and kinds else agency.get("agencyTypeCommonRegistryText", ""))
    kind = kind.strip().lower()
    route = ROUTE_BY_AGENCY_TYPE.get(kind, ReferralRoute.OTHER_ORGANIZATION)
    text = str(incident.get("incidentTypeCommonRegistryText", ""))
    category = text.removeprefix(CATEGORY_URN)
    if category not in {str(c) for c in CallCategory}:
        category = str(CallCategory.OTHER)
    number = incident.get("incidentCommonPriorityNumber", incident.get("incidentPriority"))
    priority = {v: k for k, v in PRIORITY_NUMBER.items()}.get(number, str(Priority.HIGH)) \
        if isinstance(number, int) else str(Priority.HIGH)
    match = _POS.search(str(location.get("locationByValue", "")))
    if match is None:
        raise InvalidCommand("locationComponent.locationByValue needs a gml:pos with latitude and longitude",
                      field="locationComponent.locationByValue")
    described = location.get("locationDescriptionText", location.get("civicAddressText", ""))
    where = county or str(described).split(",")[0].strip()
    if not where:
        raise InvalidCommand("the referral names no county (locationDescriptionText)",
                             field="locationComponent.locationDescriptionText")
    try:
        return OpenIncident(province=province, county=where, route=route, category=category, priority=priority,
                            location={"lat": float(match.group(1)), "lon": float(match.group(2))})
    except ValidationError as exc:  # a field out of range: a position outside Iran, a county too long
        first = exc.errors()[0]
        raise InvalidCommand(f"the referral cannot become an incident: {first['msg']}",
                             field=".".join(str(p) for p in first.get("loc", ()))) from None
