"""The HTTP edge (لبه HTTP): FastAPI routers that turn requests into commands and queries of
the application, one error shape for every refusal, limits before parsing, security headers."""
