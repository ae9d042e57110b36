"""The write side on SQLite and on PostgreSQL: transactions, holding periods, upcasting, the follower."""

from __future__ import annotations

from uuid import uuid4

import pytest

from eoc.domain import Call, to_envelope
from eoc.domain.base import RecordedCreation
from events.chain import GENESIS, link
from projections import fold
from tests.support.scenario import IN_QAZVIN, QZV, centre, classified_call, team
from tests.support.system import FakeClock


def _log(api):
    app = api.system.app
    return [(n.id, app.mapper.to_domain_event(n)) for n in app.recorder.select_notifications(start=0, limit=100_000)]


def test_escalation_stores_the_call_and_the_incident_together(api):
    call_id = classified_call(api)
    answer = api.ok(f"/calls/{call_id}/escalate", {"location": IN_QAZVIN})
    last_two = _log(api)[-2:]
    assert [e.type for _, e in last_two] == ["CallEscalated", "IncidentOpened"]
    assert last_two[1][1].payload["call_id"] == call_id
    assert str(last_two[1][1].originator_id) == answer["incident_id"]


def test_a_transfer_is_one_transaction_out_of_one_place_into_another(api):
    source, house = centre(api, capacity=3), centre(api, capacity=2, kind="safe_house", name="House")
    client = api.ok(f"/centres/{source}/admissions", {"route": "police"})["client_id"]
    api.ok(f"/centres/{source}/holding", {"client_id": client, "days": 15, "destination_kind": "safe_house"})
    # Before the holding period is served: only with a supervisor's recorded override.
    api.ok(f"/centres/{source}/transfers", {"client_id": client, "to_centre_id": house,
                                            "override_reason": "a court order moves her today"})
    (p1, out), (p2, into) = _log(api)[-2:]
    assert (out.type, into.type) == ("ClientTransferredOut", "ClientTransferredIn")
    assert p2 == p1 + 1 or api.system.settings.store == "postgres"  # PostgreSQL ids may have gaps
    assert (str(out.originator_id), str(into.originator_id)) == (source, house)
    assert api.system.follower.wait_for(p2)
    _, rows = api.system.follower.snapshot()
    assert rows[f"centre/{source}"]["occupied"] == 0
    assert list(rows[f"centre/{house}"]["clients"]) == [client]


