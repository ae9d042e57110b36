"""The exchange as a Kafka topic (cluster mode): ``eoc exchange`` follows the boards and keeps
``eoc.exchange.partner`` holding, per province, what a partner organization of that province may
read — the same documents and the same policy as the HTTP feed (eoc/http/exchange.py):

* every open incident as a NENA EIDO JSON message (key ``<province>/eido/<incident id>``),
* every centre's availability as an OASIS EDXL-HAVE 1.0 HospitalStatus with that one centre
  (key ``<province>/edxl-have/<centre id>``),
* every current alert as an OASIS CAP 1.2 message (key ``<province>/cap/<alert key>``).

The topic is compacted: the latest document per key, a tombstone when the incident closes, the
alert ends, or the row stops being exportable. What goes on it is filtered by
``eoc.exchange.policy.exportable_rows`` for the role ``partner`` of the row's province: a safe or
health house, any alert about one, drills and anything the partner role may not see never
reach the topic at all — not even as a tombstone's key (a key is written only for a row that
was exportable, and a row that was never exportable has no key to delete).

Records of a province go to that province's partition (murmur2 of the province, as on every
co-partitioned topic), so a gateway serving one province's partners reads one partition.

Delivery: at least once. On start it reads the partner topic (which keys hold a document) and
the boards from the beginning, writes what differs (documents and tombstones), then follows
the boards. A restart writes the current documents again under the same keys; compaction keeps
the latest, so a repeat changes nothing for a reader of the topic.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer

from consumers.board_topic import from_start, read_to_end
from consumers.kafka_codec import decode_row
from consumers.topics import Layout
from eoc.exchange import cap, eido, have
from eoc.exchange.policy import exportable_rows
from events.envelope import iso
from projections.batches import BatchGate

log = logging.getLogger(__name__)

PARTNER_ROLE = "partner"
EIDO = "eido"
HAVE = "edxl-have"
CAP = "cap"
MEDIA = {EIDO: "application/json", HAVE: "application/xml", CAP: "application/cap+xml"}
STANDARD = {EIDO: "NENA-STA-021 EIDO JSON", HAVE: "OASIS EDXL-HAVE 1.0", CAP: "OASIS CAP 1.2"}


def exchange_key(board_key: str, row: Any) -> str | None:
    """The partner topic's key for a board row, or None if the row is not exchanged at all."""
    if not isinstance(row, dict) or board_key.startswith("drill/"):
        return None
    province = row.get("province")
    if not province:
        return None
    kind, _, rest = board_key.partition("/")
    if kind == "incident":
        return f"{province}/{EIDO}/{rest}"
    if kind == "centre":
        return f"{province}/{HAVE}/{rest}"
    if kind == "alert" and row.get("kind") in cap.KINDS:
        return f"{province}/{CAP}/{rest}"
    return None


def document(board_key: str, row: Any, sent_at: str) -> tuple[str, dict[str, Any]] | None:
    """(key, value) of the partner record for one board row, or None if it may not leave.

    The row goes through the same policy as the HTTP feed, for a partner of its own province.
    """
    key = exchange_key(board_key, row)
    if key is None:
        return None
    province = row["province"]
    allowed = exportable_rows({board_key: row}, PARTNER_ROLE, province)
    if board_key not in allowed:
        return None
    seen = allowed[board_key]
    standard = key.split("/")[1]
    if standard == EIDO:
        content: Any = eido.incident_eido(seen, sent_at)
    elif standard == HAVE:
        content = have.have_status({board_key: seen}, sent_at).decode()
        if "<have:Hospital>" not in content:  # have_status leaves out what it may not send
            return None
    else:
        content = cap.cap_alert(board_key, seen, sent_at).decode()
    return key, {"standard": STANDARD[standard], "media_type": MEDIA[standard], "province": province,
                 "sent": sent_at, "content": content}


