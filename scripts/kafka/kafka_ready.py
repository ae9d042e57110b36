#!/usr/bin/env python3
"""Is the Kafka broker at HOST:PORT serving metadata?  (standard library only)

Used by `scripts/services` to decide that the broker is ready, both while it
starts and on every warm `start`/`status`.  It sends one real Metadata request
(API key 3, version 4: the newest non-"flexible" version, simple to encode,
and valid on Kafka 4.x) and succeeds only when the answer lists at least one
live broker.  An open port is not enough: the broker binds its port before it
has caught up with the KRaft metadata log and been unfenced, and a fenced
broker answers Metadata with an empty broker list.

Deliberately without kafka-python: this runs before `pip install`, takes
~0.1 s instead of ~0.4 s, and kafka-python's API changes between majors.

Usage: kafka_ready.py HOST:PORT [EXPECTED_CLUSTER_ID]
Exit status: 0 ready; 1 not ready (reason on stderr).  With EXPECTED_CLUSTER_ID,
a broker of another cluster on that port (another checkout's broker, say) is
"not ready" too, so the caller never mistakes it for its own.
"""

import socket
import struct
import sys

API_METADATA = 3
VERSION = 4
CORRELATION_ID = 0x0E0C
CLIENT_ID = b"eoc-services-probe"


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str):
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        value = self.data[self.pos : self.pos + n].decode("utf-8")
        self.pos += n
        return value


def recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise ConnectionError("connection closed by broker")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def metadata(host: str, port: int, timeout: float = 2.0):
    # Request header v1: api_key, api_version, correlation_id, client_id.
    header = struct.pack(">hhih", API_METADATA, VERSION, CORRELATION_ID, len(CLIENT_ID)) + CLIENT_ID
    # Body v4: topics = empty array (no topic details wanted), allow_auto_topic_creation = false.
    body = struct.pack(">ib", 0, 0)
    request = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", recv_exact(sock, 4))
        r = Reader(recv_exact(sock, size))
    if r.take(">i") != CORRELATION_ID:
        raise ValueError("unexpected correlation id")
    r.take(">i")  # throttle_time_ms
    brokers = []
    for _ in range(r.take(">i")):
        node_id = r.take(">i")
        b_host = r.string()
        b_port = r.take(">i")
        r.string()  # rack
        brokers.append((node_id, b_host, b_port))
    cluster_id = r.string()
    return brokers, cluster_id


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    host, _, port = argv[1].rpartition(":")
    expected_cluster = argv[2] if len(argv) == 3 else None
    try:
        brokers, cluster_id = metadata(host, int(port))
    except (OSError, ValueError, struct.error) as exc:
        print(f"kafka not ready at {argv[1]}: {exc}", file=sys.stderr)
        return 1
    if expected_cluster and cluster_id != expected_cluster:
        print(
            f"{argv[1]} is a broker of cluster {cluster_id}, not {expected_cluster}",
            file=sys.stderr,
        )
        return 1
    if not brokers:
        print(f"kafka at {argv[1]} answers but lists no live broker yet", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
