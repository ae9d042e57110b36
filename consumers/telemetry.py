"""Position reports in the cluster: from the command API to Kafka, never to the event store.

The API checks a report like a command (``CommandService.report_position``) and hands the
envelope to ``TelemetryPublisher.publish``, which sends it

* to ``eoc.telemetry.positions`` (bounded history: 24 hours), keyed by team and written to the
  team's *province* partition, so that the worker that folds the province's events also folds
  its teams' positions into the same shard of its board table; and
* to ``eoc.positions.latest`` (compacted, keyed by team): the last known position of each team.

The worker folds every report into the board (``position/<team>`` rows), so the board moves as
often as the teams report (at least once a second each, by the tablets' setting). Losing a
report to a crash costs one dot on the map until the next one: the producer waits for the
leader only (acks=1) and does not block the request.
"""

from __future__ import annotations

import logging

from kafka import KafkaProducer

from consumers.kafka_codec import event_record
from consumers.topics import Layout
from events.envelope import Envelope

log = logging.getLogger(__name__)


class TelemetryPublisher:
    """The ``telemetry`` callback of the cluster's CommandService."""

    def __init__(self, bootstrap: str, layout: Layout, producer: KafkaProducer | None = None) -> None:
        self.layout = layout
        self.producer = producer or KafkaProducer(
            bootstrap_servers=bootstrap, acks=1, enable_idempotence=False, linger_ms=5,
            client_id="eoc-api-telemetry",
        )
        self.published = 0
        self.failed = 0

    def __call__(self, envelope: Envelope) -> None:
        self.publish(envelope)

    def publish(self, envelope: Envelope) -> None:
        value, headers = event_record(envelope)
        key = envelope.aggregate_id.encode()
        layout = self.layout
        self.producer.send(layout.telemetry, key=key, value=value, headers=headers,
                           partition=layout.partition_for(envelope.province)).add_errback(self._failed)
        self.producer.send(layout.positions_latest, key=key, value=value, headers=headers)
        self.published += 1

    def _failed(self, exc: BaseException) -> None:
        self.failed += 1
        log.warning("a position report was not published: %r", exc)

    def flush(self, timeout: float | None = None) -> None:
        self.producer.flush(timeout=timeout)

    def close(self) -> None:
        try:
            self.producer.flush(timeout=5)
        finally:
            self.producer.close(timeout=5)

