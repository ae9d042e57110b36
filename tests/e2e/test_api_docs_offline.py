"""The API's documentation (/docs) works on a network without internet.

Swagger UI's script, style and icon come from a Python package and are served by the system
itself; the Chromium test blocks every request that leaves 127.0.0.1 and still sees every
operation of the OpenAPI document listed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.served import served

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture
def store() -> str:
    return "sqlite"


@pytest.fixture
def live(system: Any) -> Iterator[str]:
    with served(system) as base:
        yield base


def operations(openapi: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in openapi["paths"].items() for method in item}


def test_api_docs_page_names_only_its_own_assets(live: str) -> None:
    page = httpx.get(f"{live}/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/openapi.json"} <= set(urls)
    assert not [u for u in urls if "//" in u], urls  # nothing from another host
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        r = httpx.get(f"{live}/docs/assets/{asset}")
        assert r.status_code == 200 and len(r.content) > 500, asset
    assert httpx.get(f"{live}/redoc").status_code == 404  # ReDoc would load from a CDN


@pytest.mark.browser
def test_api_docs_offline_in_chromium(live: str) -> None:
    if not os.path.exists(CHROMIUM):
        message = "Debian's chromium is missing: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    expected = operations(httpx.get(f"{live}/openapi.json").json())
    blocked: list[str] = []

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:  # what a network without internet would do to it
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_loopback)
            page.goto(f"{live}/docs")
            page.wait_for_selector(".opblock-summary", timeout=15_000)
            shown = set()
            for block in page.locator(".opblock-summary").all():
                method = block.locator(".opblock-summary-method").inner_text().strip().upper()
                path = block.locator(".opblock-summary-path").get_attribute("data-path")
                shown.add((method, path))
            title = page.locator(".information-container .title").inner_text()
        finally:
            browser.close()
    assert shown == expected
    assert ("POST", "/api/v1/calls") in shown
    assert "اورژانس اجتماعی" in title
    assert blocked == []
