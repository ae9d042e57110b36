"""Fixtures of the browser tests: Debian's Chromium, a page, the embedded system served for real
and its clock (tests/support/browser.py). The cluster tests have their own (e2e/cluster/conftest.py)."""

from tests.support.browser import browser, clock, embedded, page  # noqa: F401  (fixtures)
