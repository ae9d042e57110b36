"""The libraries used through their internals are pinned: the installed version is the one the
adapter was written for, and pyproject.toml pins exactly that version."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def assert_pinned(distribution: str, pinned: str) -> None:
    assert version(distribution) == pinned, (distribution, version(distribution), pinned)
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [d.replace(" ", "") for d in deps if d.startswith(distribution)]
    assert pins and all(d.endswith(f"=={pinned}") for d in pins), pins
