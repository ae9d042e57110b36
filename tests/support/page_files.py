"""What a page of ui-bridge/static loads: its scripts as the browser finds them — the classic
ones of the page, its module script and every module that one imports, and what they import as
data (the words' catalogues)."""

from __future__ import annotations

import re
from pathlib import Path

from ui_bridge.server import STATIC

SCRIPT = re.compile(r'<script(?P<module> type="module")? src="(?P<src>[^"]+)"></script>')
# A static import of the page's own files: `import { x } from "./x.js";`, `import "./x.js";`,
# `import words from "./words.json" with { type: "json" };`.
IMPORT = re.compile(r'^import\s(?:[^"]*\sfrom\s)?"(?P<spec>[^"]+)"', re.M)


def page_modules(html: str) -> list[Path]:
    """The files the page's module script brings in, itself first, each once (in STATIC)."""
    page = (STATIC / html).read_text()
    todo = [STATIC / m["src"] for m in SCRIPT.finditer(page) if m["module"]]
    seen: list[Path] = []
    while todo:
        path = todo.pop(0).resolve()
        if path in seen:
            continue
        seen.append(path)
        if path.suffix == ".js":
            for spec in IMPORT.findall(path.read_text()):
                assert spec.startswith(("./", "../")), f"{path.name} imports {spec}: the page's own files only"
                todo.append(path.parent / spec)
    return seen


def page_scripts(html: str) -> list[Path]:
    """The page's classic scripts, then its modules (see ``page_modules``)."""
    page = (STATIC / html).read_text()
    classic = [(STATIC / m["src"]).resolve() for m in SCRIPT.finditer(page) if not m["module"]]
    return classic + page_modules(html)