def test_a_transfer_cut_between_its_two_sides_stores_neither(api, monkeypatch):
    """The power goes after the place is left and before the other is entered: the recorder has
    written the ClientTransferredOut row in the open transaction, then fails. Neither side is
    stored, the client is still where she was, and the same command succeeds afterwards."""
    source, house = centre(api, capacity=3), centre(api, capacity=2, kind="safe_house", name="House")
    client = api.ok(f"/centres/{source}/admissions", {"route": "police"})["client_id"]
    api.ok(f"/centres/{source}/holding", {"client_id": client, "days": 15, "destination_kind": "safe_house"})
    recorder = api.system.app.recorder
    # SQLite writes the rows in _insert_events; PostgreSQL in _insert_stored_events (one statement).
    name = "_insert_stored_events" if hasattr(type(recorder), "_insert_stored_events") else "_insert_events"
    write = getattr(recorder, name)
    cut: list[str] = []

    def power_cut(curs, stored_events, **kw):
        sides = {str(s.originator_id) for s in stored_events}
        if {source, house} <= sides:  # the two sides come to the recorder together
            out = [s for s in stored_events if str(s.originator_id) == source]
            write(curs, out, **kw)  # one side is in the transaction...
            cut.append(source)
            raise RuntimeError("the power went between the two sides")  # ...and the other never comes
        return write(curs, stored_events, **kw)

    before = _log(api)
    monkeypatch.setattr(recorder, name, power_cut)
    body = {"client_id": client, "to_centre_id": house, "override_reason": "a court order moves her today"}
    with pytest.raises(RuntimeError, match="between the two sides"):  # the test client re-raises the 500's cause
        api.post(f"/centres/{source}/transfers", body)
    assert cut, "the failure was injected"
    after = _log(api)
    assert [p for p, _ in after] == [p for p, _ in before], [(p, e.type, str(e.originator_id)) for p, e in after]
    assert not {"ClientTransferredOut", "ClientTransferredIn"} & {e.type for _, e in after}

    monkeypatch.setattr(recorder, name, write)  # the power is back: the same command, whole
    api.ok(f"/centres/{source}/transfers", body)
    assert [e.type for _, e in _log(api)[-2:]] == ["ClientTransferredOut", "ClientTransferredIn"]
    assert api.system.follower.wait_for(_log(api)[-1][0])
    _, rows = api.system.follower.snapshot()
    assert rows[f"centre/{source}"]["occupied"] == 0
    assert list(rows[f"centre/{house}"]["clients"]) == [client]


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["postgres"])
def test_a_commit_whose_acknowledgement_was_lost_is_stored_once(api, monkeypatch):
    """The connection drops after PostgreSQL committed a batch but before it said so: the
    recorder tries again, meets its own rows, and answers with them — not a conflict, which
    would make the writer decide again and store a call without a chosen id a second time."""
    from eventsourcing.persistence import OperationalError

    from eoc.app.recorders import PostgresRecorder

    insert_once = PostgresRecorder._insert_once
    lost: list = []

    def acknowledgement_lost(self, stored_events, **kwargs):
        ids = insert_once(self, stored_events, **kwargs)
        if stored_events and not lost:
            lost.append(list(ids))
            raise OperationalError("server closed the connection unexpectedly")
        return ids

    stored_already = PostgresRecorder._stored_already
    checks: list = []

    def check_cut_once(self, stored_events):  # the connection is still unsteady: the check fails once
        checks.append(len(stored_events))
        if len(checks) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return stored_already(self, stored_events)

    monkeypatch.setattr(PostgresRecorder, "_insert_once", acknowledgement_lost)
    monkeypatch.setattr(PostgresRecorder, "_stored_already", check_cut_once)
    before = api.stored().count("CallReceived")
    answer = api.ok("/calls", {**QZV})  # no call_id: the writer's own id
    assert lost, "the first attempt was never cut"
    assert len(checks) == 2  # tried again after the cut check, as after a cut insert
    assert api.stored().count("CallReceived") == before + 1
    assert answer["position"] == max(lost[0])


def test_the_library_s_database_function_for_inserts_is_refused():
    """With POSTGRES_ENABLE_DB_FUNCTIONS the library inserts by a database function, which would
    write no Idempotency-Key outcome: the recorder refuses to start rather than lose them."""
    from eventsourcing.postgres import PostgresDatastore

    from eoc.app.recorders import PostgresRecorder

    datastore = object.__new__(PostgresDatastore)
    datastore.enable_db_functions = True
    with pytest.raises(ValueError, match="POSTGRES_ENABLE_DB_FUNCTIONS"):
        PostgresRecorder(datastore)


def test_a_failing_batch_callback_does_not_fail_the_commands_it_committed(api, caplog):
    """The writer's metrics callback runs after the commit: its failure is logged, and the
    command is answered as stored (it was), its keys kept."""
    writer = api.system.service.writer

    def broken(size):
        raise RuntimeError("metrics are down")

    writer.on_batch = broken
    answer = api.ok("/calls", {**QZV, "caller": {"name": "Zahra", "phone": "09120000002"}})
    assert api.system.keyring.get(answer["caller_id"]) is not None
    assert "the batch callback failed" in caplog.text


