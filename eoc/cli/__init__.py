"""The ``eoc`` command. Each subcommand lives in its own module with a ``register(subparsers)``."""

from __future__ import annotations

import argparse
import sys

from eoc.cli import audit, board, bridge, cluster, demo, token, users

# One module per concept; each adds its subcommands. The benchmark suite is `python -m bench`
# from a clone (bench/ is not part of the installed package).
MODULES = (token, users, demo, board, bridge, audit, cluster)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="eoc",
        description="Social emergency dispatch and EOC (اورژانس اجتماعی). Settings come from EOC_* variables.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in MODULES:
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
