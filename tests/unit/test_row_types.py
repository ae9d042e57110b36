"""Every row a fold writes is of its key's kind (projections/rows.py), field for field.

A seeded random history (tests/support/history.py) is folded, with the events a random history never
makes (workspaces, rosters, a poison event, a drill), and every row of the board is validated
strictly against the type ``ROW_KINDS`` gives its key: a field the type does not declare, a
missing one, a wrong type or a key of no kind fails. Every kind in the table must occur.
"""

from __future__ import annotations

import uuid
from datetime import date
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter, ValidationError

from bench.harm_history import draw, envelopes, seasonal_rates
from consumers import asyncapi
from eoc.app.keyring import SQLiteKeyring
from eoc.app.service import CommandService, EOCApplication
from events.catalogue import CATALOGUE
from events.envelope import Envelope
from events.vocabulary import NATIONAL, CentreKind, ReferralRoute, Role
from projections import Board, fold, undecodable
from projections.batches import batch_mark_row
from projections.rows import (
    NEVER_SEEN,
    ROW_KINDS,
    SEEN_KINDS,
    kind_of,
    row_type,
    schema_name,
    seen_schema_name,
    seen_type,
)
from projections.visibility import secret_counts, visible_rows
from tests.support.history import logged_envelopes, run_history
from tests.support.system import FakeClock


@cache
def adapter(kind: str) -> TypeAdapter[Any]:
    return TypeAdapter(ROW_KINDS[kind])


@cache
def validator(name: str) -> Draft202012Validator:
    """A schema of events/asyncapi.yaml, by name, with the document's other schemas to refer to."""
    schemas = asyncapi.build()["components"]["schemas"]
    return Draft202012Validator({**schemas[name], "components": {"schemas": schemas}})


def documented(kind: str) -> Draft202012Validator:
    """The kind's schema as the board topic's rows are documented."""
    return validator(schema_name(kind))


def check_documented(rows: dict[str, Any]) -> None:
    for key, row in rows.items():
        errors = [e.message for e in documented(kind_of(key)).iter_errors(row)]
        assert not errors, f"{key} breaks its AsyncAPI schema: {errors}"


def check_rows(rows: dict[str, Any]) -> set[str]:
    """Validate every row against its key's type; the kinds seen."""
    kinds = set()
    for key, row in rows.items():
        kind = kind_of(key)
        assert kind is not None, f"{key} is of no kind in projections/rows.py ROW_KINDS"
        try:
            adapter(kind).validate_python(row, strict=True)
        except ValidationError as exc:
            raise AssertionError(f"{key} is not a {ROW_KINDS[kind]}: {exc}\n{row}") from exc
        kinds.add(kind)
    return kinds


def _history(seed: int, steps: int) -> list[Envelope]:
    app = EOCApplication(env={})
    clock = FakeClock()
    service = CommandService(app, SQLiteKeyring(":memory:"), clock=clock)
    run_history(service, steps, seed, clock)
    return logged_envelopes(app)


class Events:
    """Envelopes written by hand, in log order after ``position``, for what a random history lacks."""

    def __init__(self, position: int, at: str) -> None:
        self.position, self.at, self.out = position, at, []

    def __call__(self, type_: str, aggregate_id: str, payload: dict[str, Any], *, exercise: bool = False,
                 province: str = "QZV") -> str:
        self.position += 1
        self.out.append(Envelope(
            type=type_, version=_version(type_), id=str(uuid.uuid4()), aggregate_id=aggregate_id,
            aggregate_version=1, occurred_at=self.at, recorded_at=self.at, province=province, county="Qazvin",
            actor={"role": "provincial_supervisor", "user": "u"}, exercise=exercise, payload=payload,
            position=self.position))
        return aggregate_id


def _version(type_: str) -> int:
    return CATALOGUE[type_].VERSION