def test_an_unreachable_caller_index_takes_the_caller_as_new_and_the_call_is_stored(api, monkeypatch, caplog):
    def unreachable(phone):
        raise OSError("the caller index is unreachable")

    monkeypatch.setattr(api.system.service.callers, "match", unreachable)
    before = api.stored().count("CallReceived")
    answer = api.ok("/calls", {**QZV, "caller": {"name": "Zahra", "phone": "09120000003"}})
    assert answer["caller_id"] and api.stored().count("CallReceived") == before + 1
    assert "the caller index did not answer (OSError)" in caplog.text and "0912" not in caplog.text


def test_holding_period_ends_15_to_20_days_later_and_becomes_a_due_transfer(make_system):
    from events.envelope import iso
    from projections.views import summary

    clock = FakeClock()
    system = make_system(clock=clock)
    from tests.support.system import Api

    api = Api(system)
    centre_id = centre(api)
    client = api.ok(f"/centres/{centre_id}/admissions", {"route": "line_123"})["client_id"]
    ends = api.ok(f"/centres/{centre_id}/holding", {"client_id": client, "days": 18,
                                                    "destination_kind": "health_house"})["holding_ends_at"]
    assert ends == iso(clock.now.replace() + __import__("datetime").timedelta(days=18))
    system.follower.wait_for(system.app.recorder.max_notification_id())
    _, rows = system.follower.snapshot()
    early = summary(rows, iso(clock.now))["centres"][0]
    assert early["holding"][0]["days_left"] == 18.0 and early["transfers_due"] == 0
    late = summary(rows, iso(clock.advance(days=17, hours=12)))["centres"][0]
    assert late["holding"][0]["days_left"] == 0.5 and late["transfers_due"] == 1
    r = api.post(f"/centres/{centre_id}/holding", {"client_id": client, "days": 30, "destination_kind": "safe_house"})
    assert r.status_code == 422 and "days" in r.json()["reason"]


def test_secret_places_are_stored_without_their_location(api):
    house = centre(api, kind="safe_house", name="House", location={"lat": 36.123456, "lon": 50.654321})
    registered = [e for _, e in _log(api) if str(e.originator_id) == house][0]
    assert registered.payload["secret"] is True and "location" not in registered.payload
    assert "36.123456" not in str(registered.payload)
    assert api.system.unseal_place(house, registered.payload["sealed_location"]) == {"lat": 36.123456, "lon": 50.654321}


