"""The store's reader decodes each stored row straight to its envelope (eoc/audit/stored.py):
over a seeded history, on each store, it gives exactly the envelope the library's mapper and
``to_envelope`` give — upcast or as stored — and for a row they cannot decode, their error."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from eoc.app.config import Settings
from eoc.app.keyring import SQLiteKeyring
from eoc.app.service import EOCApplication, open_application
from eoc.audit.sources import StoreSource
from eoc.audit.stored import StoredDecoder, recorded_iso
from eoc.domain import to_envelope
from eoc.domain.base import RecordedCreation
from events.chain import GENESIS, link
from events.envelope import iso
from tests.support.history import aggregates
from tests.support.poison import ALL, undecodable_row

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TOPIC = "eoc.domain.base:Recorded"


def _v1_call(app: Any) -> None:
    """A call stored before line numbers (v1): read upcast to v2, or as stored."""
    from eoc.domain import Call

    call_id = uuid4()
    v1 = {"type": "CallReceived", "version": 1, "id": str(uuid4()), "aggregate_id": str(call_id),
          "aggregate_version": 1, "occurred_at": "2024-08-28T10:00:00.000Z", "province": "QZV",
          "county": "Qazvin", "actor": {"role": "call_taker", "user": "u1"}, "exercise": False,
          "payload": {"caller": "S-old-caller", "caller_details": "sealed-v1-token",
                      "received_at": "2024-08-28T10:00:00.000Z"}}
    app.save(Call._create(RecordedCreation, id=call_id, type="CallReceived", version=1, event_id=v1["id"],
                          occurred_at=v1["occurred_at"], province="QZV", county="Qazvin", actor=v1["actor"],
                          exercise=False, payload=v1["payload"], chain=link(GENESIS, v1)))


def _hand_written(app: Any, template: dict[str, Any]) -> int:
    """Rows an older writer or a hand could have left: each one the short way must either read
    as the library does or leave to it. Returns how many."""
    def stamp(text: str) -> dict[str, str]:
        return {"_type_": "datetime_iso", "_data_": text}

    def changed(**fields: Any) -> bytes:
        state = {**template, **fields}
        return _dumps({k: v for k, v in state.items() if v is not _DROP})

    rows = [
        changed(timestamp=stamp("2026-11-23T11:30:00.123456+03:30")),  # not in UTC
        changed(timestamp=stamp("2026-11-23T08:00:00+00:00")),  # no fraction
        changed(timestamp=stamp("2026-11-23T08:00:00.000000+00:00")),  # a zero fraction
        changed(timestamp=stamp("2026-11-23T08:00:00.999999+00:00")),
        changed(timestamp=stamp("0999-12-31T23:59:59.500000+00:00")),  # year 999
        changed(timestamp=stamp("0001-01-01T00:00:00.000001+00:00")),
        changed(timestamp=stamp("2026-11-23T08:00:00.123456")),  # naive: iso() refuses it
        changed(timestamp=stamp("2026-11-23 08:00:00.123456+00:00")),  # a space for the T
        changed(timestamp=stamp("2026-W48-1T08:00:00.123456+00:00")),  # a week date
        changed(timestamp=stamp("2026-11-23T08:00:00.123+00:00")),  # milliseconds
        changed(timestamp=stamp("2026-11-23T08:00:00.123456Z")),
        changed(timestamp=stamp("yesterday")),
        changed(timestamp={"_type_": "datetime_iso", "_data_": 17}),
        changed(timestamp={"_type_": "vanished", "_data_": "x"}),  # no such transcoding
        changed(timestamp="2026-11-23T08:00:00.123456+00:00"),  # a plain string
        changed(timestamp=_DROP),
        changed(type=_DROP),
        changed(payload=_DROP),
        changed(type="Vanished"),  # no such event type
        changed(version=99),  # newer than this code
        changed(class_version=1),
        changed(payload={**template["payload"], "n": 12345678901234567890123}),  # past 64 bits
        changed(payload={**template["payload"], "n": -9223372036854775809}),
        changed(payload={**template["payload"], "n": 1.0, "m": -0.0, "k": 1e-300, "big": 18446744073709551615}),
        changed(payload={**template["payload"], "n": float("nan")}),
        changed(payload={**template["payload"], "at": {"_type_": "uuid_hex", "_data_": uuid4().hex}}),
        changed(payload={**template["payload"], "text": "\x1b[31m\u202e\x00"}),  # escapes
        changed(county="تهران"),
        b"[]",
        b"not json",
        b'{"a":1,"a":2}',
        _dumps(template) + b"\xff",
        _dumps(template).replace(b'"QZV"', b'"Q\\u005aV"'),
        changed(payload={**template["payload"], "at": {"_typ@_": "uuid_hex", "_data_": uuid4().hex}}).replace(
            b"_typ@_", b"_typ\\u0065_"),  # a transcoded object, its key spelled with an escape
        _dumps(template).replace(b'"timestamp"', b'"timest\\u0061mp"'),
    ]
    stored = [StoredEvent(originator_id=uuid4(), originator_version=1, topic=TOPIC, state=state) for state in rows]
    stored.append(StoredEvent(originator_id=uuid4(), originator_version=1, topic="eoc.vanished:Vanished",
                              state=rows[0]))
    app.recorder.insert_events(stored)
    return len(stored)


_DROP = object()


def _dumps(state: Any) -> bytes:
    """As the library's transcoder writes a state."""
    return json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode()