def encode(value: dict[str, Any] | None) -> bytes | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class ExchangePublisher:
    """Keeps ``eoc.exchange.partner`` in step with the boards. ``run()`` blocks until ``stop()``."""

    def __init__(self, bootstrap: str, layout: Layout, *, clock: Callable[[], datetime] | None = None,
                 heartbeat: Callable[[], None] | None = None) -> None:
        self.bootstrap = bootstrap
        self.layout = layout
        self.clock = clock or (lambda: datetime.now(UTC))
        self.heartbeat = heartbeat or (lambda: None)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                      linger_ms=5, client_id="eoc-exchange")
        self.rows: dict[str, Any] = {}  # the boards' exchanged rows (board key -> row)
        self.published: dict[str, str] = {}  # partner key -> the board row it was made from (JSON)
        self.sent = 0
        self.ready = threading.Event()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def _partition(self, key: str) -> int:
        return self.layout.partition_for(key.split("/", 1)[0])

    def _existing_keys(self) -> set[str]:
        """The keys that hold a document on the partner topic now."""
        consumer, tps = from_start(self.bootstrap, self.layout.exchange_partner, client_id="eoc-exchange-resume")
        try:
            held: set[str] = set()

            def fold(records: list[Any]) -> None:
                for record in records:
                    (held.add if record.value is not None else held.discard)(record.key.decode())

            read_to_end(consumer, tps, fold, 60.0)
            return held
        finally:
            consumer.close()

    def _publish(self, changes: dict[str, Any]) -> None:
        """Write the partner records that ``changes`` (board key -> row or None) call for."""
        sent_at = iso(self.clock())
        topic = self.layout.exchange_partner
        for board_key, row in changes.items():
            old = self.rows.get(board_key)
            old_key = exchange_key(board_key, old) if old is not None else None
            if row is None:
                self.rows.pop(board_key, None)
            elif exchange_key(board_key, row) is not None:
                self.rows[board_key] = row
            made = document(board_key, row, sent_at) if row is not None else None
            new_key = made[0] if made else None
            if old_key and old_key != new_key and old_key in self.published:
                self._send(topic, old_key, None)  # closed, ended, or no longer exportable
            if made and new_key is not None:
                fingerprint = json.dumps(row, sort_keys=True, ensure_ascii=False)
                if self.published.get(new_key) != fingerprint:
                    self._send(topic, new_key, made[1], fingerprint)

    def _send(self, topic: str, key: str, value: dict[str, Any] | None, fingerprint: str = "") -> None:
        self.producer.send(topic, key=key.encode(), value=encode(value), partition=self._partition(key))
        if value is None:
            self.published.pop(key, None)
        else:
            self.published[key] = fingerprint
        self.sent += 1

    def run(self) -> None:
        held = self._existing_keys()
        boards = self.layout.boards
        consumer, tps = from_start(self.bootstrap, boards, client_id="eoc-exchange-boards")
        try:
            snapshot: dict[str, Any] = {}
            gate = BatchGate()  # a worker's batch whole or not at all (projections.batches)

            def fold(records: list[Any]) -> None:
                snapshot.update(gate.feed(records[0].partition, [(r.key.decode(), decode_row(r.value)) for r in records]))

            read_to_end(consumer, tps, fold, 120.0)
            self._publish({k: v for k, v in snapshot.items() if v is not None})
            for stale in held - set(self.published):  # on the topic, but no longer exportable
                self._send(self.layout.exchange_partner, stale, None)
            self.producer.flush()
            self.ready.set()
            log.info("exchange: %d documents on %s; following %s", len(self.published),
                     self.layout.exchange_partner, boards)
            while not self._stop.is_set():
                polled = consumer.poll(timeout_ms=500, max_records=10_000)
                self.heartbeat()
                if not polled:
                    continue
                changes: dict[str, Any] = {}
                for records in polled.values():
                    changes.update(gate.feed(records[0].partition,
                                             [(r.key.decode(), decode_row(r.value)) for r in records]))
                self._publish(changes)
                self.producer.flush()
        finally:
            consumer.close()

    def close(self) -> None:
        """Hand Kafka what is still buffered, then close the producer (even if the flush failed)."""
        self.stop()
        try:
            self.producer.flush(timeout=10)
        finally:
            self.producer.close(timeout=10)
