"""Availability of crisis intervention centres as OASIS EDXL-HAVE 1.0 XML (HospitalStatus).

Validated in tests against the published OASIS XSD (schemas/edxl-have/1.0, see SOURCES.md).
Each open residential centre is a "hospital" of the standard with one bed type — places for
clients (جای پذیرش) — and its baseline (capacity) and available (free) counts; outpatient
centres and bases report their status only. Secret houses never appear (policy.py).
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from events.vocabulary import PERSIAN, RESIDENTIAL_KINDS

HAVE_NS = "urn:oasis:names:tc:emergency:EDXL:HAVE:1.0"
GML_NS = "http://www.opengis.net/gml"
XPIL_NS = "urn:oasis:names:tc:ciq:xpil:3"
XNL_NS = "urn:oasis:names:tc:ciq:xnl:3"
for prefix, ns in (("have", HAVE_NS), ("gml", GML_NS), ("xpil", XPIL_NS), ("xnl", XNL_NS)):
    ET.register_namespace(prefix, ns)

# The standard's BedType is a closed list of hospital beds; a crisis centre's places are none of
# them, so BedType is left out (it is optional) and the places are named in the capacity's comment.
PLACES_COMMENT = "CrisisInterventionPlaces: places for clients (جای پذیرش)"


def _el(parent: ET.Element, ns: str, name: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        el.text = text
    return el


def have_status(rows: dict[str, Any], sent_at: str) -> bytes:
    """Every centre row among ``rows`` (already filtered for the reader) in one HospitalStatus."""
    root = ET.Element(f"{{{HAVE_NS}}}HospitalStatus")
    for key, row in sorted(rows.items()):
        if not key.startswith("centre/") or row.get("secret"):
            continue
        hospital = _el(root, HAVE_NS, "Hospital")
        org = _el(hospital, HAVE_NS, "Organization")
        # OrganizationInformation is an xPIL OrganisationDetailsType (CIQ 3.0), in its order:
        # the name (xNL), the identifier, then the organisation's type.
        info = _el(org, HAVE_NS, "OrganizationInformation")
        name = _el(info, XNL_NS, "OrganisationName")
        _el(name, XNL_NS, "NameElement", row["name"])
        ids = _el(_el(info, XPIL_NS, "Identifiers"), XPIL_NS, "Identifier")
        element = _el(ids, XPIL_NS, "IdentifierElement", f"urn:uuid:{row['id']}")
        element.set(f"{{{XPIL_NS}}}Type", "Identifier")
        _el(info, XPIL_NS, "OrganisationInfo").set(f"{{{XPIL_NS}}}Type", row["kind"])
        if row.get("location"):
            geo = _el(org, HAVE_NS, "OrganizationGeoLocation")
            point = _el(geo, GML_NS, "Point")
            _el(point, GML_NS, "pos", f"{row['location']['lat']} {row['location']['lon']}")
        _el(org, HAVE_NS, "CommentText", f"{PERSIAN.get(row['kind'], row['kind'])}; {row['county']}, {row['province']}")
        if row["kind"] in {str(k) for k in RESIDENTIAL_KINDS}:
            beds = _el(hospital, HAVE_NS, "HospitalBedCapacityStatus")
            bed = _el(beds, HAVE_NS, "BedCapacity")
            cap = _el(bed, HAVE_NS, "Capacity")
            free = max(0, row["capacity"] - row["occupied"]) if row["open"] else 0
            _el(cap, HAVE_NS, "CapacityStatus", "Vacant/Available" if free else "NotAvailable")
            _el(cap, HAVE_NS, "AvailableCount", str(free))
            _el(cap, HAVE_NS, "BaselineCount", str(row["capacity"]))
            _el(bed, HAVE_NS, "CommentText", PLACES_COMMENT)
        status = _el(hospital, HAVE_NS, "HospitalFacilityStatus")
        _el(status, HAVE_NS, "FacilityStatus", "Normal" if row["open"] else "Closed")
        _el(hospital, HAVE_NS, "LastUpdateTime", sent_at)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
