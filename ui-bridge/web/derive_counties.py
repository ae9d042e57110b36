"""Derive the dashboard's county (شهرستان) borders (ui-bridge/static/basemap/counties.json).

Run by hand when the source changes (the output is committed; SOURCES.md names the source
and its licence); the dashboard and the tests read only the output:

    python3 -m venv .venv-basemap && .venv-basemap/bin/pip install 'shapely==2.*'
    git clone <the public repository hosseinhabibi2004/iran-geojson> /tmp/iran-geojson
    .venv-basemap/bin/python ui-bridge/web/derive_counties.py /tmp/iran-geojson/data/counties

Input: one GeoJSON per province, ``IR-NN/IR-NN.all.min.geojson`` (ISO 3166-2:IR code), of the
OpenStreetMap relations ``boundary=administrative admin_level=5`` inside that province, as
fetched from OpenStreetMap by that repository (data © OpenStreetMap contributors, ODbL 1.0).
Output: per county its Persian and English name (the word شهرستان / County dropped), the
system's province code and its border, simplified together (shared borders stay shared) to
about 0.01° (≈1 km) and rounded to 3 decimals, so the file loads in well under a second.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "ui-bridge" / "static" / "basemap" / "counties.json"

# ISO 3166-2:IR -> the system's province codes (events/places.py).
ISO = ["MKZ", "GIL", "MZN", "EAZ", "WAZ", "KSH", "KHZ", "FRS", "KRN", "KHR", "ESF", "SBL", "KRD", "HMD",
       "CHB", "LRS", "ILM", "KBA", "BSH", "ZNJ", "SMN", "YZD", "HRZ", "THR", "ARD", "QOM", "QZV", "GLS",
       "KHN", "KHS", "ALB"]


def clean(name: str, word: str) -> str:
    name = name.strip()
    for w in (word + " ", " " + word):
        name = name.replace(w, "")
    return name.strip()


def main() -> None:
    src = Path(sys.argv[1])
    base = json.loads((ROOT / "ui-bridge" / "static" / "basemap" / "iran.json").read_text(encoding="utf-8"))
    provinces = {f["properties"]["code"]: shape(f["geometry"]) for f in base["provinces"]["features"]}
    rows, shapes = [], []
    seen = set()
    for n, code in enumerate(ISO):
        path = next(iter(sorted(src.glob(f"IR-{n:02d}*.geojson"))), None) or src / f"IR-{n:02d}" / f"IR-{n:02d}.all.min.geojson"
        for f in json.loads(path.read_text(encoding="utf-8"))["features"]:
            tags = f["properties"].get("tags", f["properties"])
            if f["geometry"]["type"] not in ("Polygon", "MultiPolygon") or str(tags.get("admin_level")) != "5":
                continue
            fa = clean(tags.get("name:fa") or tags.get("name", ""), "شهرستان")
            en = clean(tags.get("name:en") or fa, "County")
            osm = f["properties"].get("id") or (fa, en)
            if osm in seen:  # a county on a province's edge is listed by both provinces
                continue
            seen.add(osm)
            geom = shapely.make_valid(shape(f["geometry"]))
            # The province is the one holding the county's inside point (Natural Earth's shapes).
            inside = geom.point_on_surface()
            home = next((c for c, p in provinces.items() if p.contains(inside)), None)
            home = home or min(provinces, key=lambda c: provinces[c].distance(inside))
            rows.append({"province": home, "fa": fa, "en": en})
            shapes.append(geom)
    simple = shapely.coverage_simplify(shapes, tolerance=0.015)
    feats = []
    for row, g in zip(rows, simple):
        g = shapely.set_precision(g, 0.001)
        if g.is_empty:
            continue
        feats.append({"type": "Feature", "properties": row, "geometry": mapping(g)})
    out = {"about": "County (شهرستان) borders: OpenStreetMap admin_level 5 (© OpenStreetMap contributors, ODbL 1.0),"
                    " via the public repository hosseinhabibi2004/iran-geojson; simplified to ≈1 km.",
           "type": "FeatureCollection", "features": feats}
    OUT.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"{len(feats)} counties in {len({r['province'] for r in rows})} provinces, {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
