"""The ``eoc`` command loads only the module of the subcommand it runs (eoc/cli/__init__.py): the
table it goes by must name every subcommand each module registers, and nothing else."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from eoc.cli import COMMANDS, MODULES, modules_for


def registered(name: str) -> set[str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    importlib.import_module(f"eoc.cli.{name}").register(sub)
    return set(sub.choices)


@pytest.mark.parametrize("name", MODULES)
def test_the_table_names_what_each_module_registers(name: str) -> None:
    assert {command for command, module in COMMANDS.items() if module == name} == registered(name)


def test_a_command_loads_its_own_module_and_help_loads_all() -> None:
    assert [m.__name__ for m in modules_for(["replay", "--as-of", "today"])] == ["eoc.cli.audit"]
    assert [m.__name__ for m in modules_for(["worker"])] == ["eoc.cli.cluster"]
    every = [f"eoc.cli.{name}" for name in MODULES]
    assert [m.__name__ for m in modules_for([])] == every
    assert [m.__name__ for m in modules_for(["--help"])] == every
    assert [m.__name__ for m in modules_for(["no-such-command"])] == every


def test_a_user_command_starts_without_faust_scipy_or_the_web_stack() -> None:
    code = ("import sys\nfrom eoc.cli import main\ntry:\n    main(['users', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('faust', 'scipy', 'fastapi', 'eoc.main.cluster') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "eoc users" in done.stdout  # its own help was printed
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_help_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    from eoc.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    for command in COMMANDS:
        assert command in shown
