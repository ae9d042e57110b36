"""The ``eoc`` command. Each subcommand lives in its own module with a ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib
import sys

# One module per concept; each adds its subcommands.
MODULES = (
    "eoc.cli.token",
    "eoc.cli.users",
    "eoc.cli.demo",
    "eoc.cli.board",
    "eoc.cli.bridge",
    "eoc.cli.audit",
    "eoc.cli.cluster",
    "eoc.cli.bench",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="eoc",
        description="Social emergency dispatch and EOC (اورژانس اجتماعی). Settings come from EOC_* variables.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in MODULES:
        importlib.import_module(name).register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ValueError as problem:  # a setting the process cannot start with: one line, no traceback
        from ..config import WeakSecret
        from ..settings import ConfigurationError

        if not isinstance(problem, ConfigurationError | WeakSecret):
            raise
        print(f"eoc {args.command}: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
