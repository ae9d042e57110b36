"""The README's run command, exactly as written, from a clean clone on a bare Python.

A new operator clones the repository and types the run command. This test does the same: a
`git clone` into a temporary directory, an environment with nothing of the project installed
(no active virtual environment, the system's python3 on PATH: the script makes its own .venv,
quick with pip's cache), the command parsed out of README.md and run by a shell. It waits for
the dashboard and /health, sees the boards change while the simulator runs, sends SIGINT (what
Ctrl-C sends to the foreground process group) and sees a clean stop within 10 s, then starts
the same command again and sees the boards caught up from where they were.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.readme import run_command
from tests.support.served import free_port_pair

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
FIRST_START_S = 900  # the first start builds .venv: pip's cache makes it quick, a cold one may not
STOP_S = 10


def bare_python(bin_dir: Path) -> Path:
    """A ``python3`` (3.11+) with nothing of the project: Debian's own when it is bare, the case
    of a new machine (PEP 668: it refuses pip); else a fresh virtual environment without packages."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    debian = Path("/usr/bin/python3")
    probe = "import sys, venv, ensurepip; assert sys.version_info >= (3, 11)\ntry:\n import eoc\nexcept ImportError: pass\nelse: raise SystemExit(1)"
    if debian.exists() and subprocess.run([str(debian), "-I", "-c", probe], cwd=bin_dir,
                                          capture_output=True).returncode == 0:
        (bin_dir / "python3").symlink_to(debian)
    else:
        base = Path(getattr(sys, "_base_executable", sys.executable))
        subprocess.run([str(base), "-m", "venv", "--without-pip", str(bin_dir.parent / "bare")], check=True)
        (bin_dir / "python3").symlink_to(bin_dir.parent / "bare" / "bin" / "python3")
    return bin_dir / "python3"


def bare_env(port: int, bin_dir: Path) -> dict[str, str]:
    """The environment of a new user: nothing of this project, no virtual environment active,
    ``python3`` a bare interpreter (first on PATH)."""
    ours = {Path(sys.prefix) / "bin", Path(sys.executable).parent}
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EOC_", "PYTHON", "POSTGRES_", "PERSISTENCE_", "SQLITE_"))
           and k not in ("VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    path = [p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p and Path(p) not in ours]
    env["PATH"] = os.pathsep.join([str(bin_dir), *path])
    env["EOC_PORT"] = str(port)
    return env


def wait_for(what: str, check: Callable[[], Any], proc: subprocess.Popen, log: Path, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the run command exited ({proc.returncode}) before {what}:\n{tail(log)}", pytrace=False)
        try:
            value = check()
            if value:
                return value
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"no {what} within {timeout:g} s:\n{tail(log)}", pytrace=False)


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


class Run:
    """One start of the run command in the clone, as a shell in its own process group."""

    def __init__(self, command: str, clone: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.out = log.open("ab")
        self.proc = subprocess.Popen(["bash", "-c", command], cwd=clone, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)

    def interrupt(self) -> int | None:
        """Ctrl-C: SIGINT to the process group; the exit code, or None if still running after STOP_S."""
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(STOP_S)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.out.close()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.fail("git is needed to clone the repository", pytrace=False)
    target = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, capture_output=True)
    return target


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        run.kill()


def test_readme_run_command_serves_simulates_stops_and_catches_up(clone: Path, runs: list[Run]) -> None:
    command = run_command((clone / "README.md").read_text(encoding="utf-8"))
    assert command == "scripts/demo"  # what the README shows a new user; a change must be looked at
    port = free_port_pair()
    bare_python(clone.parent / "bin")
    env = bare_env(port, clone.parent / "bin")
    bare = subprocess.run(["python3", "-c", "import fastapi, eoc"], cwd=clone.parent, env=env, capture_output=True)
    assert bare.returncode != 0, "the bare environment must not have the project installed"
    base = f"http://127.0.0.1:{port}"
    log = clone.parent / "run.log"
    http = httpx.Client(base_url=base, timeout=5)

    def health() -> dict[str, Any] | None:
        r = http.get("/health")
        return r.json() if r.status_code == 200 else None

    def boards(token: str) -> dict[str, Any]:
        r = http.get("/api/v1/boards", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return r.json()

    # ---- first start: installs into the clone's .venv, serves, simulates
    first = Run(command, clone, env, log)
    runs.append(first)
    wait_for("/health", health, first.proc, log, FIRST_START_S)
    page = http.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()  # the dashboard
    assert http.get("/vendor/leaflet/leaflet.js").status_code == 200  # its map library (npm, git-ignored)
    assert (clone / ".venv" / "bin" / "python").exists()  # the script's own environment
    token = subprocess.run([str(clone / ".venv" / "bin" / "eoc"), "token", "--role", "national_eoc",
                            "--province", "IR"], cwd=clone, env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    seen = boards(token)
    changed = wait_for("board change from the simulator",
                       lambda: (b := boards(token))["position"] > seen["position"] and b["rows"] != seen["rows"]
                       and b, first.proc, log, 120)
    before = wait_for("teams on the boards", lambda: (b := boards(token))["rows"] and b, first.proc, log, 120)
    assert before["position"] >= changed["position"]

    code = first.interrupt()
    assert code is not None, f"no stop within {STOP_S} s of SIGINT:\n{tail(log)}"
    assert code == 0, f"exit {code}:\n{tail(log)}"
    assert "Traceback" not in log.read_text(errors="replace"), tail(log)
    with pytest.raises(httpx.ConnectError):
        http.get("/health")

    # ---- second start: the same command; the boards carry on from where they were
    second = Run(command, clone, env, log)
    runs.append(second)
    wait_for("/health after the restart", health, second.proc, log, 120)
    after = boards(token)
    assert after["position"] >= before["position"], (after["position"], before["position"])
    missing = set(before["rows"]) - set(after["rows"])
    assert not missing, f"rows lost across the restart: {sorted(missing)[:5]}"
    code = second.interrupt()
    assert code == 0, f"the second run did not stop cleanly ({code}):\n{tail(log)}"
    # The first start made .venv and installed; the second found them (idempotent, no pip run).
    text = log.read_text(errors="replace")
    assert text.count("python: creating the project's virtual environment") == 1, tail(log)
    assert text.count("python: installing") == 1, tail(log)
    # Its logs are the system's: one JSON object a line (EOC_LOG_FORMAT), beside the banner.
    records = [json.loads(line) for line in text.splitlines() if line.startswith('{"time"')]
    assert any(r["logger"].startswith("eoc.") and r["level"] == "info" for r in records), tail(log)
