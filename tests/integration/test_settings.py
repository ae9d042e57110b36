"""One typed settings tree (eoc/app/settings.py): the README's table is generated from it, the
event store's library sees only what the settings name, the data directory never depends on
the working directory, and a bad or missing setting is one line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate

from eoc.app.config import Settings
from eoc.app.service import EOCApplication
from eoc.app.settings import ConfigurationError, EnvSettings, default_data_dir, readme_with_table
from eoc.cli.board import default_url
from eoc.main.cluster import ClusterSettings

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"settings-test-9f3c1a7e5b2d8064ee19ab37c5d2f0a1"


def test_settings_readme_table_is_generated_from_the_model() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_with_table(text) == text, "run: python -m eoc.app.settings --readme README.md"
    for name in EnvSettings.model_fields:
        assert f"`EOC_{name.upper()}`" in text


def test_settings_every_eoc_variable_in_the_code_is_in_the_model() -> None:
    import re

    known = {f"EOC_{n.upper()}" for n in EnvSettings.model_fields}
    # Variables of the scripts, the tests and the compose file, not of a process.
    outside = {"EOC_PG_TEST_DSN", "EOC_SERVICES_DIR", "EOC_KAFKA_TOOLS_CLASSPATH", "EOC_KAFKA_TOOLS_LOG4J",
               "EOC_IMAGE", "EOC_HTTPS_PORT", "EOC_WSS_PORT", "EOC_TEST_KEEP_TOPICS",
               "EOC_SQLITE_DBNAME", "EOC_PERSISTENCE_MODULE"}  # named only to say they are ignored
    found: set[str] = set()
    for folder in ("eoc", "consumers", "ui-bridge", "events", "projections"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(re.findall(r"\bEOC_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8")))
    assert found - known - outside == set()


def test_settings_no_os_environ_outside_the_model() -> None:
    readers = []
    for folder in ("eoc", "consumers", "ui-bridge", "events", "projections"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if ("os.environ" in text or "getenv(" in text) and path.name != "settings.py":
                readers.append(str(path.relative_to(ROOT)))
    assert readers == []


@pytest.mark.parametrize("variable", ["EOC_SQLITE_DBNAME", "EOC_PERSISTENCE_MODULE"])
def test_settings_library_variable_cannot_move_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         variable: str) -> None:
    stray = tmp_path / "elsewhere.sqlite"
    monkeypatch.setenv("EOC_SQLITE_DBNAME", str(stray))
    monkeypatch.setenv("SQLITE_DBNAME", str(stray))
    if variable == "EOC_PERSISTENCE_MODULE":
        monkeypatch.setenv("EOC_PERSISTENCE_MODULE", "eventsourcing.popo")
        monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.popo")
    settings = Settings.from_env({}, data_dir=tmp_path / "data", token_secret=SECRET)
    settings.data_dir.mkdir()
    app = EOCApplication(env=settings.eventsourcing_env())
    try:
        from eventsourcing.sqlite import SQLiteApplicationRecorder

        assert isinstance(app.recorder, SQLiteApplicationRecorder)
        assert app.env.get("SQLITE_DBNAME") == str(settings.sqlite_path)
        app.save(_any_aggregate())  # it must land in the file Settings names
    finally:
        app.close()
    assert settings.sqlite_path.exists() and settings.sqlite_path.stat().st_size > 0
    assert not stray.exists()


class _Probe(Aggregate):
    pass


def _any_aggregate() -> object:
    return _Probe()


def test_settings_data_dir_does_not_depend_on_the_working_directory(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    default = Settings.from_env({}, token_secret=SECRET).data_dir
    assert default.is_absolute() and default == default_data_dir()
    assert not str(default).startswith(str(tmp_path))
    assert ClusterSettings.from_env({}).data_dir == default
    relative = Settings.from_env({"EOC_DATA_DIR": "here"}, token_secret=SECRET).data_dir
    assert relative == (tmp_path / "here").resolve()


def test_settings_token_secret_is_the_same_from_any_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EOC_")}
    env["EOC_DATA_DIR"] = str(tmp_path / "data")
    tokens = []
    for cwd in (tmp_path, ROOT):
        done = subprocess.run([sys.executable, "-m", "eoc.cli", "token", "--role", "national_eoc", "--province", "IR"],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        tokens.append(done.stdout.strip().splitlines()[-1])
    secret = (tmp_path / "data" / "token.secret").read_bytes()
    from eoc.app.auth import TokenSigner

    for token in tokens:
        assert TokenSigner(secret).verify(token).role == "national_eoc"


def test_settings_bad_value_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="EOC_PORT"):
        Settings.from_env({"EOC_PORT": "eighty"})
    with pytest.raises(ConfigurationError, match="EOC_STORE"):
        Settings.from_env({"EOC_STORE": "mongo"})
    with pytest.raises(ConfigurationError, match="EOC_WORKER_CRASH_AFTER"):
        ClusterSettings.from_env({"EOC_WORKER_CRASH_AFTER": "soon"})


def test_settings_board_honours_eoc_port() -> None:
    assert default_url(EnvSettings.read({"EOC_PORT": "8200"})) == "http://127.0.0.1:8200"
    assert default_url(EnvSettings.read({"EOC_HOST": "0.0.0.0", "EOC_PORT": "9"})) == "http://127.0.0.1:9"


@pytest.mark.parametrize("command", ["api", "relay", "watchdog", "bridge"])
def test_settings_missing_pg_dsn_in_cluster_mode_is_one_line(tmp_path: Path, command: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EOC_")}
    env.update(EOC_STORE="postgres", EOC_DATA_DIR=str(tmp_path), EOC_KAFKA_BOOTSTRAP="127.0.0.1:1")
    done = subprocess.run([sys.executable, "-m", "eoc.cli", command], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "EOC_PG_DSN" in lines[0], done.stderr
