"""Availability of crisis intervention centres as OASIS EDXL-HAVE 1.0 XML (HospitalStatus).

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

BED_TYPE = "CrisisInterventionPlaces"


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
        info = _el(org, HAVE_NS, "OrganizationInformation")
        name = _el(info, XPIL_NS, "OrganisationName")
        _el(name, XNL_NS, "NameElement", row["name"])
        _el(name, XNL_NS, "NameElement", PERSIAN.get(row["kind"], row["kind"]))
        _el(info, HAVE_NS, "OrganizationTypeText", row["kind"])
        _el(info, HAVE_NS, "OrganizationIdentifier", f"urn:uuid:{row['id']}")
        _el(info, HAVE_NS, "OrganizationAreaText", f"{row['county']}, {row['province']}")
        if row.get("location"):
            geo = _el(org, HAVE_NS, "OrganizationGeoLocation")
            point = _el(geo, GML_NS, "Point")
            _el(point, GML_NS, "pos", f"{row['location']['lat']} {row['location']['lon']}")
        if row["kind"] in {str(k) for k in RESIDENTIAL_KINDS}:
            beds = _el(hospital, HAVE_NS, "HospitalBedCapacityStatus")
            bed = _el(beds, HAVE_NS, "BedCapacity")
            _el(bed, HAVE_NS, "BedType", BED_TYPE)
            cap = _el(bed, HAVE_NS, "Capacity")
            free = max(0, row["capacity"] - row["occupied"]) if row["open"] else 0
            _el(cap, HAVE_NS, "CapacityStatus", "VacantAvailable" if free else "NotAvailable")
            _el(cap, HAVE_NS, "AvailableCount", str(free))
            _el(cap, HAVE_NS, "BaselineCount", str(row["capacity"]))
        status = _el(hospital, HAVE_NS, "HospitalFacilityStatus")
        _el(status, HAVE_NS, "FacilityStatus", "Normal" if row["open"] else "Closed")
        _el(hospital, HAVE_NS, "LastUpdateTime", sent_at)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
