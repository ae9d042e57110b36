"""Every finding of the hostile-input review: refused with a status, one error shape and a
reason, and nothing stored anywhere (event count, keyring, boards unchanged).

Runs against SQLite and a real PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import threading
import uuid

import pytest

from tests.support.scenario import IN_QAZVIN, QZV, centre, team
from tests.support.scenario import incident as incident_for


def keys(system) -> int:
    """Rows in the keyring (sealed personal data and secret places each get one)."""
    ring = system.keyring
    if hasattr(ring, "_db"):
        return ring._db.execute("SELECT count(*) FROM subject_keys").fetchone()[0]
    with ring._pool.connection() as conn:
        return conn.execute("SELECT count(*) FROM subject_keys").fetchone()[0]


def state(api) -> tuple[int, int, dict]:
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id() or 0)
    return len(api.stored()), keys(api.system), api.system.follower.snapshot()[1]


def refused(api, path, body=None, status=422, error="invalid_command", *, reason_has="", raw=None,
            headers=None, method="post", **kw):
    """Send, check the answer's status and shape, and that nothing was stored anywhere."""
    before = state(api)
    if raw is not None or headers is not None or method != "post":
        hdrs = {**api.token(), "content-type": "application/json", **(headers or {})}
        r = api.http.request(method.upper(), f"/api/v1{path}", content=raw, headers=hdrs)
    else:
        r = api.post(path, body, **kw)
    assert r.status_code == status, r.text
    answer = r.json()
    assert set(answer) >= {"error", "reason"} and "detail" not in answer, answer
    assert answer["error"] == error, answer
    assert isinstance(answer["reason"], str) and reason_has in answer["reason"], answer
    assert state(api) == before, "a refused request stored something"
    return answer


# ------------------------------------------------------------------ moments


@pytest.mark.parametrize("moment", ["0999-12-31T00:00:00Z", "1998-12-31T23:59:59Z", "1999-03-20T12:00:00Z"])
def test_a_call_before_the_service_existed_is_refused(api, moment):
    refused(api, "/calls", {**QZV, "received_at": moment}, reason_has="before the service existed")


@pytest.mark.parametrize("moment", ["2200-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00"])
def test_a_call_in_the_future_is_refused(api, moment):
    refused(api, "/calls", {**QZV, "received_at": moment}, reason_has="future")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00-01:00",
                                    "9999-12-31T23:59:59-14:00"])
def test_moments_at_the_ends_of_the_calendar_are_422_not_500(api, moment):
    refused(api, "/calls", {**QZV, "received_at": moment})
    team_id = team(api)
    refused(api, f"/teams/{team_id}/check-in-missed", {"due_at": moment}, role="dispatcher")
    refused(api, f"/teams/{team_id}/position", {"position": IN_QAZVIN, "reported_at": moment})


def test_a_moment_without_an_offset_or_as_a_number_is_refused(api):
    team_id = team(api)
    refused(api, f"/teams/{team_id}/check-in-missed", {"due_at": 1732000000}, role="dispatcher")
    refused(api, f"/teams/{team_id}/check-in-missed", {"due_at": "2024-08-28T02:13:00"}, role="dispatcher")


# ------------------------------------------------------------------ tokens