def _old_way(app: Any, n: Any, as_stored: bool) -> Any:
    try:
        return repr(to_envelope(app.mapper.to_domain_event(n), position=n.id, as_stored=as_stored))
    except Exception as exc:
        return ("refused", type(exc), str(exc))


def _new_way(decoder: StoredDecoder, n: Any, as_stored: bool) -> Any:
    try:
        return repr(decoder.envelope(n, as_stored=as_stored))
    except Exception as exc:
        return ("refused", type(exc), str(exc))


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def app(request: Any, tmp_path: Path) -> Any:
    if request.param == "memory":
        application = EOCApplication(env={})
    else:
        dsn = request.getfixturevalue("fresh_pg_dsn") if request.param == "postgres" else None
        application = open_application(Settings.from_env({}, store=request.param, pg_dsn=dsn, data_dir=tmp_path,
                                                          token_secret=b"x" * 40))
    yield application
    application.close()


def test_each_stored_row_reads_as_the_mapper_reads_it(app: Any) -> None:
    aggregates(app, keyring=SQLiteKeyring(":memory:"), seed=7).run(1_500)
    for save in [*ALL, undecodable_row]:
        save(app, NOW, "[/]")
    _v1_call(app)
    first = app.recorder.select_notifications(start=1, limit=1)[0]
    hand = _hand_written(app, orjson.loads(first.state))

    decoder = StoredDecoder(app.mapper)
    assert decoder.direct
    rows = list(app.recorder.select_notifications(start=0, limit=1_000_000))
    assert len(rows) > 1_500 + hand
    direct = 0
    for n in rows:
        for as_stored in (False, True):
            assert _new_way(decoder, n, as_stored) == _old_way(app, n, as_stored), (n.id, n.state)
        try:
            direct += decoder._direct(n, False) is not None
        except Exception:
            pass
    # The seeded history reads the short way (but for its few rows with escaped text).
    assert direct >= 0.95 * (len(rows) - hand)
    refused = [n for n in rows if isinstance(_old_way(app, n, False), tuple)]
    assert len(refused) >= 12  # the undecodable row and the hand-written ones the library refuses

    # The store's reader: the same envelopes, the same undecodable rows, the same words.
    told: list[tuple[int, str]] = []
    errors: list[tuple[str, str]] = []
    envelopes = list(StoreSource(app).envelopes(errors=errors, undecodable=lambda p, r: told.append((p, r))))
    expected = [e for e in (_old_way(app, n, False) for n in rows) if not isinstance(e, tuple)]
    assert [repr(e) for e in envelopes] == expected
    assert [p for p, _ in told] == [n.id for n in refused]
    assert [r for r, _ in errors] == [f"position {n.id}" for n in refused]
    # What the tamper check walks: each row as stored, or why it cannot be read.
    records = list(StoreSource(app).records())
    assert [r.value for r in records] == [_as_dict(app, n) for n in rows]
    assert [r.order[1] for r in records if r.error] == [n.id for n in rows if _as_dict(app, n) is None]


def _as_dict(app: Any, n: Any) -> Any:
    try:
        return to_envelope(app.mapper.to_domain_event(n), position=n.id, as_stored=True).to_dict()
    except Exception:
        return None


def test_a_recorded_moment_reads_as_iso_writes_it() -> None:
    for text in ["2026-11-23T08:00:00.123456+00:00", "2026-11-23T08:00:00+00:00", "0999-12-31T23:59:59.999999+00:00",
                 "2026-11-23T11:30:00.123456+03:30", "2026-11-23T08:00:00.000000+00:00", "2026-11-23T23:59:59+00:00",
                 "2026-11-23T08:00:00.123+00:00"]:
        assert recorded_iso(text) == iso(datetime.fromisoformat(text))
    with pytest.raises(ValueError):
        recorded_iso("2026-11-23T24:00:00.123456+00:00")
