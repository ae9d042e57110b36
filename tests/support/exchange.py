"""The published exchange schemas (CAP, EIDO, EDXL-HAVE) that exports are checked against."""

from __future__ import annotations

from importlib import resources

import jsonschema
import yaml
from lxml import etree
from referencing import Registry

SCHEMAS = resources.files("eoc.exchange") / "schemas"


def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.fromstring((SCHEMAS / "CAP-v1.2.xsd").read_bytes()))


def eido_validator() -> jsonschema.Draft202012Validator:
    """NENA's published EIDO schema (NENA-STA-021, OpenAPI 3 components; SOURCES.md), rooted at
    EmergencyIncidentDataObjectType. Its NIEM component files are not shipped: a document that
    reaches one fails loudly instead of passing unchecked."""
    doc = yaml.safe_load((SCHEMAS / "eido" / "openapi.yaml").read_text())

    def not_shipped(uri: str):
        raise LookupError(f"the EIDO schema refers to {uri}, a NIEM component not shipped")

    root = {**doc, "$ref": "#/components/schemas/EmergencyIncidentDataObjectType"}
    return jsonschema.Draft202012Validator(root, registry=Registry(retrieve=not_shipped))


def have_schema() -> etree.XMLSchema:
    """The published OASIS EDXL-HAVE 1.0 XSD with the CIQ and GML schemas it imports (SOURCES.md)."""
    with resources.as_file(SCHEMAS / "edxl-have" / "1.0" / "edxl-have.xsd") as path:
        return etree.XMLSchema(etree.parse(str(path)))