def test_a_token_with_a_non_ascii_byte_is_401(api):
    before = state(api)
    r = api.http.post("/api/v1/calls", json=QZV, headers={"Authorization": b"Bearer abc.d\xe9f"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized", r.text
    assert state(api) == before


# ------------------------------------------------------------------ sizes


def test_a_40_mb_body_is_refused_before_it_is_read_or_the_token_looked_at(api):
    before = state(api)
    big = b'{"province": "QZV", "county": "' + b"x" * (40 * 1024 * 1024) + b'"}'
    # No token at all: the size is checked first, so the answer is 413, not 401.
    r = api.http.post("/api/v1/calls", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "body_too_large", r.text[:200]
    assert state(api) == before


def test_a_shift_of_huge_member_names_is_never_stored(api):
    team_id = team(api, on_shift=False)
    members = ["x" * 1_300_000] * 8
    refused(api, f"/teams/{team_id}/shift/start", {"shift": "morning", "members": members}, 413, "body_too_large")
    refused(api, f"/teams/{team_id}/shift/start", {"shift": "morning", "members": ["x" * 81]},
            reason_has="at most 80")
    refused(api, f"/teams/{team_id}/shift/start", {"shift": "morning", "members": [f"m{i}" for i in range(9)]})


def test_a_query_parameter_given_twice_is_refused_not_read_as_its_last(api):
    """``?limit=true&limit=5`` would pass as limit=5 (the framework keeps the last value): the
    first, not an integer, was never looked at. Found by the contract run's negative data."""
    refused(api, "/follow-ups?limit=true&limit=5", method="get", reason_has="query.limit: given more than once")
    refused(api, "/calls?x=1&x=2", raw=b"{}", reason_has="query.x")
    r = api.http.get("/api/v1/follow-ups?limit=5&offset=0", headers=api.token())
    assert r.status_code == 200 and r.json()["limit"] == 5, r.text


def test_too_many_or_too_large_headers_are_431(api):
    refused(api, "/calls", headers={"x-junk": "j" * 9000}, raw=b"{}", status=431, error="headers_too_large")
    many = {f"x-h{i}": "1" for i in range(80)}
    refused(api, "/calls", headers=many, raw=b"{}", status=431, error="headers_too_large")


# ------------------------------------------------------------------ text and places


@pytest.mark.parametrize("name", ["Team\x00one", "Team \x1b[31mred", "Team\u202eeno", "Team\u2066x",
                                  "line\nbreak", " padded"])
def test_control_and_bidi_characters_in_names_are_refused(api, name):
    refused(api, "/teams", {**QZV, "name": name, "home": IN_QAZVIN}, reason_has="not allowed")


def test_free_text_refuses_control_characters_but_keeps_persian(api):
    centre_id = centre(api, capacity=0)
    refused(api, f"/centres/{centre_id}/close", {"reason": "moved\x1b[2J"})
    # The zero-width non-joiner (نیم‌فاصله) is part of Persian writing, and stays.
    assert api.ok(f"/centres/{centre_id}/close", {"reason": "انتقال به ساختمان\u200cهای جدید\nدر کرج"})


@pytest.mark.parametrize("county", ["[/]", "Karaj", "Tehran", "", "x" * 61])
def test_a_county_must_be_one_of_the_provinces_counties(api, county):
    refused(api, "/calls", {"province": "QZV", "county": county})


def test_a_county_by_its_persian_name_is_stored_under_its_reference_name(api):
    call_id = api.ok("/calls", {"province": "QZV", "county": "تاکستان"})["call_id"]
    api.system.follower.wait_for(api.system.app.recorder.max_notification_id())
    assert api.system.app.repository.get(uuid.UUID(call_id)).county == "Takestan"


CITIES_ABROAD = {"Doha": (25.29, 51.53), "Baghdad": (33.31, 44.36), "Basra": (30.51, 47.81),
                 "Erbil": (36.19, 44.01), "Kuwait City": (29.37, 47.98), "Dubai": (25.20, 55.27),
                 "Ashgabat": (37.95, 58.38), "Herat": (34.35, 62.20)}


@pytest.mark.parametrize("city", sorted(CITIES_ABROAD))
def test_an_incident_abroad_is_refused(api, city):
    lat, lon = CITIES_ABROAD[city]
    refused(api, "/incidents", {**QZV, "route": "police", "category": "child_abuse", "priority": "high",
                                "location": {"lat": lat, "lon": lon}}, reason_has="outside Iran")


# ------------------------------------------------------------------ coercion


@pytest.mark.parametrize("path, body", [
    ("/centres", {**QZV, "name": "C", "kind": "residential_level_1", "capacity": "1000", "location": IN_QAZVIN}),
    ("/centres", {**QZV, "name": "C", "kind": "residential_level_1", "capacity": True, "location": IN_QAZVIN}),
    ("/centres", {**QZV, "name": "C", "kind": "residential_level_1", "capacity": 4.0, "location": IN_QAZVIN}),
    ("/calls", {**QZV, "exercise": "yes"}),
    ("/calls", {**QZV, "exercise": 1}),
    ("/calls", {**QZV, "caller": {"age": False}}),
    ("/calls", {**QZV, "caller": {"age": "30"}}),
    ("/teams", {**QZV, "name": "T", "home": {"lat": "36.27", "lon": 50.0}}),
    ("/teams", {**QZV, "name": "T", "home": {"lat": True, "lon": 50.0}}),
    ("/teams", {**QZV, "name": 7, "home": IN_QAZVIN}),
])
def test_no_value_is_coerced(api, path, body):
    refused(api, path, body)


# ------------------------------------------------------------------ authorization first


def test_a_refused_admission_writes_no_key(api):
    """Wrong role, wrong province, unknown centre, outpatient centre: the client's details
    were never sealed, so the keyring is unchanged (``refused`` checks it)."""
    residential = centre(api)
    outpatient = centre(api, kind="outpatient", capacity=0)
    person = {"route": "self", "client": {"name": "مریم", "age": 30}}
    refused(api, f"/centres/{residential}/admissions", person, 403, "forbidden", role="dispatcher")
    refused(api, f"/centres/{residential}/admissions", person, 404, "not_found", role="centre_staff",
            province="ALB")
    refused(api, f"/centres/{uuid.uuid4()}/admissions", person, 404, "not_found", role="centre_staff")
    refused(api, f"/centres/{outpatient}/admissions", person, 409, "not_residential", reason_has="keeps no one",
            role="centre_staff")  # a rule of the service (issue 14): 409, not a field
    refused(api, f"/centres/{residential}/admissions", {**person, "incident_id": str(uuid.uuid4())}, 404,
            "not_found", role="centre_staff")


def test_a_wrong_role_is_refused_before_the_id_is_looked_up(api):
    # An unknown id and a real one answer the same 403 to a role that may not act.
    team_id = team(api)
    known = refused(api, f"/teams/{team_id}/dispatch", {"incident_id": str(uuid.uuid4())}, 403, "forbidden",
                    role="call_taker")
    unknown = refused(api, f"/teams/{uuid.uuid4()}/dispatch", {"incident_id": str(uuid.uuid4())}, 403,
                      "forbidden", role="call_taker")
    assert known == unknown


# ------------------------------------------------------------------ the framework's refusals


def test_framework_refusals_answer_in_the_project_shape(api):
    refused(api, "/calls", raw=b"[" * 100_000 + b"]" * 100_000, status=413, error="body_too_large")
    refused(api, "/calls", raw=b"[" * 30_000 + b"]" * 30_000, status=400, error="malformed_json")
    refused(api, "/calls", raw=b'{"province": "QZV", "county": ' + b"9" * 20_000 + b"}", status=400,
            error="malformed_json")
    refused(api, "/nothing/here", raw=b"{}", status=404, error="not_found")
    refused(api, "/calls", method="put", raw=b"{}", status=405, error="method_not_allowed")
    refused(api, "/calls", raw=b"province=QZV", headers={"content-type": "application/x-www-form-urlencoded"},
            status=415, error="unsupported_media_type")


def test_options_on_a_command_path_names_the_commands_own_method(api):
    r = api.http.options("/api/v1/calls")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.json()["error"] == "method_not_allowed"
    r = api.http.get("/api/v1/no-such-board", headers=api.token())
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_openapi_documents_every_refusal_with_the_real_error_schema(api):
    doc = api.http.get("/openapi.json").json()
    assert "ErrorAnswer" in doc["components"]["schemas"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if method != "post":
                continue
            codes = set(op["responses"])
            assert {"400", "401", "403", "404", "409", "413", "415", "422", "431"} <= codes, (path, codes)
            assert any(c.startswith("2") for c in codes), path
            for code in codes - {c for c in codes if c.startswith("2")}:
                schema = op["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorAnswer"}, (path, code)
            assert any(p["name"] == "Idempotency-Key" for p in op.get("parameters", [])), path


# ------------------------------------------------------------------ retries


def test_a_retried_call_with_the_same_idempotency_key_stores_one_call(api):
    headers = {**api.token(), "Idempotency-Key": "retry-0001-abcdef"}
    first = api.http.post("/api/v1/calls", json={**QZV, "caller": {"name": "سارا"}}, headers=headers)
    assert first.status_code == 201, first.text
    before = state(api)
    again = api.http.post("/api/v1/calls", json={**QZV, "caller": {"name": "سارا"}}, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert state(api) == before
    other = api.http.post("/api/v1/calls", json={**QZV, "county": "Takestan"}, headers=headers)
    assert other.status_code == 409 and other.json()["error"] == "idempotency_key_reused"
    assert state(api) == before


def test_idempotency_keys_are_per_user(api):
    key = {"Idempotency-Key": "same-key-for-two"}
    a = api.http.post("/api/v1/calls", json=QZV, headers={**api.token(sub="alice"), **key})
    b = api.http.post("/api/v1/calls", json=QZV, headers={**api.token(sub="bob"), **key})
    assert a.status_code == b.status_code == 201
    assert a.json()["call_id"] != b.json()["call_id"]


def test_a_retried_create_with_its_own_id_cannot_make_two(api):
    call_id = str(uuid.uuid4())
    assert api.ok("/calls", {**QZV, "call_id": call_id})["call_id"] == call_id
    refused(api, "/calls", {**QZV, "call_id": call_id}, 409, "already_exists")
    team_id = str(uuid.uuid4())
    assert api.ok("/teams", {**QZV, "team_id": team_id, "name": "T", "home": IN_QAZVIN})["team_id"] == team_id
    refused(api, "/teams", {**QZV, "team_id": team_id, "name": "T", "home": IN_QAZVIN}, 409, "already_exists")


def _on_keys(api, sql: str, *params) -> None:
    """``sql`` (its placeholders written ``{p}``) on the key store's table, whichever the store."""
    store = api.system.idempotency
    if hasattr(store, "_db"):
        store._db.execute(sql.format(p="?"), params)
    else:
        with store._pool.connection() as conn:
            conn.execute(sql.format(p="%s"), params)


def _lose_the_answer(api, key: str) -> None:
    """As if the server were killed between the commit and the answer: the key's row keeps only
    what was written with the events (its outcome), and its owner is a dead process."""
    _on_keys(api, "UPDATE idempotency_keys SET status=NULL, answer=NULL, owner='dead-process' WHERE key={p}", key)


def _outcome_of(api, key: str) -> bytes | None:
    store = api.system.idempotency
    sql = "SELECT outcome FROM idempotency_keys WHERE key={p}"
    if hasattr(store, "_db"):
        row = store._db.execute(sql.format(p="?"), (key,)).fetchone()
    else:
        with store._pool.connection() as conn:
            row = conn.execute(sql.format(p="%s"), (key,)).fetchone()
    return None if row is None or row[0] is None else bytes(row[0])


def test_the_idempotency_outcome_is_committed_with_the_events_and_answers_a_retry(api):
    """A retry whose first answer was lost after the commit gets the first answer from the
    outcome stored with the events: a create, a transition the rules would now refuse as a
    repeat, and a declined admission (409, recorded) alike; nothing new is stored."""
    team_id = team(api)
    api.ok(f"/teams/{team_id}/dispatch", {"incident_id": incident_for(api)})
    cases = [
        ("/calls", {**QZV, "call_id": str(uuid.uuid4()), "caller": {"name": "سارا"}}, 201),
        (f"/teams/{team_id}/status", {"status": "en_route"}, 200),
        (f"/teams/{team_id}/check-in", {"position": IN_QAZVIN}, 200),
    ]
    full = centre(api, capacity=1)
    api.ok(f"/centres/{full}/admissions", {"route": "line_123"})
    cases.append((f"/centres/{full}/admissions", {"route": "line_123", "client": {"name": "مریم"}}, 409))
    for n, (path, body, status) in enumerate(cases):
        key = f"lost-answer-{n}-{uuid.uuid4().hex[:8]}"
        headers = {**api.token(), "Idempotency-Key": key}
        first = api.http.post(f"/api/v1{path}", json=body, headers=headers)
        assert first.status_code == status, first.text
        assert _outcome_of(api, key) is not None, path  # written with the events
        _lose_the_answer(api, key)
        before = state(api)
        again = api.http.post(f"/api/v1{path}", json=body, headers=headers)
        assert (again.status_code, again.json()) == (status, first.json()), (path, again.text)
        if status < 300:  # rendered as its route rendered it: the same bytes
            assert again.content == first.content, path
        assert again.headers["idempotent-replayed"] == "true"
        assert state(api) == before, path
        if n < 2:  # without the key, the chosen id or the rules refuse these as repeats
            plain = api.http.post(f"/api/v1{path}", json=body, headers=api.token())
            assert plain.status_code == 409, (path, plain.text)


def _age_key(api, key: str, hours: float) -> None:
    """Make the key's row ``hours`` old, then open the key store again (as a restart does: old
    keys are forgotten when it opens)."""
    import time

    from eoc.app.idempotency import PostgresKeyStore, SQLiteKeyStore

    store = api.system.idempotency
    sql = "UPDATE idempotency_keys SET created={p} WHERE key={p}"
    if hasattr(store, "_db"):
        store._db.execute(sql.format(p="?"), (time.time() - hours * 3600, key))
        SQLiteKeyStore(str(api.system.settings.sqlite_path)).close()
    else:
        with store._pool.connection() as conn:
            conn.execute(sql.format(p="%s"), (time.time() - hours * 3600, key))
        PostgresKeyStore(api.system.settings.pg_dsn).close()


def test_idempotency_keys_are_kept_at_least_24_hours_across_restarts(api):
    body = {**QZV, "call_id": str(uuid.uuid4())}
    headers = {**api.token(), "Idempotency-Key": "kept-a-day-0001"}
    first = api.http.post("/api/v1/calls", json=body, headers=headers)
    assert first.status_code == 201
    _age_key(api, "kept-a-day-0001", 25)
    again = api.http.post("/api/v1/calls", json=body, headers=headers)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    _age_key(api, "kept-a-day-0001", 49)  # past KEEP (48 h): forgotten; the chosen id still refuses a second call
    before = state(api)
    late = api.http.post("/api/v1/calls", json=body, headers=headers)
    assert late.status_code == 409 and late.json()["error"] == "already_exists"
    assert "idempotent-replayed" not in late.headers and state(api) == before


def test_a_refused_command_writes_no_outcome_and_its_retry_gets_the_same_refusal(api):
    key = "refused-first-0001"
    headers = {**api.token(), "Idempotency-Key": key}
    missing = uuid.uuid4()
    before = state(api)
    first = api.http.post(f"/api/v1/teams/{missing}/status", json={"status": "en_route"}, headers=headers)
    assert first.status_code == 404 and first.json()["error"] == "not_found"
    assert _outcome_of(api, key) is None  # nothing was committed, so no outcome either
    again = api.http.post(f"/api/v1/teams/{missing}/status", json={"status": "en_route"}, headers=headers)
    assert (again.status_code, again.json()) == (404, first.json())
    assert state(api) == before


def _retry_while_held(api, key: str, held: threading.Event, go_on: threading.Event, what: str):
    """A new call with ``key`` sent, and sent again while the first waits (until ``held``) in
    a place a test holds it; then ``go_on``. The first's answer, the retry's, and the body."""
    headers = {**api.token(), "Idempotency-Key": key}
    body = {**QZV, "call_id": str(uuid.uuid4())}
    first: dict = {}
    runner = threading.Thread(target=lambda: first.update(
        answer=api.http.post("/api/v1/calls", json=body, headers=headers)))
    runner.start()
    try:
        assert held.wait(30), f"the first command never reached {what}"
        retry = api.http.post("/api/v1/calls", json=body, headers=headers)
    finally:
        go_on.set()
        runner.join(30)
    return first["answer"], retry, body, headers


def test_a_retry_while_the_first_still_runs_is_told_so_and_the_first_is_stored_once(api, monkeypatch):
    """A retry while the first is being decided hears "in progress"; once the first is
    committed (its answer not yet written), the retry gets the first's answer; nothing twice."""
    from eoc.app.writer import BatchWriter

    held, go_on = threading.Event(), threading.Event()
    decide = BatchWriter._decide

    def held_decide(self, batch, uow):  # the first command waits here, before it is decided
        held.set()
        go_on.wait(30)
        return decide(self, batch, uow)

    monkeypatch.setattr(BatchWriter, "_decide", held_decide)
    first, during, body, headers = _retry_while_held(api, "in-progress-0001", held, go_on, "the writer")
    monkeypatch.setattr(BatchWriter, "_decide", decide)
    assert during.status_code == 409 and during.json()["error"] == "idempotency_in_progress"
    assert first.status_code == 201

    answering, answer_on = threading.Event(), threading.Event()
    commit = BatchWriter._commit

    def held_commit(self, batch, attempt=1):  # committed; the first's answer waits here
        commit(self, batch, attempt)
        if not answering.is_set():
            answering.set()
            answer_on.wait(30)

    monkeypatch.setattr(BatchWriter, "_commit", held_commit)
    second, committed, _, _ = _retry_while_held(api, "in-progress-0002", answering, answer_on, "its answer")
    assert (committed.status_code, committed.json()) == (201, second.json())
    assert committed.headers["idempotent-replayed"] == "true"
    before = state(api)
    later = api.http.post("/api/v1/calls", json=body, headers=headers)
    assert (later.status_code, later.json()) == (201, first.json())
    assert later.headers["idempotent-replayed"] == "true" and state(api) == before


def test_another_command_under_a_key_the_first_still_runs_hears_the_key_is_reused(api, monkeypatch):
    """While the first command of a key is being decided, a request with the same key and another
    body is a reused key — as a retry of it will hear once the first is stored — not "in
    progress", which a workspace waits out and sends again."""
    from eoc.app.writer import BatchWriter

    held, go_on = threading.Event(), threading.Event()
    decide = BatchWriter._decide

    def held_decide(self, batch, uow):
        held.set()
        go_on.wait(30)
        return decide(self, batch, uow)

    monkeypatch.setattr(BatchWriter, "_decide", held_decide)
    headers = {**api.token(), "Idempotency-Key": "reused-while-0001"}
    first: dict = {}
    runner = threading.Thread(target=lambda: first.update(
        answer=api.http.post("/api/v1/calls", json={**QZV, "call_id": str(uuid.uuid4())}, headers=headers)))
    runner.start()
    try:
        assert held.wait(30)
        other = api.http.post("/api/v1/calls", json={**QZV, "call_id": str(uuid.uuid4())}, headers=headers)
    finally:
        go_on.set()
        runner.join(30)
    monkeypatch.setattr(BatchWriter, "_decide", decide)
    assert first["answer"].status_code == 201
    assert (other.status_code, other.json()["error"]) == (409, "idempotency_key_reused")
    again = api.http.post("/api/v1/calls", json={**QZV, "call_id": str(uuid.uuid4())}, headers=headers)
    assert (again.status_code, again.json()["error"]) == (409, "idempotency_key_reused")


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["postgres"])  # a server's claims run in threads; SQLite's on the loop, in turn
def test_a_second_request_of_a_key_claims_only_after_the_first_so_the_first_runs(api, monkeypatch):
    """Two requests of one key at once in one API, with different bodies (a key reused while its
    first command runs): the second's claim must not reach the store before the first's, or it
    would take the row with its body — the second answered "in progress", the first "reused",
    and neither stored."""
    store = api.system.idempotency
    claim = store.claim
    held, go_on = threading.Event(), threading.Event()
    seconds_claim_before_the_first: list[bool] = []
    key = "two-at-once-0001"
    first_body, second_body = ({**QZV, "call_id": str(uuid.uuid4())} for _ in range(2))
    first_request = None

    def held_claim(principal, k, request):
        nonlocal first_request
        if first_request is None:
            first_request = request
            held.set()
            go_on.wait(10)
        elif request != first_request:
            seconds_claim_before_the_first.append(not go_on.is_set())
        return claim(principal, k, request)

    monkeypatch.setattr(store, "claim", held_claim)
    headers = {**api.token(), "Idempotency-Key": key}
    answers: dict = {}

    def send(name, body):
        answers[name] = api.http.post("/api/v1/calls", json=body, headers=headers)

    first = threading.Thread(target=send, args=("first", first_body))
    first.start()
    assert held.wait(10), "the first request never reached its claim"
    second = threading.Thread(target=send, args=("second", second_body))
    second.start()
    second.join(0.3)  # the second is in: it waits for the first's claim (before the fix, it claimed now)
    go_on.set()
    first.join(10)
    second.join(10)
    assert seconds_claim_before_the_first == [False]
    assert answers["first"].status_code == 201, answers["first"].text
    assert (answers["second"].status_code, answers["second"].json()["error"]) == (409, "idempotency_key_reused")
    assert api.stored().count("CallReceived") == 1  # the first's, once


@pytest.mark.postgres
@pytest.mark.parametrize("store", ["postgres"])
def test_a_second_request_whose_first_ended_storing_nothing_leaves_no_pending_row(api, monkeypatch):
    """The first's claim fails (a pool timeout) while a second of the same key waits for it: the
    second's own claim then writes the row, and it answers "in progress". It must let that row go,
    or every other API would answer "in progress" for ten minutes and nothing would run it."""
    store = api.system.idempotency
    claim = store.claim
    held, go_on = threading.Event(), threading.Event()
    calls = []

    def failing_first(principal, k, request):
        calls.append(request)
        if len(calls) == 1:
            held.set()
            go_on.wait(10)
            raise TimeoutError("the key store's pool had no connection")
        return claim(principal, k, request)

    monkeypatch.setattr(store, "claim", failing_first)
    key = "first-failed-0001"
    headers = {**api.token(), "Idempotency-Key": key}
    body = {**QZV, "call_id": str(uuid.uuid4())}
    answers: dict = {}

    def send(name):
        try:
            answers[name] = api.http.post("/api/v1/calls", json=body, headers=headers)
        except TimeoutError as exc:  # the test client raises what the server raised
            answers[name] = exc

    first = threading.Thread(target=send, args=("first",))
    first.start()
    assert held.wait(10)
    second = threading.Thread(target=send, args=("second",))
    second.start()
    second.join(0.3)
    go_on.set()
    first.join(10)
    second.join(10)
    assert isinstance(answers["first"], TimeoutError)
    assert answers["second"].status_code == 409 and answers["second"].json()["error"] == "idempotency_in_progress"
    with store._pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM idempotency_keys WHERE key = %s", (key,)).fetchone() == (0,)
    monkeypatch.setattr(store, "claim", claim)
    retry = api.http.post("/api/v1/calls", json=body, headers=headers)
    assert retry.status_code == 201, retry.text


def test_a_pending_key_of_this_process_that_no_request_runs_is_run_again(api):
    """A refused command's answer lost with a database that restarted (the key rows do not wait
    for the disk; eoc/app/idempotency.py says why that is safe): the row stays pending, owned by
    this live process. Its retry runs the command again, not "in progress" until a restart."""
    key = "lost-refusal-0001"
    headers = {**api.token(), "Idempotency-Key": key}
    missing = uuid.uuid4()
    first = api.http.post(f"/api/v1/teams/{missing}/status", json={"status": "en_route"}, headers=headers)
    assert first.status_code == 404
    _on_keys(api, "UPDATE idempotency_keys SET status=NULL, answer=NULL WHERE key={p}", key)  # owner: still us
    again = api.http.post(f"/api/v1/teams/{missing}/status", json={"status": "en_route"}, headers=headers)
    assert (again.status_code, again.json()) == (404, first.json())
    assert "idempotent-replayed" not in again.headers  # run again, not replayed


def test_a_claim_lost_with_a_database_that_restarted_is_written_again_with_the_events(api, monkeypatch):
    """The claim does not wait for the disk: a database that crashes and comes back before the
    command's commit has lost it, while the command is still on its way. Its events must carry
    their key all the same (the outcome is written as the whole row), or the retry runs it twice."""
    from eoc.app.writer import BatchWriter

    key = "claim-lost-0001"
    decide = BatchWriter._decide

    def lose_the_claim(self, batch, uow):
        _on_keys(api, "DELETE FROM idempotency_keys WHERE key={p}", key)
        return decide(self, batch, uow)

    monkeypatch.setattr(BatchWriter, "_decide", lose_the_claim)
    headers = {**api.token(), "Idempotency-Key": key}
    body = {**QZV, "call_id": str(uuid.uuid4())}
    first = api.http.post("/api/v1/calls", json=body, headers=headers)
    monkeypatch.setattr(BatchWriter, "_decide", decide)
    assert first.status_code == 201, first.text
    assert _outcome_of(api, key) is not None  # the row is back, with the events' outcome
    before = state(api)
    again = api.http.post("/api/v1/calls", json=body, headers=headers)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true" and state(api) == before


def test_a_stored_commands_answer_is_its_outcome_and_only_a_refusal_writes_one(api, monkeypatch):
    """A keyed command that stored events has its key's row written once, with them: its answer
    is not written again after the commit (a retry renders it from the outcome, and writes that
    rendering for the retries after it). A refusal, which stores nothing, writes its answer."""
    store = api.system.idempotency
    written: list[tuple[str, int]] = []
    write = store.answer

    def answer(principal, key, request, status, body):
        written.append((key, status))
        return write(principal, key, request, status, body)

    monkeypatch.setattr(store, "answer", answer)
    headers = {**api.token(), "Idempotency-Key": "stored-once-0001"}
    body = {**QZV, "call_id": str(uuid.uuid4())}
    first = api.http.post("/api/v1/calls", json=body, headers=headers)
    assert first.status_code == 201 and written == []
    assert _outcome_of(api, "stored-once-0001") is not None
    before = state(api)
    again = api.http.post("/api/v1/calls", json=body, headers=headers)
    assert (again.status_code, again.json(), again.headers["idempotent-replayed"]) == (201, first.json(), "true")
    assert written == [("stored-once-0001", 201)] and state(api) == before
    third = api.http.post("/api/v1/calls", json=body, headers=headers)
    assert (third.status_code, third.json()) == (201, first.json()) and len(written) == 1  # the written answer
    refused_headers = {**api.token(), "Idempotency-Key": "refused-once-0001"}
    missing = uuid.uuid4()
    refusal = api.http.post(f"/api/v1/teams/{missing}/status", json={"status": "en_route"}, headers=refused_headers)
    assert refusal.status_code == 404 and written[1:] == [("refused-once-0001", 404)]
    repeat = api.http.post(f"/api/v1/teams/{missing}/status", json={"status": "en_route"}, headers=refused_headers)
    assert (repeat.status_code, repeat.json(), repeat.headers["idempotent-replayed"]) == (404, refusal.json(), "true")


def test_key_rows_do_not_wait_for_the_disk_and_the_events_with_their_outcomes_do(api):
    store = api.system.idempotency
    if hasattr(store, "_db"):  # SQLite: the keys' connection NORMAL (1), the event store's FULL (2)
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1
        with api.system.app.recorder.datastore.transaction(commit=True) as cursor:  # the writer's
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 2
    else:
        with store._pool.connection() as conn:
            assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "off"
        with api.system.app.recorder.datastore.get_connection() as conn:
            assert conn.execute("SHOW synchronous_commit").fetchone()["synchronous_commit"] == "on"


def test_a_malformed_idempotency_key_is_refused(api):
    refused(api, "/calls", headers={"Idempotency-Key": "short"}, raw=b'{"province": "QZV", "county": "Qazvin"}',
            status=422, error="invalid_command", reason_has="Idempotency-Key")
