"""scripts/python-env: the scripts' Python is the active virtual environment when there is one,
else the project's .venv; an installed package is not installed again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def source(cwd: Path, script: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return subprocess.run(["bash", "-c", f"set -euo pipefail; . scripts/python-env; {script}"], cwd=cwd,
                          env={**base, **env}, capture_output=True, text=True, timeout=300)


def test_python_env_uses_the_active_virtual_environment(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "python-env", tmp_path / "scripts")
    done = source(tmp_path, 'echo "$PY"', VIRTUAL_ENV=sys.prefix)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{sys.prefix}/bin/python"
    assert not (tmp_path / ".venv").exists()  # nothing made beside it


def test_python_env_installs_once_per_pyproject(tmp_path: Path) -> None:
    """pip runs on the first use and again only when pyproject.toml changes. The environment's
    python is a wrapper that records pip runs instead of making them (imports are real)."""
    work = tmp_path / "checkout"
    (work / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "python-env", work / "scripts")
    shutil.copy(ROOT / "pyproject.toml", work)
    venv, pip_log = tmp_path / "venv", tmp_path / "pip.log"
    (venv / "bin").mkdir(parents=True)
    wrapper = venv / "bin" / "python"
    wrapper.write_text(f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "$*" >> {pip_log}; exit 0; fi
if [ "$1" = "-c" ] && [ "$2" = "import sys; print(sys.prefix)" ]; then echo {venv}; exit 0; fi
exec {sys.executable} "$@"
""")
    wrapper.chmod(0o755)

    def runs() -> list[str]:
        return pip_log.read_text().splitlines() if pip_log.exists() else []

    first = source(work, "ensure_installed '.[test]'", VIRTUAL_ENV=str(venv))
    assert first.returncode == 0, first.stderr
    assert runs() == ["-m pip install -q --disable-pip-version-check -e .[test]"]
    again = source(work, "ensure_installed '.[test]'; ensure_installed . '.[test]'", VIRTUAL_ENV=str(venv))
    assert again.returncode == 0, again.stderr
    assert len(runs()) == 1  # installed from this very pyproject.toml: no pip run
    with (work / "pyproject.toml").open("a") as f:
        f.write("# a changed dependency\n")
    changed = source(work, "ensure_installed .", VIRTUAL_ENV=str(venv))
    assert changed.returncode == 0, changed.stderr
    assert runs()[1:] == ["-m pip install -q --disable-pip-version-check -e ."]
