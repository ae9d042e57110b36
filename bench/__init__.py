"""Benchmarks. ``python -m bench`` (or ``eoc bench``) runs the suite: every scenario with its
baseline from the same run, one table, bench/results/latest.json. Some modules also run on their
own (``python -m bench.fanout``, ``python -m bench.replay``) and write bench/results/<name>.json."""

import sys as _sys
from pathlib import Path as _Path


def tree_paths() -> list[str]:
    """The import paths of the tree this suite sits in: its root (``eoc``, ``events``, …) and a
    folder holding the link ``ui_bridge`` → ``ui-bridge/`` (the one scripts/test makes for mypy).
    ``ui-bridge/`` is the package ``ui_bridge`` only through the editable install's mapping, which
    points at the tree it was installed from: a run from another tree (a worktree, a clone) must
    measure its own bridge, in its own process (``bench.fanout``) and in those it starts
    (``bench/systems.py``)."""
    root = _Path(__file__).resolve().parents[1]
    shim = root / ".mypy-path"
    link = shim / "ui_bridge"
    if not link.is_symlink() or link.resolve() != (root / "ui-bridge").resolve():  # missing, broken, elsewhere
        shim.mkdir(exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(_Path("..") / "ui-bridge")
    return [str(root), str(shim)]


for _path in reversed(tree_paths()):
    if _path not in _sys.path:
        _sys.path.insert(0, _path)
