"""The dashboard's files: served beside the API and by the standalone bridge, fully offline,
with map data that agrees with the province list the rest of the system uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from events.places import PROVINCES
from events.vocabulary import vocabulary
from tests.support.page_files import page_modules
from ui_bridge.loop_thread import LoopThread
from ui_bridge.server import STATIC, mount_dashboard, start_bridge

# The page, the modules its script (app.js) imports, its style and its base layers.
PAGE_FILES = ["index.html", *(str(p.relative_to(STATIC)) for p in page_modules("index.html")), "style.css",
              "basemap/iran.json"]
# Installed from the npm registry by scripts/install (git-ignored), loaded by the page.
VENDOR_FILES = ["vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css",
                "vendor/markercluster/leaflet.markercluster.js", "vendor/markercluster/MarkerCluster.css"]


@pytest.fixture
def store() -> str:
    return "sqlite"


def test_the_page_fetches_nothing_from_outside():
    assert {"app.js", "i18n.js", "geo.js", "session.js", "map.js"} <= set(PAGE_FILES)
    for name in PAGE_FILES:
        text = (STATIC / name).read_text()
        # The SVG namespace is a name, not an address the browser fetches.
        outside = [u for u in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text)
                   if "www.w3.org/2000/svg" not in u]
        assert not outside, f"{name} refers to {outside}"
    css = (STATIC / "style.css").read_text()
    for url in re.findall(r"url\(\"?([^\")]+)", css):
        assert (STATIC / url).is_file(), f"style.css needs {url}, which is not shipped"
    html = (STATIC / "index.html").read_text()
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        if src.startswith("data:"):
            continue  # inline (the empty favicon, so the browser does not ask for one)
        assert (STATIC / src).is_file(), f"index.html needs {src}, which is not shipped"
    assert 'dir="rtl"' in html and 'lang="fa"' in html


def _geo() -> dict[str, dict]:
    text = (STATIC / "geo.js").read_text()
    provinces = {}
    for code, body in re.findall(r"^\s+([A-Z]{3}): \{(.*)\},$", text, re.M):
        provinces[code] = json.loads("{" + re.sub(r"(\w+):", r'"\1":', body) + "}")
    return provinces


def test_the_map_data_agrees_with_the_province_list():
    # Province names in the page agree with events/places.py; where the capitals fall on the
    # shipped borders is test_map_base_layers_are_shipped_small_and_agree_with_the_provinces.
    provinces = _geo()
    assert set(provinces) == set(PROVINCES)
    for code, p in PROVINCES.items():
        js = provinces[code]
        assert (js["fa"], js["en"], js["capital"], js["lat"], js["lon"]) == (p.name_fa, p.name, p.capital, p.lat, p.lon)


def test_mount_dashboard_serves_the_page_beside_the_api(system):
    from eoc.http.api import create_api

    api = create_api(system)
    mount_dashboard(api, bridge_port=9124)
    http = TestClient(api)
    page = http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "app.js" in page.text
    for name in PAGE_FILES + VENDOR_FILES + ["fonts/Vazirmatn-wght.woff2"]:
        assert http.get(f"/{name}").status_code == 200, name
    words = http.get("/words.js")  # words.json, served as the module the pages import
    assert words.headers["content-type"].startswith("text/javascript")
    assert words.text.startswith("export default {") and words.text.rstrip().endswith("};")
    served = json.loads(words.text.removeprefix("export default ").rstrip().removesuffix(";"))
    # words.json, and the service's vocabulary from events/vocabulary.py (one vocabulary everywhere)
    assert served == {**json.loads((STATIC / "words.json").read_text(encoding="utf-8")), "vocabulary": vocabulary()}
    assert served["vocabulary"]["spouse_abuse"] == ["همسرآزاری", "Spouse abuse"]
    assert http.get("/work/words.js").text.startswith("export default {")
    assert http.get("/dashboard/counties.json").json()["QZV/takestan"] == "تاکستان"
    assert http.get("/dashboard/config.json").json() == {"bridge_port": 9124, "bridge_path": "/"}
    assert http.get("/health").json()["status"] == "ok"  # the API's routes still win
    assert http.get("/api/v1/boards").status_code == 401


def test_the_standalone_bridge_serves_the_page_on_its_own_port(system):
    from ui_bridge.feed import FollowerFeed

    loop = LoopThread()
    try:
        handle = loop.run(start_bridge(FollowerFeed(system.follower), system.signer, None,
                                       host="127.0.0.1", port=0, serve_page=True))
        base = f"http://127.0.0.1:{handle.port}"
        page = httpx.get(base + "/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert httpx.get(base + "/app.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))
        # The words are a data module: the browser takes it only as JavaScript.
        words = httpx.get(base + "/words.js")
        assert words.headers["content-type"].startswith("text/javascript") and words.text.startswith("export default {")
        assert httpx.get(base + "/dashboard/config.json").json() == {"bridge_port": handle.port, "bridge_path": "/"}
        assert httpx.get(base + "/dashboard/counties.json").json()["QZV/takestan"] == "تاکستان"
        assert httpx.get(base + "/basemap/iran.json").status_code == 200
        assert httpx.get(base + "/../pyproject.toml").status_code == 404
        assert httpx.get(base + "/%2e%2e/server.py").status_code == 404
        assert httpx.get(base + "/nothing-here.js").status_code == 404
        from tests.support.bridge import Dashboard

        dash = Dashboard(handle, system.signer.issue("national_eoc", "IR"))
        assert dash.frame()["type"] == "snapshot"  # and the websocket still answers on the same port
        dash.close()
        loop.run(handle.stop())
    finally:
        loop.close()


def test_the_standalone_bridge_sends_people_to_the_apis_sign_in(system):
    """``eoc bridge`` answers no POST (a websocket server): its pages send the browser to the
    API's same page, with a message in Persian and English, where people sign in."""
    from ui_bridge.feed import FollowerFeed

    loop = LoopThread()
    try:
        handle = loop.run(start_bridge(FollowerFeed(system.follower), system.signer, None, host="127.0.0.1",
                                       port=0, serve_page=True, api_url="https://eoc.example.ir/"))
        base = f"http://127.0.0.1:{handle.port}"
        for path in ("/", "/signin.html", "/work.html"):
            r = httpx.get(base + path)
            assert r.status_code == 302, path
            assert r.headers["location"] == "https://eoc.example.ir" + path
            assert "Sign in" in r.text and "ورود" in r.text and 'href="https://eoc.example.ir' in r.text
            assert r.headers["x-content-type-options"] == "nosniff"
        assert httpx.get(base + "/signin.html?lang=en").headers["location"].endswith("/signin.html?lang=en")
        assert httpx.get(base + "/app.js").status_code == 200  # the page's own files stay here
        loop.run(handle.stop())
        # Without EOC_API_URL: the bridge's own host name on the API's port.
        handle = loop.run(start_bridge(FollowerFeed(system.follower), system.signer, None, host="127.0.0.1",
                                       port=0, serve_page=True, api_port=8123))
        r = httpx.get(f"http://127.0.0.1:{handle.port}/signin.html")
        assert r.status_code == 302 and r.headers["location"] == "http://127.0.0.1:8123/signin.html"
        loop.run(handle.stop())
    finally:
        loop.close()


def test_static_files_are_package_data():
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"static/*"' in text and '"static/**/*"' in text
