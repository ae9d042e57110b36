"""The API's documentation page (/docs), served wholly by the system itself.

FastAPI's default /docs loads Swagger UI from a CDN, which leaves an operator on a network
without internet (an EOC room, a provincial office) with a blank page. Here the page takes
its script, style and icon from the ``swagger-ui-bundle-v2`` package (Swagger UI 5, which
reads OpenAPI 3.1; Apache-2.0), mounted under /docs/assets. /redoc, CDN-only, is off.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"


def mount_docs(api: FastAPI) -> None:
    """Serve /docs and its assets (create the app with ``docs_url=None, redoc_url=None``)."""
    api.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=api.openapi_url or "/openapi.json",
            title=f"{api.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
