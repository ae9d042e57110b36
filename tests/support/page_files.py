"""What a page of ui-bridge/static loads as the browser finds it: its module script, every module
that one imports, and what they import as data (the words' catalogues)."""

from __future__ import annotations

import re
from pathlib import Path

from ui_bridge.server import STATIC

MODULE_SCRIPT = re.compile(r'<script type="module" src="([^"]+)"></script>')
# A static import of the page's own files: `import { x } from "./x.js";`, `import "./x.js";`,
# `import words from "./words.json" with { type: "json" };`.
IMPORT = re.compile(r'^import\s(?:[^"]*\sfrom\s)?"(?P<spec>[^"]+)"', re.M)


def page_modules(html: str) -> list[Path]:
    """The files the page's module script brings in, itself first, each once (in STATIC)."""
    page = (STATIC / html).read_text()
    todo = [STATIC / src for src in MODULE_SCRIPT.findall(page)]
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

