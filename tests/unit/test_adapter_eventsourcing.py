"""Pins what eoc/app/es_adapter.py (and the recorders' hooks) rely on in the eventsourcing
library: an upgrade that changes any of it fails here, not somewhere in the write side."""

from __future__ import annotations

import hashlib
import inspect
import sqlite3
from pathlib import Path

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from eoc.app import es_adapter
from eoc.app.idempotency import _DDL as _KEYS_DDL
from eoc.app.recorders import Outcome, PostgresRecorder, SQLiteRecorder
from eoc.app.service import EOCApplication
from eoc.app.writer import BatchWriter
from tests.support.pins import assert_pinned


class Desk(Aggregate):
    @event("Opened")
    def __init__(self, name: str) -> None:
        self.name = name
        self.notes: list[str] = []

    @event("Noted")
    def note(self, text: str) -> None:
        self.notes.append(text)


def _env(kind: str, tmp_path: Path) -> dict[str, str]:
    env = {"AGGREGATE_CACHE_MAXSIZE": "100", "AGGREGATE_CACHE_FASTFORWARD": "n"}
    if kind == "sqlite":
        env.update(PERSISTENCE_MODULE="eventsourcing.sqlite", SQLITE_DBNAME=str(tmp_path / "events.db"),
                   APPLICATION_RECORDER_TOPIC="eoc.app.recorders:SQLiteRecorder")
    return env


@pytest.fixture(params=["memory", "sqlite"])
def app(request, tmp_path):
    application = EOCApplication(env=_env(request.param, tmp_path))
    yield application
    application.close()


def _two_desks(app):
    a, b = Desk("north"), Desk("south")
    app.save(a, b)
    return a, b


def _interleaved(a, b):
    """Three events of two aggregates, in an order that saving them by aggregate would not keep."""
    a.note("a1")
    b.note("b1")
    a.note("a2")
    pending = {x.id: x.collect_events() for x in (a, b)}
    events = [pending[a.id][0], pending[b.id][0], pending[a.id][1]]
    return events, {a.id: a, b.id: b}


def test_the_installed_library_is_the_pinned_one():
    assert_pinned("eventsourcing", es_adapter.PINNED_VERSION)


def test_events_of_two_aggregates_get_notification_ids_in_the_order_given(app):
    a, b = _two_desks(app)
    heard: list[int] = []
    app.saved_listeners.append(heard.append)  # EOCApplication._notify, called by the library's save
    events, aggregates = _interleaved(a, b)
    recordings = es_adapter.save_in_order(app, events, aggregates)
    order = [(e.originator_id, e.originator_version) for e in events]
    assert [(r.domain_event.originator_id, r.domain_event.originator_version) for r in recordings] == order
    ids = [r.notification.id for r in recordings]
    assert ids == sorted(ids) and len(set(ids)) == 3
    stored = app.recorder.select_notifications(start=ids[0], limit=10)
    assert [(n.originator_id, n.originator_version) for n in stored] == order
    assert [n.id for n in stored] == ids
    assert heard == [ids[-1]]
    # The library's own save, given the aggregates, orders by aggregate: the reason for the adapter.
    assert order != sorted(order, key=lambda k: [a.id, b.id].index(k[0]))


def test_the_aggregates_saved_with_their_events_are_cached_and_reload_as_stored(app):
    a, b = _two_desks(app)
    events, aggregates = _interleaved(a, b)
    es_adapter.save_in_order(app, events, aggregates)
    assert es_adapter.is_cached(app, a.id) and es_adapter.is_cached(app, b.id)
    assert app.repository.get(a.id).notes == ["a1", "a2"]


def test_pending_events_not_yet_collected_are_refused_rather_than_stored_twice(app):
    a, b = _two_desks(app)
    a.note("a1")
    with pytest.raises(ValueError, match="pending events"):
        es_adapter.save_in_order(app, [], {a.id: a})
    assert [e.originator_version for e in app.repository.event_store.get(a.id)] == [1]  # nothing was stored


def test_the_repository_cache_forgets_what_the_writer_evicts(app):
    a, b = _two_desks(app)
    events, aggregates = _interleaved(a, b)
    es_adapter.save_in_order(app, events, aggregates)
    writer = BatchWriter(app)
    try:
        writer._evict({a.id: a})
    finally:
        writer.close()
    assert not es_adapter.is_cached(app, a.id)
    assert es_adapter.is_cached(app, b.id)
    assert app.repository.get(a.id).notes == ["a1", "a2"]  # read again from the store
    es_adapter.forget_cached(app, [a.id, b.id, a.id])  # one not cached any more: no error
    assert not es_adapter.is_cached(app, b.id)


