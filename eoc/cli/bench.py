"""``eoc bench``: the benchmark suite (the same as ``python -m bench`` from a clone)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run the benchmark suite: every figure with its same-run baseline")
    if _importable():
        from bench.__main__ import add_arguments

        add_arguments(p)
    p.set_defaults(run=run)


def _importable() -> bool:
    """The suite lives in the clone's bench/ folder, beside the package (not installed with it)."""
    if (ROOT / "bench" / "__main__.py").exists() and str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    try:
        return importlib.util.find_spec("bench.__main__") is not None
    except ImportError:
        return False


def run(args: argparse.Namespace) -> int:
    if not _importable():
        print("eoc bench runs from a clone of the repository (its bench/ folder); see BENCHMARKS.md",
              file=sys.stderr)
        return 2
    from bench.__main__ import run as run_suite

    return run_suite(args, "eoc bench")
