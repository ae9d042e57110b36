"""The pages' modules as a browser finds them (tests/support/page_files.py): every import and
data file exists, and none needs a newer browser than the pages' modules do."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.page_files import catalogue, page_modules
from ui_bridge.server import STATIC

PAGES = sorted(p.name for p in STATIC.glob("*.html") if 'type="module"' in p.read_text())


def test_there_are_pages_with_modules():
    assert {"index.html", "work.html", "signin.html", "users.html"} <= set(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_every_file_a_page_loads_exists_and_the_words_are_among_them(page):
    files = page_modules(page)
    assert all(f.is_file() for f in files), [str(f) for f in files if not f.is_file()]
    assert STATIC / "words.json" in files  # imported by i18n.js as words.js: there before any page code runs
    assert catalogue("words.js")["words"]["title"][0] == "مرکز عملیات اضطراری اورژانس اجتماعی"


@pytest.mark.parametrize("page", PAGES)
def test_no_module_imports_json_as_a_module(page):
    """`import … with { type: "json" }` needs Chrome 123 / Firefox 138: a page using it would
    not load at all on an older browser of a night shift's desk. Data is served as a module (ui_bridge.server.data_module)."""
    for f in page_modules(page):
        if f.suffix == ".js":
            assert not re.search(r"^import\s[^;]*\swith\s*\{\s*type\s*:", f.read_text(), re.M), f"{f.name} imports JSON as a module"


def test_the_pages_vocabulary_is_the_services():
    """Every word of events/vocabulary.py reaches the pages in Persian and English, from there."""
    from events.vocabulary import ENGLISH, PERSIAN

    assert set(ENGLISH) == set(PERSIAN)
    words = catalogue("words.js")
    assert words["vocabulary"] == {k: [PERSIAN[k], ENGLISH[k]] for k in PERSIAN}
    assert "vocabulary" not in json.loads((STATIC / "words.json").read_text(encoding="utf-8"))  # not a copy
