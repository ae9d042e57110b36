"""Shared fixtures: real services from scripts/services, systems on each store, API clients.

Integration tests use the real PostgreSQL and Kafka that ``scripts/services`` starts. When
CI=true a missing service fails the test loudly; on a laptop without them it skips.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.bridge import bridge, loop_thread  # noqa: F401  (fixtures of the bridge and the tests that open dashboards)
from tests.support.system import Api

ROOT = Path(__file__).resolve().parents[1]
_started: dict[str, dict[str, str]] = {}


def service_env(which: str) -> dict[str, str]:
    """Start (or find running) a service with the project script; its settings as a dict."""
    from bench.services import start  # the one wrapper of scripts/services, shared with bench/

    if which not in _started:
        try:
            _started[which] = start(which)
        except RuntimeError as exc:
            if os.environ.get("CI") == "true":
                pytest.fail(str(exc), pytrace=False)
            pytest.skip(str(exc))
    return _started[which]


KAFKA_FIXTURES = {"kafka_bootstrap", "kafka_topic"}
# Modules without Kafka that run in the Kafka lane of scripts/test all the same: the two lanes
# then take about as long (each lane's slowest tests are listed at its end). The other lane has
# two workers (pytest-xdist), so a module moved here costs this lane its whole time and saves the
# other half of it. (Session 18, on one machine: the Kafka tests alone 745 s; all the others in
# two workers 892 s; these two modules about 110 s.)
KAFKA_LANE_MODULES = ("tests/e2e/test_kill_restart.py", "tests/e2e/test_readme_run_command.py")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reaches the broker is marked ``kafka``, however it gets there (a fixture
    of a fixture): scripts/test runs those one after another beside the rest (``-m "not
    kafka_lane"``), which must never meet a broker that a fault test has stopped. The Kafka
    lane (``-m kafka_lane``) is those, and the modules of ``KAFKA_LANE_MODULES``."""
    for item in items:
        if KAFKA_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("kafka") is None:
            item.add_marker(pytest.mark.kafka)
        if item.get_closest_marker("kafka") is not None or item.nodeid.startswith(KAFKA_LANE_MODULES):
            item.add_marker(pytest.mark.kafka_lane)


@pytest.fixture(scope="session")
def pg_admin_dsn() -> str:
    return service_env("pg")["EOC_PG_TEST_DSN"]


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return service_env("kafka")["EOC_KAFKA_BOOTSTRAP"]


@pytest.fixture
def fresh_pg_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = f"eoc_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = pg_admin_dsn.rsplit("/", 1)[0] + f"/{name}"
    yield dsn
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_system(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., object]]:
    """Build systems on the parametrised store; all are closed after the test."""
    from eoc.app.config import Settings
    from eoc.main.bootstrap import build

    built = []
    dsn = request.getfixturevalue("fresh_pg_dsn") if store == "postgres" else None

    def make(**kw: object):
        overrides = {"store": store, "data_dir": tmp_path / f"data{len(built)}",
                     "token_secret": b"test-key-3f9a1c7e5b2d8046aa17c93e51"}
        if dsn:
            overrides["pg_dsn"] = dsn
        checkpoint = kw.pop("checkpoint", False)
        clock = kw.pop("clock", None)
        overrides.update(kw)
        system = build(Settings.from_env({}, **overrides), clock=clock, checkpoint=checkpoint)
        built.append(system)
        return system

    def close(system: object) -> None:
        """Close one system now (a property test builds one per example: each holds connections)."""
        built.remove(system)
        system.close()  # type: ignore[attr-defined]

    make.close = close  # type: ignore[attr-defined]
    yield make
    for system in reversed(built):
        system.close()


@pytest.fixture
def system(make_system: Callable[..., object]):
    return make_system()


@pytest.fixture
def api(system) -> Api:
    return Api(system)
