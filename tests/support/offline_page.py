"""A browser page that may reach only this machine: anything else is refused and fails the test,
as does an error the page raises (the dashboard and workspaces ship every asset themselves)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")


@contextlib.contextmanager
def offline_page(browser: Any, **context_options: Any) -> Iterator[Any]:
    context = browser.new_context(**context_options)
    outside: list[str] = []

    def only_loopback(route: Any) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
    finally:
        context.close()
    assert not outside, f"the page asked for outside resources: {outside}"
    assert not errors, f"the page raised: {errors}"
