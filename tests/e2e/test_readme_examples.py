"""Every shell example of README.md runs as written, so the README cannot drift from the system.

The blocks come from the file itself (``tests/support/readme.py``). Those fenced ``sh`` run, in the
README's order and in one shell (ids flow from one example to the next, as they do for a
reader), against a live embedded system served as ``eoc demo`` serves it; ``curl`` fails on
any 4xx/5xx answer (``--fail-with-body``) and the shell stops at the first failing command.
The only change to the text is the port: ``localhost:8123`` becomes the test's free port.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.readme import KINDS, run_command, shell_examples, untagged_commands
from tests.support.served import embedded, free_port_pair

ROOT = Path(__file__).resolve().parents[2]
PORT_IN_README = 8123
PRELUDE = """set -euo pipefail
curl() { command curl --fail-with-body "$@"; }  # an HTTP error answer fails the example
"""


def with_port(text: str, port: int) -> str:
    return re.sub(rf"\b(localhost|127\.0\.0\.1):{PORT_IN_README}\b", rf"\g<1>:{port}", text)


def shell_env(data_dir: Path) -> dict[str, str]:
    """The reader's shell: the project's environment active, the system's data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EOC_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")])
    env["EOC_DATA_DIR"] = str(data_dir)
    return env


def run_blocks(blocks: list[Any], port: int, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    script = PRELUDE
    for i, block in enumerate(blocks):
        script += f"echo '@@ example {i}: {block.name}'\n{with_port(block.text, port)}\n"
    script += "echo '@@ all examples ran'\n"
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_readme_examples_are_all_tagged() -> None:
    examples = shell_examples()
    assert examples, "README.md has no shell example"
    unknown = [(e.name, e.kind) for e in examples if e.kind not in KINDS]
    assert not unknown, f"fence each shell example as one of {KINDS}: {unknown}"
    assert {e.kind for e in examples} == set(KINDS)
    assert untagged_commands() == [], "README.md lines where a shell example has no sh fence"
    assert untagged_commands("```\neoc verify\n```\n") == [1]  # the check itself sees one
    assert run_command() == "scripts/demo"
    runs = [e for e in examples if e.kind == "sh run"]
    assert [line.split("#")[0].strip() for e in runs for line in e.text.splitlines()] == \
        ["scripts/demo", "scripts/test"]  # the demo: test_readme_run_command; scripts/test: CI itself
    assert (ROOT / ".ci" / "run").read_text().count("scripts/test")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Any, str, Path]]:
    from eoc.app.config import Settings
    from eoc.main.bootstrap import build

    data = tmp_path / "data"
    # As `eoc demo` builds it: the token secret is the data directory's, shared with `eoc token`.
    system = build(Settings.from_env({"EOC_DATA_DIR": str(data)}))
    try:
        with embedded(system) as base:
            yield system, base, data
    finally:
        system.close()


def test_readme_examples_run_against_embedded_system(live: tuple[Any, str, Path], tmp_path: Path) -> None:
    if shutil.which("jq") is None or shutil.which("curl") is None:
        message = "the README's examples use curl and jq (scripts/install installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    system, base, data = live
    port = int(base.rsplit(":", 1)[1])
    blocks = [e for e in shell_examples() if e.kind == "sh"]
    assert len(blocks) >= 2
    cwd = tmp_path / "reader"
    cwd.mkdir()
    done = run_blocks(blocks, port, cwd, shell_env(data))
    ran = re.findall(r"^@@ (.*)$", done.stdout, re.M)
    assert done.returncode == 0 and ran[-1] == "all examples ran", \
        f"failed in {ran[-1] if ran else 'the prelude'}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    # What the examples did, seen from the system: the commands were stored and folded.
    stored = [system.app.mapper.to_domain_event(n).type
              for n in system.app.recorder.select_notifications(start=1, limit=1000)]
    for kind in ("TeamRegistered", "ShiftStarted", "CallReceived", "CallClassified", "TeamDispatched"):
        assert kind in stored, (kind, stored)
    assert '{"name":"Qazvin 1","status":"dispatched"}' in done.stdout
    # The auditors' examples: a replay file, a diff that found the live boards equal, a
    # verified history, and an erased caller.
    boards = json.loads((cwd / "boards.json").read_text())
    assert isinstance(boards, dict) and boards
    assert "equals the live boards" in done.stdout
    assert "every link and checkpoint holds" in done.stdout
    assert re.search(r"^S-[0-9a-f]+: 1 sealed values", done.stdout, re.M)
    assert "0 values can still be opened" in done.stdout


def test_readme_examples_fail_loudly(live: tuple[Any, str, Path], tmp_path: Path) -> None:
    """The harness itself: a refused command stops the examples and names the one that failed."""
    from tests.support.readme import Example

    _, base, data = live
    port = int(base.rsplit(":", 1)[1])
    bad = Example(kind="sh", section="bad", line=1, text=(
        f"curl -s -X POST localhost:{PORT_IN_README}/api/v1/calls -d '{{\"province\":\"QZV\"}}'\n"
        "echo not reached\n"))
    done = run_blocks([bad], port, tmp_path, shell_env(data))
    assert done.returncode != 0
    assert "not reached" not in done.stdout and "all examples ran" not in done.stdout
    assert "@@ example 0: bad" in done.stdout