def test_two_registrations_of_one_chosen_secret_place_id_leave_the_winner_s_location_readable(api, monkeypatch):
    """Two requests register a safe house with the same client-chosen id at once (a double
    submit without an Idempotency-Key): both find no key for the place and both get the same one
    made. The loser is refused (already exists); it must not erase the key the winner's stored
    location is sealed with."""
    import threading

    house = str(uuid4())
    subject = f"place:{house}"
    keyring = api.system.service.keyring
    get = keyring.get
    both_looked = threading.Barrier(2, timeout=10)

    def looked_at_once(s):
        found = get(s)
        if s == subject:
            both_looked.wait()  # neither makes the key before both have looked for it
        return found

    monkeypatch.setattr(keyring, "get", looked_at_once)
    body = {**QZV, "centre_id": house, "name": "House", "kind": "safe_house", "capacity": 4,
            "location": {"lat": 36.123456, "lon": 50.654321}}
    answers: list = []
    senders = [threading.Thread(target=lambda: answers.append(api.post("/centres", body))) for _ in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(20)
    assert sorted(a.status_code for a in answers) == [201, 409]
    monkeypatch.setattr(keyring, "get", get)
    registered = [e for _, e in _log(api) if str(e.originator_id) == house]
    assert len(registered) == 1
    assert api.system.unseal_place(house, registered[0].payload["sealed_location"]) == {"lat": 36.123456,
                                                                                       "lon": 50.654321}


def test_personal_details_are_sealed_with_the_subjects_own_key(api):
    answer = api.ok("/calls", {**QZV, "caller": {"name": "Zahra", "phone": "09120000000"}})
    received = _log(api)[-1][1]
    assert "Zahra" not in str(received.payload) and "0912" not in str(received.payload)
    assert received.payload["caller"] == answer["caller_id"]
    import pytest

    from events.sealing import Unreadable, unseal

    key = api.system.keyring.get(answer["caller_id"])
    assert unseal(key, received.payload["caller_sealed"])["name"] == "Zahra"
    assert api.system.keyring.erase(answer["caller_id"])  # erasure: the key goes, the event stays
    with pytest.raises(Unreadable):
        unseal(api.system.keyring.get(answer["caller_id"]), received.payload["caller_sealed"])


def test_a_caller_index_failing_after_the_commit_keeps_the_stored_callers_key(api, monkeypatch, caplog):
    """The call is committed, then the index of known numbers fails: the call's sealed caller
    must stay readable (its key was erased with "the command failed" before) and the call answered."""
    from events.sealing import unseal

    def broken(phone, caller):
        raise OSError("the caller index is unreachable")

    monkeypatch.setattr(api.system.service.callers, "remember", broken)
    answer = api.ok("/calls", {**QZV, "caller": {"name": "Zahra", "phone": "09120000001"}})
    received = _log(api)[-1][1]
    key = api.system.keyring.get(answer["caller_id"])
    assert key is not None and unseal(key, received.payload["caller_sealed"])["name"] == "Zahra"
    assert "caller index" in caplog.text and "0912" not in caplog.text


def test_a_commit_whose_outcome_is_unknown_keeps_the_keys_it_made(api, monkeypatch):
    """The store commits a call, then the writer hears an error (the acknowledgement lost, and
    the database gone for longer than the retries): the answer is a 500 "may not have been
    stored". The keys the command made must stay — with them erased, the stored caller's
    details were sealed with a key that no longer exists (crypto-shredded by accident). A retry
    with the same Idempotency-Key then answers the stored call, and stores nothing new."""
    from eventsourcing.persistence import OperationalError
    from fastapi.testclient import TestClient

    from eoc.http.api import create_api
    from events.sealing import unseal

    app = api.system.app
    save_in_order = app.save_in_order

    def committed_then_cut(*args, **kwargs):
        save_in_order(*args, **kwargs)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(app, "save_in_order", committed_then_cut)
    http = TestClient(create_api(api.system), raise_server_exceptions=False)
    headers = {**api.token(role="call_taker"), "Idempotency-Key": "outcome-unknown-0001"}
    body = {**QZV, "caller": {"name": "Zahra", "phone": "09120000002"}}
    first = http.post("/api/v1/calls", json=body, headers=headers)
    assert first.status_code == 500 and "may not have been stored" in first.json()["reason"]
    received = [e for _, e in _log(api) if e.type == "CallReceived"]
    assert len(received) == 1  # it was stored: only its answer was lost
    caller = received[0].payload["caller"]
    key = api.system.keyring.get(caller)
    assert key is not None, "the stored call's caller key was erased"
    assert unseal(key, received[0].payload["caller_sealed"])["name"] == "Zahra"

    monkeypatch.setattr(app, "save_in_order", save_in_order)  # the database is back
    retried = http.post("/api/v1/calls", json=body, headers=headers)
    assert retried.status_code == 201, retried.text
    assert retried.json()["caller_id"] == caller and retried.headers.get("idempotent-replayed") == "true"
    assert [e.type for _, e in _log(api)].count("CallReceived") == 1


def test_a_refused_command_erases_the_keys_it_made(api, monkeypatch):
    """The other side of the rule: a command refused by a rule stored nothing, so the key made
    for it (for a caller id the request made up) goes again."""
    keyring = api.system.service.keyring
    create = keyring.create
    made: list[str] = []
    monkeypatch.setattr(keyring, "create", lambda subject: (made.append(subject), create(subject))[1])
    call_id = str(uuid4())
    api.ok("/calls", {**QZV, "call_id": call_id})
    r = api.post("/calls", {**QZV, "call_id": call_id, "caller": {"name": "Zahra"}})  # the id is taken
    assert r.status_code == 409, r.text
    assert len(made) == 1 and keyring.get(made[0]) is None


def test_a_v1_call_in_the_store_is_read_as_v2(api):
    """Calls stored before 1480 hand-overs were recorded (v1: no line, caller_details) read as v2."""
    app, call_id = api.system.app, uuid4()
    v1 = {"type": "CallReceived", "version": 1, "id": str(uuid4()), "aggregate_id": str(call_id),
          "aggregate_version": 1, "occurred_at": "2024-08-28T10:00:00.000Z", "province": "QZV",
          "county": "Qazvin", "actor": {"role": "call_taker", "user": "u1"}, "exercise": False,
          "payload": {"caller": "S-old-caller", "caller_details": "sealed-v1-token",
                      "received_at": "2024-08-28T10:00:00.000Z"}}
    old = Call._create(RecordedCreation, id=call_id, type="CallReceived", version=1, event_id=v1["id"],
                       occurred_at=v1["occurred_at"], province="QZV", county="Qazvin", actor=v1["actor"],
                       exercise=False, payload=v1["payload"], chain=link(GENESIS, v1))
    app.save(old)
    stored = _log(api)[-1][1]
    assert stored.version == 1 and "line" not in stored.payload  # stored as it was written
    envelope = to_envelope(stored)
    assert envelope.version == 2
    assert envelope.payload == {"line": "123", "caller": "S-old-caller", "caller_sealed": "sealed-v1-token",
                                "received_at": "2024-08-28T10:00:00.000Z"}
    # The aggregate rebuilt from v1 takes v2 commands, and the boards count the old call.
    api.ok(f"/calls/{call_id}/classify", {"category": "family_dispute", "priority": "normal"})
    assert api.system.follower.wait_for(_log(api)[-1][0])
    _, rows = api.system.follower.snapshot()
    from projections.period_figures import day_rows

    day = day_rows(rows)["QZV/2024-08-28"]  # an old day: in the period figures, not the live window
    assert day["calls"] == 1 and day["calls_by_category"] == {"family_dispute": 1}


def test_the_follower_is_woken_by_the_write_not_by_polling(make_system):
    system = make_system()
    system.follower.idle_wait_s = 3600  # without a wake-up it would sleep for an hour
    system.follower.wake()  # let the sleeping thread pick up the new wait
    from tests.support.system import Api

    api = Api(system)
    position = api.ok("/teams", {**QZV, "name": "QZV-7", "home": IN_QAZVIN})["position"]
    assert system.follower.wait_for(position, timeout=30)
    team_id = api.ok("/teams", {**QZV, "name": "QZV-8", "home": IN_QAZVIN})["team_id"]
    assert system.follower.wait_for(position + 1, timeout=30)
    assert system.follower.snapshot()[1][f"team/{team_id}"]["name"] == "QZV-8"


def test_a_commit_is_folded_on_the_writers_thread_before_its_answer(make_system):
    """The writer hands its commit's stored rows to the follower, which folds them there: the
    boards show a command's effect by the time its answer leaves, with no wake-up of the
    follower's thread (asleep for an hour here) and no read back from the store."""
    import threading

    from tests.support.system import Api

    system = make_system()
    system.follower.idle_wait_s = 3600
    system.follower.wake()
    folded_on: list[str] = []
    system.follower.listeners.append(lambda seq, changes: folded_on.append(threading.current_thread().name))
    reads: list[str] = []  # the threads that read the log back
    select = system.app.recorder.select_notifications

    def counted(*args, **kwargs):
        reads.append(threading.current_thread().name)
        return select(*args, **kwargs)

    system.app.recorder.select_notifications = counted
    api = Api(system)
    applied = system.follower.applied
    answer = api.ok("/teams", {**QZV, "name": "QZV-9", "home": IN_QAZVIN})
    assert system.follower.position >= answer["position"]  # no wait_for: already folded
    assert system.follower.snapshot()[1][f"team/{answer['team_id']}"]["name"] == "QZV-9"
    assert system.follower.applied > applied and system.follower.duplicates == 0
    assert folded_on == ["eoc-writer"]
    assert "eoc-writer" not in reads and "MainThread" not in reads  # (the sleeping thread's own wake may read)


def test_rows_another_writer_stored_are_read_from_the_store_in_order(make_system, tmp_path):
    """A commit that does not come next after what is folded (another process wrote between)
    is not folded on the spot: the follower reads the store from its position, so nothing is
    skipped, nothing folded twice, and the order is the log's."""
    from tests.support.system import Api

    data = tmp_path / "two-writers"
    system = make_system(data_dir=data)
    other = make_system(data_dir=data)  # a second writer on the same store, its follower off
    other.follower.stop()
    api, other_api = Api(system), Api(other)
    team(api)
    for _ in range(2):
        classified_call(other_api)  # rows this follower was not handed
    team(api)  # handed, but after a gap: read from the store
    last = system.app.recorder.max_notification_id()
    assert system.follower.wait_for(last, timeout=30)
    everything = [to_envelope(system.app.mapper.to_domain_event(n), position=n.id)
                  for n in system.app.recorder.select_notifications(start=0, limit=10_000)]
    assert system.follower.snapshot()[1] == fold(everything).rows
    assert system.follower.duplicates == 0 and system.follower.applied == len(everything)


def test_a_failing_commit_listener_fails_neither_the_command_nor_the_boards(make_system, caplog):
    from tests.support.system import Api

    system = make_system()

    def broken(recordings):
        raise RuntimeError("a listener's own bug")

    system.app.committed_listeners.insert(0, broken)
    answer = Api(system).ok("/teams", {**QZV, "name": "QZV-10", "home": IN_QAZVIN})
    assert system.follower.wait_for(answer["position"])
    assert system.follower.snapshot()[1][f"team/{answer['team_id']}"]["name"] == "QZV-10"
    assert "a commit listener failed; the commit stands" in caplog.text
    assert system.app.recorder.max_notification_id() == answer["position"]


def test_the_follower_catches_up_from_its_checkpoint_after_a_restart(make_system, tmp_path):
    from tests.support.system import Api

    data = tmp_path / "restart"
    first = make_system(data_dir=data, checkpoint=True)
    api = Api(first)
    team(api)
    centre(api)
    first.follower.wait_for(first.app.recorder.max_notification_id())
    first.follower.stop()  # a clean stop writes the checkpoint
    folded_before = first.follower.position

    writer = make_system(data_dir=data, checkpoint=False)  # writes while no follower runs
    writer.follower.stop()
    wapi = Api(writer)
    for _ in range(5):
        classified_call(wapi)

    again = make_system(data_dir=data, checkpoint=True)
    last = again.app.recorder.max_notification_id()
    assert again.follower.wait_for(last)
    assert again.follower.applied == 10, "only the events after the checkpoint were read"
    everything = [to_envelope(again.app.mapper.to_domain_event(n), position=n.id)
                  for n in again.app.recorder.select_notifications(start=0, limit=10_000)]
    assert again.follower.snapshot()[1] == fold(everything).rows
    assert folded_before < last


def test_a_checkpoint_ahead_of_its_store_is_not_trusted(make_system, tmp_path):
    from consumers.follower import FileCheckpoint
    from tests.support.system import Api

    data = tmp_path / "reset"
    data.mkdir()
    FileCheckpoint(data / "boards.json").save(500, {"team/ghost": {"province": "QZV"}})
    system = make_system(data_dir=data, checkpoint=True)
    team_id = team(Api(system))
    assert system.follower.wait_for(system.app.recorder.max_notification_id())
    rows = system.follower.snapshot()[1]
    assert "team/ghost" not in rows and f"team/{team_id}" in rows
