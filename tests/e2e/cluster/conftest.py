"""Fixtures of the cluster tests: the cluster's processes, the writer and its clock, the embedded
system they are compared with (tests/support/cluster.py)."""

from tests.support.cluster import clock, cluster, embedded, writer  # noqa: F401  (fixtures)
