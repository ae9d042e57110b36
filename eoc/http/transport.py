"""Transport: security headers on every answer (eoc/http/guards.py adds them), and TLS for the
API and the bridge.

The headers keep the dashboard's page to itself (a CSP allowing only its own scripts,
styles, fonts and the bridge's websocket; no framing), stop content sniffing and referrers,
and keep board reads and sign-in answers out of every cache (``no-store``).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'; object-src 'none'")
# The OpenAPI page (/docs) runs one inline script to start Swagger UI.
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
}


def headers_for(path: str, tls: bool = False) -> dict[str, str]:
    out = dict(HEADERS)
    out["Content-Security-Policy"] = DOCS_CSP if path.startswith(("/docs", "/redoc")) else CSP
    if path == "/work.html":  # the mobile team's workspace reports its position from the browser (same origin only)
        out["Permissions-Policy"] = "geolocation=(self), camera=(), microphone=()"
    if path.startswith("/api/") or path.endswith(".json"):
        out["Cache-Control"] = "no-store"  # boards, users, tokens: never kept by a browser or proxy
    if tls:
        out["Strict-Transport-Security"] = "max-age=31536000"
    return out


def extra_headers(scope: Any) -> list[tuple[bytes, bytes]]:
    """``headers_for`` an HTTP request's path, as an answer's raw headers."""
    return [(name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers_for(scope["path"], scope.get("scheme") == "https").items()]


def with_headers(message: Any, extra: list[tuple[bytes, bytes]]) -> Any:
    """An answer's start with the ``extra`` headers it does not name itself."""
    given = {name.lower() for name, _ in message.get("headers", ())}
    missing = [(name, value) for name, value in extra if name not in given]
    return {**message, "headers": [*message.get("headers", ()), *missing]} if missing else message


def server_ssl(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """A TLS context for a server from certificate and key files (None: plain)."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ValueError("TLS needs both EOC_TLS_CERT and EOC_TLS_KEY")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    return ctx
