"""Position reports in the cluster: from the command API to Kafka, never to the event store.

The API checks a report like a command (``CommandService.report_position``) and hands the
envelope to ``TelemetryPublisher.publish``, which sends it

* to ``eoc.telemetry.positions`` (bounded history: 24 hours), keyed by team and written to the
  team's *province* partition, so that the worker that folds the province's events also folds
  its teams' positions into the same shard of its board table; and
* to ``eoc.positions.latest`` (compacted, keyed by team): the last kept report of each team
  (the live map's newer positions are the ``position/`` rows on ``eoc.boards``).

The API sends the reports its thinning kept (with their place in the position track) and
the ones it only shows (eoc/app/track.py: the live map moves up to four times a second per
team); the worker folds both into the board (``position/<team>`` rows). Losing a report to a
crash costs one dot on the map until the next one: the producer waits for the leader only
(acks=1) and does not block the request.

While Kafka is down the API goes on taking commands (they need only PostgreSQL): reports
wait in a bounded buffer and go out when Kafka is back (a thread checks every second); when
the buffer is full a report is refused (``Backpressure``, which the API answers with 503). A
report only shown is not held: it is dropped (``dropped``), as a newer one will move the map.
The outage is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from consumers.kafka_codec import BATCH_REPORTS, batch_record, event_record
from consumers.topics import Layout
from events.envelope import Envelope

log = logging.getLogger(__name__)


class Backpressure(Exception):
    """Kafka is down and the buffer of position reports is full."""


def kafka_down(bootstrap: str, timeout_s: float = 1.0) -> str | None:
    """None when one of the bootstrap servers accepts a connection; else why not, one line."""
    problems = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout_s):
                return None
        except (OSError, ValueError) as exc:
            problems.append(f"{server.strip()}: {getattr(exc, 'strerror', None) or exc}")
    return "; ".join(problems) or "no bootstrap server"


class TelemetryPublisher:
    """The ``telemetry`` callback of the cluster's CommandService."""

    track: Any = None  # the cluster's position track (eoc/app/track.py), closed with the publisher

    def __init__(self, bootstrap: str, layout: Layout, producer: KafkaProducer | None = None, *,
                 buffer: int = 10_000, timeout_s: float = 5.0, retry_s: float = 1.0,
                 make_producer: Callable[[], KafkaProducer] | None = None) -> None:
        self.bootstrap = bootstrap
        self.layout = layout
        self.limit = buffer
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self._make = make_producer or (lambda: KafkaProducer(
            bootstrap_servers=bootstrap, acks=1, enable_idempotence=False, linger_ms=5,
            client_id="eoc-api-telemetry", bootstrap_timeout_ms=int(timeout_s * 1000),
            max_block_ms=int(timeout_s * 1000), reconnect_backoff_max_ms=1_000,
            metrics_enabled=False))  # the client's own sensors: read by nobody (relay.producer_config)
        self.producer: KafkaProducer | None = producer
        self.published = 0
        self.failed = 0
        self.refused = 0
        self.held = 0  # reports that waited in the buffer (all time)
        self.shown = 0  # reports only shown, sent (in batch records)
        self.dropped = 0  # reports only shown, not sent while Kafka was down
        self._buffer: deque[Envelope] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.down: str | None = None  # why Kafka is out of reach, while it is
        self._thread: threading.Thread | None = None
        if producer is None:
            self._thread = threading.Thread(target=self._connect_loop, name="eoc-telemetry-kafka", daemon=True)
            self._thread.start()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def counts(self) -> dict[str, int]:
        return {"published": self.published, "held": self.held, "refused": self.refused, "failed": self.failed,
                "shown": self.shown, "dropped": self.dropped}

    def __call__(self, envelope: Envelope) -> None:
        self.publish(envelope)

    def publish(self, envelope: Envelope) -> None:
        with self._lock:
            producer = self.producer
            if producer is None or self._buffer:
                self._hold(envelope)
                return
        try:
            self._send(envelope, producer)
        except KafkaError as exc:  # the producer's own buffer is full and Kafka does not answer
            with self._lock:
                self._lost(exc)
                self._hold(envelope)

    def publish_many(self, envelopes: list[Envelope]) -> None:
        """A batch of reports: sent together (the producer batches them per partition), or held
        together while Kafka is down; a batch the buffer has no room for is refused whole."""
        with self._lock:
            producer = self.producer
            if producer is None or self._buffer:
                if len(self._buffer) + len(envelopes) > self.limit:
                    self.refused += len(envelopes)
                    raise Backpressure(f"Kafka at {self.bootstrap} is down and {len(self._buffer)} position "
                                       f"reports already wait for it (at most {self.limit})")
                for envelope in envelopes:
                    self._hold(envelope)
                return
        sent = 0
        try:
            for envelope in envelopes:
                self._send(envelope, producer)
                sent += 1
        except KafkaError as exc:
            with self._lock:
                self._lost(exc)
                for envelope in envelopes[sent:]:
                    self._hold(envelope)

    def publish_shown(self, envelopes: list[Envelope]) -> None:
        """Reports only shown (not kept, eoc/app/track.py): one record per province on the
        telemetry topic (``batch_record``: a send per request, not per report). Not on the
        compacted latest positions, which keep each team's last kept report: the map's newest
        position is the ``position/`` row on eoc.boards. Never held: while Kafka is down they are
        dropped (``dropped``), as a newer report will move the map."""
        with self._lock:
            producer = self.producer
            if producer is None or self._buffer:
                self.dropped += len(envelopes)
                return
        by_province: dict[str, list[Envelope]] = {}
        for envelope in envelopes:
            by_province.setdefault(envelope.province, []).append(envelope)
        layout = self.layout
        sent = 0
        try:
            for province, group in by_province.items():
                # A record of at most BATCH_REPORTS (about half a megabyte): under the producer's
                # and the topic's 1 MB limits even for a 5,000-report request of one province.
                for start in range(0, len(group), BATCH_REPORTS):
                    chunk = group[start:start + BATCH_REPORTS]
                    value, headers = batch_record(chunk)
                    producer.send(layout.telemetry, key=province.encode(), value=value, headers=headers,
                                  partition=layout.partition_for(province)).add_errback(self._failed)
                    sent += len(chunk)
        except KafkaError as exc:
            with self._lock:
                self._lost(exc)
                self.dropped += len(envelopes) - sent
            self.shown += sent
            return
        self.shown += sent

    def _hold(self, envelope: Envelope) -> None:
        if len(self._buffer) >= self.limit:
            self.refused += 1
            raise Backpressure(f"Kafka at {self.bootstrap} is down and {self.limit} position reports "
                               "already wait for it")
        self._buffer.append(envelope)
        self.held += 1

    def _send(self, envelope: Envelope, producer: KafkaProducer) -> None:
        value, headers = event_record(envelope)
        key = envelope.aggregate_id.encode()
        layout = self.layout
        producer.send(layout.telemetry, key=key, value=value, headers=headers,
                      partition=layout.partition_for(envelope.province)).add_errback(self._failed)
        producer.send(layout.positions_latest, key=key, value=value, headers=headers)
        self.published += 1

    def _lost(self, exc: BaseException) -> None:
        """The producer gave up on Kafka: hold reports again and reconnect in the thread."""
        if self.down is None:
            self.down = f"{type(exc).__name__}: {exc}"
            log.warning("Kafka at %s is down (%s): position reports wait (at most %s)",
                        self.bootstrap, self.down, self.limit)
        producer, self.producer = self.producer, None
        if producer is not None:
            threading.Thread(target=producer.close, kwargs={"timeout": 0}, daemon=True).start()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._connect_loop, name="eoc-telemetry-kafka", daemon=True)
            self._thread.start()

    def _connect_loop(self) -> None:
        since = time.monotonic()
        while not self._stop.is_set():
            problem = kafka_down(self.bootstrap)
            producer = None
            if problem is None:
                try:
                    producer = self._make()
                except Exception as exc:  # up on TCP, not yet answering as Kafka
                    problem = f"{type(exc).__name__}: {exc}"
            if producer is not None:
                with self._lock:
                    self.producer = producer
                    waiting = list(self._buffer)
                    self._buffer.clear()
                    try:
                        for envelope in waiting:
                            self._send(envelope, producer)
                    except KafkaError as exc:
                        self._buffer.extendleft(reversed(waiting[waiting.index(envelope):]))
                        self._lost(exc)
                        continue
                if self.down is not None:
                    log.warning("Kafka at %s is back after %.0f s: %s waiting position reports sent",
                                self.bootstrap, time.monotonic() - since, len(waiting))
                self.down = None
                return
            if self.down is None:
                self.down = problem
                log.warning("Kafka at %s is down (%s): position reports wait (at most %s), "
                            "commands go on", self.bootstrap, problem, self.limit)
            self._stop.wait(self.retry_s)

    def _failed(self, exc: BaseException) -> None:
        self.failed += 1
        log.warning("a position report was not published: %r", exc)

    def flush(self, timeout: float | None = None) -> None:
        if self.producer is not None:
            self.producer.flush(timeout=timeout)

    def close(self) -> None:
        self._stop.set()
        producer = self.producer
        if producer is None:
            return
        try:
            producer.flush(timeout=5)
        finally:
            producer.close(timeout=5)