def test_keywords_given_to_save_reach_the_sqlite_recorders_hook(tmp_path):
    app = EOCApplication(env=_env("sqlite", tmp_path))
    try:
        with sqlite3.connect(tmp_path / "events.db") as db:
            db.execute(_KEYS_DDL.format(blob="BLOB", seconds="REAL"))
            db.execute("INSERT INTO idempotency_keys (principal, key, request, owner, created) "
                       "VALUES ('p', 'k', 'r', 'o', 0)")
        a, b = _two_desks(app)
        events, aggregates = _interleaved(a, b)
        rendered: list[list[int]] = []

        def render(ids):
            rendered.append(list(ids))
            return b"done"

        recordings = es_adapter.save_in_order(app, events, aggregates, outcomes=[Outcome("p", "k", "r", "o", render)])
        assert rendered == [[r.notification.id for r in recordings]]
        with sqlite3.connect(tmp_path / "events.db") as db:
            assert db.execute("SELECT request, outcome FROM idempotency_keys").fetchall() == [("r", b"done")]
    finally:
        app.close()


def _shape(func):
    """A method's parameters as our override sees them: names and kinds (the name of ``**`` aside)."""
    return [("**" if p.kind is p.VAR_KEYWORD else p.name, p.kind) for p in inspect.signature(func).parameters.values()]


@pytest.mark.parametrize("ours, library, name", [
    (SQLiteRecorder, SQLiteApplicationRecorder, "_insert_events"),
    (PostgresRecorder, PostgresApplicationRecorder, "insert_events"),
    (PostgresRecorder, PostgresApplicationRecorder, "_insert_events"),
    (PostgresRecorder, PostgresApplicationRecorder, "_fetch_ids_after_insert_events"),
    (EOCApplication, Application, "_notify"),
    (EOCApplication, Application, "construct_env"),
])
def test_the_overridden_library_methods_have_the_signatures_our_overrides_expect(ours, library, name):
    assert name in vars(ours), f"{ours.__name__}.{name} is no longer overridden"
    assert _shape(getattr(ours, name)) == _shape(getattr(library, name))


def test_what_the_postgres_insert_copy_calls_is_still_there():
    """PostgresRecorder.insert_events is the library's method with one change: it calls these."""
    assert _shape(PostgresApplicationRecorder._insert_stored_events) == [
        ("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), ("curs", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("stored_events", inspect.Parameter.POSITIONAL_OR_KEYWORD), ("**", inspect.Parameter.VAR_KEYWORD)]
    assert _shape(ApplicationRecorder.insert_events) == _shape(PostgresRecorder.insert_events)
    assert _shape(Application.save)[1:] == [("objs", inspect.Parameter.VAR_POSITIONAL),
                                            ("**", inspect.Parameter.VAR_KEYWORD)]


# The library's PostgresApplicationRecorder.insert_events as copied into PostgresRecorder (9.5.6).
# If this changes, compare the new method with the copy and carry its changes over.
COPIED_INSERT_EVENTS_SHA256 = "f1a98da0239e3ea7462c6b725cd66d0c932fc533814c92e04bf9802ac81ebddf"


def test_the_library_method_we_copied_is_unchanged():
    source = inspect.getsource(PostgresApplicationRecorder.insert_events)
    assert hashlib.sha256(source.encode()).hexdigest() == COPIED_INSERT_EVENTS_SHA256, source


def test_what_current_many_reads_of_the_library_is_still_there():
    """es_adapter.current_many reads the PostgreSQL recorder's table by the names the library
    gives it, applies events with its projector, and exists because a writer that fast-forwards
    does not cache what it saves (so a cached aggregate may be behind the store)."""
    from eventsourcing.application import project_aggregate
    from eventsourcing.postgres import PostgresAggregateRecorder

    init = inspect.getsource(PostgresAggregateRecorder.__init__)
    assert "self.events_table_name = events_table_name" in init
    assert "originator_id, originator_version, topic, state" in init
    assert _shape(project_aggregate) == [("aggregate", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                                         ("domain_events", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    assert "if self.repository.cache and not self.repository.fastforward:" in inspect.getsource(Application._record)
