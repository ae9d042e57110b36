"""The relay's producer (``consumers.relay.LoopProducer``) on the real broker: records fed from
another thread reach their partitions in the order they were fed, a flush means acknowledged,
and a record Kafka refuses stops the feed once, with nothing after it published."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from consumers.relay import LoopProducer, producer_config

pytestmark = pytest.mark.kafka

PARTITIONS = 3


@pytest.fixture
def topic(kafka_bootstrap: str) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:8]}.eoc.events"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="relay-producer-test")
    admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)])
    try:
        yield name
    finally:
        admin.delete_topics([name])
        admin.close()


def _records(bootstrap: str, topic: str) -> dict[int, list[int]]:
    """The positions each partition holds, in offset order (read after the producer is done)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps)
    found: dict[int, list[int]] = {p: [] for p in range(PARTITIONS)}
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        for tp, batch in consumer.poll(timeout_ms=1000).items():
            found[tp.partition].extend(int(r.value) for r in batch)
    consumer.close()
    return found


def _end_offsets(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        return sum(consumer.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)]).values())
    finally:
        consumer.close()


def test_records_fed_from_a_thread_keep_their_order_and_a_flush_means_acknowledged(kafka_bootstrap, topic):
    errors: list[BaseException] = []
    producer = LoopProducer(producer_config(kafka_bootstrap, client_id="relay-producer-test"), errors.append)
    try:
        assert producer.partitions_for(topic) == set(range(PARTITIONS))
        sent = 6_000

        def feed() -> None:  # as the relay's thread does: bursts, each position once, in order
            for position in range(1, sent + 1):
                producer.send(position, topic, position % PARTITIONS, str(position % 7).encode(),
                              str(position).encode(), [("eoc_position", str(position).encode())])

        feeder = threading.Thread(target=feed)
        feeder.start()
        feeder.join(60)
        producer.flush(timeout=60)
        # Acknowledged means on the broker: the end offsets say so without waiting.
        assert _end_offsets(kafka_bootstrap, topic) == sent
        assert producer.handed == sent
    finally:
        producer.close()
    assert errors == []
    held = _records(kafka_bootstrap, topic)
    for partition, positions in held.items():
        assert positions == [p for p in range(1, sent + 1) if p % PARTITIONS == partition]


def test_a_record_kafka_refuses_stops_the_feed_once_and_nothing_after_it_is_published(kafka_bootstrap, topic):
    errors: list[BaseException] = []
    producer = LoopProducer(producer_config(kafka_bootstrap, client_id="relay-producer-test"), errors.append)
    try:
        for position in (1, 2):
            producer.send(position, topic, 0, b"k", str(position).encode(), [])
        producer.send(3, topic, 0, b"k", b"x" * (2 * 1024 * 1024), [])  # above the request size
        for position in (4, 5):
            producer.send(position, topic, 0, b"k", str(position).encode(), [])
        producer.flush(timeout=60)
    finally:
        producer.close()
    assert len(errors) == 1 and isinstance(errors[0], MessageSizeTooLargeError), errors
    assert _records(kafka_bootstrap, topic)[0] == [1, 2]
    assert producer.handed == 2