def hand_made(after: int, at: str) -> list[Envelope]:
    """Workspaces, rosters, a secret house, a drill and a poison event: rows of every kind a
    random history of tests/support/history.py does not make."""
    e = Events(after, at)
    new = lambda: str(uuid.uuid4())  # noqa: E731
    here = {"lat": 36.27, "lon": 50.0}
    team = e("TeamRegistered", new(), {"name": "QZV-hand", "home": here})
    e("ShiftStarted", team, {"shift": "morning", "members": ["a"], "skills": ["psychologist"]})
    call = e("CallReceived", new(), {"line": "123", "caller": "subject-1", "received_at": at})
    incident = e("IncidentOpened", new(), {"route": list(ReferralRoute)[0].value, "category": "spouse_abuse",
                                           "priority": "urgent", "location": here, "call_id": call})
    e("IncidentCallLinked", incident, {"call_id": call})
    e("TeamConflictRecorded", incident, {"team_id": team, "reason": "a relative"})
    e("DuressRaised", team, {"covert": True, "incident_id": incident})
    centre = e("CentreRegistered", new(), {"name": "c", "kind": list(CentreKind)[0].value, "capacity": 3,
                                           "secret": False, "location": here})
    e("ClientAdmitted", centre, {"client": "client-1", "route": list(ReferralRoute)[0].value})
    e("HoldingPeriodStarted", centre, {"client": "client-1", "days": 15, "ends_at": at,
                                        "destination_kind": "safe_house"})
    e("ClientAdmitted", centre, {"client": "client-2", "route": list(ReferralRoute)[0].value})
    e("ClientAdmitted", centre, {"client": "client-3", "route": list(ReferralRoute)[0].value})  # full
    e("PlaceHeld", centre, {"hold_id": new(), "until": at, "incident_id": incident})
    e("CentreRegistered", new(), {"name": "h", "kind": "safe_house", "capacity": 2, "secret": True,
                                  "sealed_location": "sealed"})
    e("RosterSet", new(), {"county": "Qazvin", "shifts": {"morning": 2}})
    flag = e("DangerFlagRecorded", new(), {"kinds": ["dog"], "location": here, "expires_at": at, "review_at": at})
    e("DangerFlagReviewed", flag, {"decision": "keep", "expires_at": at})
    e("FollowUpScheduled", new(), {"subject": "call", "call_id": call, "due_at": at, "after_hours": 24})
    e("TeamDispatched", team, {"incident_id": new(), "priority": "urgent", "incident_opened_at": at},
      exercise=True)  # the real team in a drill
    e("CallLinked", call, {"incident_id": incident})
    e("RosterSet", new(), {"shifts": "not a pattern"})  # poison: a dead letter and its alert
    return e.out


def board_of(seed: int, steps: int) -> Board:
    history = _history(seed, steps)
    last = history[-1]
    board = fold([*history, *hand_made(max(e.position or 0 for e in history), last.recorded_at)])
    dead = {row["type"] for k, row in board.rows.items() if k.startswith("deadletter/")}
    assert dead == {"RosterSet"}, "only the poison event is a dead letter: the others are well made"
    undecodable(board, 10**9, "not an event")  # the other shape of dead letter
    return board


@cache
def harm_board() -> Board:
    """Eight months of cases with a spike at the end: harm series, an emerging-harm alert, and
    days that left the live figures (period figures)."""
    rng = np.random.default_rng(7)
    counts = draw(seasonal_rates(7 * 34, 4.0), rng)
    counts[-3:] = [int(x) for x in rng.poisson(12.0, 3)]
    return fold(envelopes("KSH", date(2024, 3, 23), {("Kermanshah", "suicide"): counts}))


def other_rows(rows: dict[str, Any]) -> dict[str, Any]:
    """Rows that cross a boundary without being folded: a viewer's secret-place counts and a
    worker's batch mark on the board topic."""
    return {**secret_counts(rows), "~batch/3": batch_mark_row(3, 12, {"eoc.events": 40})}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), steps=st.integers(60, 250))
def test_every_row_of_a_random_history_is_of_its_kind(seed, steps):
    board = board_of(seed, steps)
    check_rows(board.rows)
    check_rows(other_rows(board.rows))
    check_documented({**board.rows, **other_rows(board.rows)})


def test_every_kind_occurs():
    board = board_of(20261202, 600)
    seen = check_rows(board.rows) | check_rows(other_rows(board.rows)) | check_rows(harm_board().rows)
    assert set(ROW_KINDS) - seen == set()
    check_documented({**board.rows, **other_rows(board.rows), **harm_board().rows})
    assert any(k.startswith("drill/") for k in board.rows)


def test_a_field_no_type_declares_is_refused():
    board = board_of(7, 80)
    key = next(k for k in board.rows if kind_of(k) == "centre/")
    centre = board.rows[key]
    check_rows({key: centre})
    with pytest.raises(AssertionError, match="extra"):
        check_rows({key: {**centre, "surprise": 1}})
    stay = {"since": centre["since"], "holding_until": None, "bed": 4}  # nested types refuse too
    with pytest.raises(AssertionError, match="extra"):
        check_rows({key: {**centre, "clients": {"c1": stay}}})
    missing = {k: v for k, v in centre.items() if k != "capacity"}
    with pytest.raises(AssertionError, match="missing"):
        check_rows({key: missing})
    check_documented({key: centre})  # the document says the same
    for wrong in ({**centre, "surprise": 1}, missing, {**centre, "clients": {"c1": stay}}):
        with pytest.raises(AssertionError, match="AsyncAPI"):
            check_documented({key: wrong})


