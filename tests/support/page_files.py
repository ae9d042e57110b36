"""What a page of ui-bridge/static loads as the browser finds it: its module script, every module
that one imports, the words' catalogues (data modules) among them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ui_bridge.server import DATA_MODULES, STATIC, data_module

MODULE_SCRIPT = re.compile(r'<script type="module" src="([^"]+)"></script>')
# A static import of the page's own files: `import { x } from "./x.js";`, `import "./x.js";`,
# `import words from "./words.js";` (a data module: words.json served as a module, DATA_MODULES).
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
        if str(path.relative_to(STATIC.resolve())) in DATA_MODULES:
            seen[-1] = path.with_suffix(".json")  # what the server makes the module of
        elif path.suffix == ".js":
            for spec in IMPORT.findall(path.read_text()):
                assert spec.startswith(("./", "../")), f"{path.name} imports {spec}: the page's own files only"
                todo.append(path.parent / spec)
    return seen


def catalogue(name: str) -> Any:
    """A data module of the pages (``words.js``), as the system serves it: the JSON it exports."""
    module = data_module(name)
    assert module is not None, f"{name} is not a data module"
    return json.loads(module.decode().removeprefix("export default ").rstrip().removesuffix(";"))
