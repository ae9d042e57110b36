"""The relay's producer (``consumers.relay.LoopProducer``) on the real broker: records sent on
its loop reach their partitions in the order they were sent, a flush from another thread means
acknowledged, and a record Kafka refuses stops the feed once, with nothing after it published."""

from __future__ import annotations

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


def _feed(producer: LoopProducer, records: list[tuple]) -> None:
    """Send ``records`` on the producer's loop, as the relay's follow does, and wait for the sends."""

    async def feed() -> None:
        for record in records:
            await producer.send(*record)

    producer.submit(feed()).result(60)


def test_records_sent_on_the_loop_keep_their_order_and_a_flush_means_acknowledged(kafka_bootstrap, topic):
    errors: list[BaseException] = []
    producer = LoopProducer(producer_config(kafka_bootstrap, client_id="relay-producer-test"), errors.append)
    try:
        assert producer.partitions_for(topic) == set(range(PARTITIONS))
        sent = 6_000
        # Each position once, in order, spread over the partitions.
        _feed(producer, [(position, topic, position % PARTITIONS, str(position % 7).encode(),
                          str(position).encode(), [("eoc_position", str(position).encode())])
                         for position in range(1, sent + 1)])
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
        _feed(producer, [(1, topic, 0, b"k", b"1", []), (2, topic, 0, b"k", b"2", []),
                         (3, topic, 0, b"k", b"x" * (2 * 1024 * 1024), []),  # above the request size
                         (4, topic, 0, b"k", b"4", []), (5, topic, 0, b"k", b"5", [])])
        producer.flush(timeout=60)
    finally:
        producer.close()
    assert len(errors) == 1 and isinstance(errors[0], MessageSizeTooLargeError), errors
    assert _records(kafka_bootstrap, topic)[0] == [1, 2]
    assert producer.handed == 2