def test_the_board_topic_documents_every_kind():
    board_row = asyncapi.build()["components"]["schemas"]["BoardRow"]
    named = {ref["$ref"].rsplit("/", 1)[1] for ref in board_row["anyOf"] if "$ref" in ref}
    assert named == {schema_name(kind) for kind in ROW_KINDS}
    assert {"type": "null"} in board_row["anyOf"]  # a deleted row's tombstone


def test_a_key_of_no_kind_is_refused():
    with pytest.raises(AssertionError, match="no kind"):
        check_rows({"queue/QZV": {"province": "QZV"}})


def test_keys_find_their_kinds():
    assert kind_of("team/x") == kind_of("drill/team/x") == "team/"
    assert kind_of("harm/QZV") == "harm/"
    assert kind_of("harm/QZV/suicide/*") == "harm/*/"
    assert kind_of("alert/duress/t1") == "alert/duress/"
    assert kind_of("alert/other/t1") is None
    assert kind_of("team") is None
    assert row_type("applied/QZV").__supertype__ is int
    assert kind_of("figures/QZV/2026-01-02") == "figures/"


@cache
def seen_adapter(kind: str) -> TypeAdapter[Any]:
    return TypeAdapter(SEEN_KINDS[kind])


def seen_documented(kind: str) -> Draft202012Validator:
    """The kind's schema as what a screen receives is documented (DashboardRow)."""
    return validator(seen_schema_name(kind))


def check_seen(rows: dict[str, Any]) -> set[str]:
    """Every row every role receives, in its province and nationally, is of its kind's seen
    type (strictly) and as documented; no sealed location reaches anyone. The kinds seen."""
    kinds: set[str] = set()
    unseal = lambda centre, sealed: {"lat": 36.1, "lon": 50.2}  # noqa: E731  # a viewer with the keyring
    for role in Role:
        for province in ("QZV", NATIONAL):
            for unsealed in (None, unseal):
                for key, row in visible_rows(rows, role, province, unsealed).items():
                    kind, seen = kind_of(key), seen_type(key)
                    assert kind not in NEVER_SEEN and seen is not None, f"{role}/{province} got {key}"
                    try:
                        seen_adapter(kind).validate_python(row, strict=True)
                    except ValidationError as exc:
                        raise AssertionError(f"{role}/{province}: {key} is not a {seen.__name__}: {exc}\n{row}") from exc
                    errors = [e.message for e in seen_documented(kind).iter_errors(row)]
                    assert not errors, f"{key} as {role} sees it breaks DashboardRow: {errors}"
                    assert not isinstance(row, dict) or "sealed_location" not in row
                    kinds.add(kind)
    return kinds


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), steps=st.integers(60, 200))
def test_every_row_a_viewer_receives_is_of_its_seen_kind(seed, steps):
    check_seen(board_of(seed, steps).rows)


def test_every_seen_kind_reaches_some_viewer_and_secret_places_change_shape():
    board = board_of(20261202, 600)
    kinds = check_seen(board.rows) | check_seen(harm_board().rows)
    assert set(SEEN_KINDS) - kinds == set()
    # The hand-made secret house, as a call-taker of its province sees it: the seen type's shape.
    key = next(k for k, r in board.rows.items() if kind_of(k) == "centre/" and r["secret"])
    seen = visible_rows(board.rows, "dispatcher", "QZV")[key]
    assert seen["county"] is None and seen["location"] is None and "since" not in seen
    with pytest.raises(ValidationError):
        TypeAdapter(ROW_KINDS["centre/"]).validate_python(seen, strict=True)  # not a stored centre row


def test_the_page_reads_only_kinds_a_screen_receives():
    """The page's rows by prefix (rowsOf("team/"), ns() + "incident/", "drill/" + "centre/" …)
    are kinds of SEEN_KINDS: renaming a kind, or hiding one from screens, fails here."""
    import re
    from pathlib import Path

    static = Path(__file__).resolve().parents[2] / "ui-bridge" / "static"
    used: set[str] = set()
    for path in [*static.glob("*.js"), *static.glob("work/*.js")]:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'rowsOf\("([a-z_-]+/)"\)', text))
        used |= set(re.findall(r'(?:ns\(\)|"drill/"\)?) \+ "([a-z_-]+/)"', text))
    assert {"team/", "incident/", "centre/", "figures/", "alert/", "position/"} <= used
    for prefix in used:
        assert any(kind.startswith(prefix) for kind in SEEN_KINDS), f"the page reads {prefix}, which no screen receives"
