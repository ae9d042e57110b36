"""The ``eoc`` command. Each subcommand lives in its own module with a ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

# One module per concept; each adds its subcommands. The benchmark suite is `python -m bench`
# from a clone (bench/ is not part of the installed package).
MODULES = ("token", "users", "demo", "board", "bridge", "audit", "cluster")

# Which module adds which subcommand: a command loads its own module only (a process starts in a
# fraction of the time: the cluster's modules bring Faust, the audit's SciPy). `eoc --help`, no
# command or an unknown one load them all. tests/unit/test_cli_commands.py keeps this equal to
# what the modules register.
COMMANDS = {
    "token": "token",
    "users": "users", "keys": "users", "access-log": "users",
    "demo": "demo",
    "board": "board",
    "bridge": "bridge",
    "replay": "audit", "diff": "audit", "verify": "audit", "checkpoint": "audit", "report": "audit",
    "late-entries": "audit", "erase": "audit",
    "api": "cluster", "relay": "cluster", "worker": "cluster", "exchange": "cluster", "watchdog": "cluster",
    "topics": "cluster",
}


def modules_for(argv: list[str]) -> list[ModuleType]:
    """The modules a command line needs: its command's own, or all of them."""
    command = argv[0] if argv else None
    names = [COMMANDS[command]] if command in COMMANDS else list(MODULES)
    return [importlib.import_module(f"eoc.cli.{name}") for name in names]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="eoc",
        description="Social emergency dispatch and EOC (اورژانس اجتماعی). Settings come from EOC_* variables.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in modules_for(argv):
        module.register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ValueError as problem:  # a setting the process cannot start with: one line, no traceback
        from eoc.app.config import WeakSecret  # lazy: the CLI starts fast
        from eoc.app.settings import ConfigurationError  # lazy: the CLI starts fast

        if not isinstance(problem, ConfigurationError | WeakSecret):
            raise
        print(f"eoc {args.command}: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
