"""Fixtures of the integration tier (real stores, Kafka, servers in-process, subprocesses)."""

from tests.support.audit import kafka_topic  # noqa: F401  (a test topic on the real broker)
