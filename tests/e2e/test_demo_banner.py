"""``eoc demo``'s banner says what runs, and ``python -m eoc.cli`` (what scripts/demo runs) works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.served import free_port


def test_python_m_eoc_cli_runs_the_eoc_command() -> None:
    done = subprocess.run([sys.executable, "-m", "eoc.cli", "demo", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--no-simulator" in done.stdout and "--port" in done.stdout


def test_demo_banner_no_simulator_says_what_runs(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EOC_")}
    env.update(EOC_DATA_DIR=str(tmp_path / "data"), EOC_PORT=str(port))
    proc = subprocess.Popen([sys.executable, "-m", "eoc.cli", "demo", "--no-simulator",
                             "--bridge-port", str(free_port())],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = []
        for line in proc.stdout:  # the banner is flushed at once, through a pipe too
            banner.append(line.rstrip("\n"))
            if "Ctrl-C stops" in line:
                break
        text = "\n".join(banner)
        assert "simulating" not in text, text
        assert "simulator  off (--no-simulator): the API, the boards and the dashboard run" in text, text
        assert f"http://127.0.0.1:{port}/docs" in text
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
        assert health["position"] == 0  # nothing drives it: no simulated event
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()