# ---------------------------------------------------------------- the cluster's examples

SERVERS = ("api", "relay", "worker", "exchange", "bridge")  # `eoc <these>` serve until stopped


def cluster_script(block: Any, work: Path, overrides: dict[str, str]) -> str:
    """The block as written; the first line runs in the project's directory (it reads
    scripts/services), then this run's own database, topics and ports are set, and each server
    runs in the background with its log and pid in ``work``."""
    lines = block.text.splitlines()
    script = PRELUDE + f"cd {shlex.quote(str(ROOT))}\n{lines[0]}\n"
    script += "".join(f"export {k}={shlex.quote(v)}\n" for k, v in overrides.items())
    script += f"cd {shlex.quote(str(work))}\nexport -p > env.sh\n"
    for line in lines[1:]:
        words = line.split("#")[0].split()
        if words[:1] == ["eoc"] and words[1:2] and words[1] in SERVERS:
            name = words[1]
            script += f"{' '.join(words)} > {name}.log 2>&1 &\necho $! > {name}.pid\n"
        else:
            script += line + "\n"
    return script


@pytest.mark.postgres
@pytest.mark.kafka
@pytest.mark.slow
def test_readme_examples_cluster_against_real_services(fresh_pg_dsn: str, kafka_bootstrap: str,
                                                       tmp_path: Path) -> None:
    import httpx

    from bench.services import delete_topics
    from eoc.app.auth import TokenSigner

    blocks = [e for e in shell_examples() if e.kind == "sh cluster"]
    first = next(b for b in blocks if "scripts/services env" in b.text)
    rest = [b for b in blocks if b is not first]
    assert first.text.splitlines()[0].startswith('eval "$(scripts/services env)"')
    port, secret, prefix = free_port_pair(), "readme-cluster-secret-0123456789", f"t{uuid.uuid4().hex[:8]}."
    overrides = {"EOC_PG_DSN": fresh_pg_dsn, "EOC_TOPIC_PREFIX": prefix, "EOC_PORT": str(port),
                 "EOC_DATA_DIR": str(tmp_path / "data"), "EOC_TOKEN_SECRET": secret, "EOC_LOG_LEVEL": "warn"}
    # The services' own place and ports stay (scripts/services env must find the broker and the
    # database that this run started, on whatever ports they were given).
    kept = ("EOC_SERVICES_DIR", "EOC_PG_PORT", "EOC_KAFKA_PORT", "EOC_KAFKA_CONTROLLER_PORT")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EOC_") or k in kept}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")])
    proc = subprocess.Popen(["bash", "-c", cluster_script(first, tmp_path, overrides)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    logs = lambda: "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in tmp_path.glob("*.log"))  # noqa: E731
    try:
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"{first.name} failed:\n{out}\n{logs()}"
        assert f"{prefix}eoc.events" in out  # `eoc topics` created this run's topics
        pids = {name: int((tmp_path / f"{name}.pid").read_text()) for name in SERVERS}

        # The servers the block started work together: a command through the API comes back on
        # the boards (relay → Kafka → worker → board topic), and the bridge serves the dashboard.
        token = TokenSigner(secret.encode()).issue("provincial_supervisor", "QZV")
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
        deadline = time.monotonic() + 90
        team = None
        while time.monotonic() < deadline:
            dead = [n for n, pid in pids.items() if not _alive(pid)]
            assert not dead, f"{dead} stopped:\n{logs()}"
            try:
                if team is None:
                    r = http.post("/api/v1/teams", json={"province": "QZV", "county": "Qazvin", "name": "Qazvin 1",
                                                         "home": {"lat": 36.27, "lon": 50.0}})
                    assert r.status_code == 201, r.text
                    team = r.json()["team_id"]
                rows = http.get("/api/v1/boards").json()["rows"]
                if any(team in key for key in rows):
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"the team never reached the boards:\n{logs()}", pytrace=False)
        # `eoc bridge`'s page sends people to sign in at the API, which serves the dashboard's pages.
        page = httpx.get(f"http://127.0.0.1:{port + 1}/", timeout=10)
        assert page.status_code == 302 and page.headers["location"] == f"http://127.0.0.1:{port}/", page.headers
        assert "signin.js" in httpx.get(f"http://127.0.0.1:{port}/signin.html", timeout=10).text

        for block in rest:  # e.g. the auditors' replay from Kafka, in the same environment
            done = subprocess.run(["bash", "-c", PRELUDE + ". ./env.sh\n" + block.text], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, f"{block.name} failed:\n{done.stdout}\n{done.stderr}"
            if "--from kafka" in block.text:  # it read this run's topic
                assert f"Replay of Kafka topic {prefix}eoc.events" in done.stdout, done.stdout

        for name, pid in pids.items():  # each stops cleanly when asked
            os.kill(pid, signal.SIGTERM)
        for name, pid in pids.items():
            assert _wait_gone(pid, 20), f"eoc {name} did not stop on SIGTERM:\n{logs()}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        delete_topics(kafka_bootstrap, prefix)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a stopped child of the finished shell is reaped by init; a zombie counts as gone
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return False
