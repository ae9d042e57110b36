"""Topics as code: every Kafka topic of the cluster, its key, partitions, retention and compaction.

This module is the single source of the topic layout: ``eoc topics`` creates and checks the
topics from it, the relay, the Faust worker and the telemetry publisher take their names and
partition counts from it, and ``events/asyncapi.yaml`` is generated from it
(``eoc topics --asyncapi``).

Partitioning. The events of one province must be folded in log order, so every event is keyed
by its province and sent to ``province_partition(province)`` — Kafka's own murmur2 hash of the
key, the same number any Kafka client computes for that key. Position reports are keyed by
team but sent to their province's partition too, so that a Faust worker holds a province's
teams, incidents, centres, figures *and* positions in one shard of its tables (Faust shards a
table by the source partition). The topics read together by the worker (events, telemetry and
the two changelogs) therefore share one partition count, ``PARTITIONS``; it can only be chosen
once, because changing it moves provinces to other partitions.

Retention (what is kept, and for how long):

* ``eoc.events`` — the audit stream: kept forever (``retention.ms=-1``), never compacted.
* ``eoc.telemetry.positions`` — every position report kept or shown (eoc/app/track.py) for 24
  hours, then deleted; position reports are never written to the event store, so the audit
  history does not grow with them.
* ``eoc.positions.latest`` — compacted: the last kept report of each team, for as long as the team
  exists (a tombstone removes it).
* ``eoc.boards`` — compacted: the latest value of every board row; deleted rows are tombstones
  kept 24 hours so that a reader that is behind still sees the deletion.
* ``eoc.figures.hourly`` — compacted and deleted after 7 days: calls per hour per province and
  category (the cells of the key-figures rows a batch changed: projections/hourly.py).
* ``eoc.exchange.partner`` — compacted: the exchange with partner organizations (EIDO, EDXL-HAVE,
  CAP), the latest document per incident, centre and alert; never a secret place.
* ``eoc.events.dlq`` — dead letters for 30 days: long enough for an operator to look at them;
  the events they came from are still in the event store and on ``eoc.events``.
* the worker's changelog — compacted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeGuard

from kafka.partitioner.default import murmur2

PARTITIONS = 8  # the co-partitioned group; see the module docstring before changing it
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# A worker writes one commit record per partition and batch (consumers/worker.py); a big batch
# of a busy province can exceed Kafka's default 1 MB, so its changelog allows more.
CHANGELOG_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
WORKER_APP = "eoc-worker"  # Faust application id (and consumer group), before the prefix
# A compacted topic of latest values: rolled hourly, cleaned early, tombstones kept a day so that
# a reader that is behind still sees the deletion.
LATEST_VALUE = {"segment.ms": str(HOUR_MS), "min.cleanable.dirty.ratio": "0.1", "delete.retention.ms": str(DAY_MS)}


@dataclass(frozen=True)
class Topic:
    """One topic of the layout. ``name`` is the base name; deployments may add a prefix."""

    name: str
    key: str
    value: str
    summary: str
    partitions: int | None = None  # None: the deployment's partition count (PARTITIONS)
    compacted: bool = False
    retention_ms: int | None = None  # None: kept forever (or until compacted away)
    configs: Mapping[str, str] = field(default_factory=dict)
    producer: str = ""
    consumers: tuple[str, ...] = ()
    cloudevents: bool = False
    copartitioned: bool = False  # read together by the worker: must match PARTITIONS

    def kafka_configs(self, replication: int) -> dict[str, str]:
        """The topic-level configuration given to Kafka when the topic is created."""
        cfg = {
            "cleanup.policy": ("compact" if self.compacted else "delete")
            + (",delete" if self.compacted and self.retention_ms is not None else ""),
            "retention.ms": str(self.retention_ms if self.retention_ms is not None else -1),
            "min.insync.replicas": str(max(1, replication - 1)),
        }
        cfg.update(self.configs)
        return cfg


EVENTS = Topic(
    "eoc.events",
    key="province code (UTF-8), e.g. QZV",
    value="Envelope JSON as stored (its version and payload), CloudEvents binary mode",
    summary="Every stored event of the event store, in log order per province: the audit stream.",
    retention_ms=None,
    configs={"retention.bytes": "-1"},
    producer="eoc relay",
    consumers=("eoc worker", "auditors"),
    cloudevents=True,
    copartitioned=True,
)
TELEMETRY = Topic(
    "eoc.telemetry.positions",
    key="team id (UUID text), or the province code for a batch; partition = the province partition",
    value=("Envelope JSON of a kept TeamPositionReported (its place in the position track as its "
           "position), CloudEvents binary mode; or, with an eoc_batch header (their count), a JSON "
           "array of a request's reports only shown (no position)"),
    summary="Position reports of the mobile teams: high-volume telemetry, kept 24 hours.",
    retention_ms=DAY_MS,
    configs={"segment.ms": str(HOUR_MS)},  # retention acts per segment: roll hourly
    producer="eoc api",
    consumers=("eoc worker",),
    cloudevents=True,
    copartitioned=True,
)
POSITIONS_LATEST = Topic(
    "eoc.positions.latest",
    key="team id (UUID text)",
    value="Envelope JSON of the team's last kept TeamPositionReported",
    summary="The last kept position of every team (compacted; the live map's newer ones are on eoc.boards).",
    compacted=True,
    configs=LATEST_VALUE,
    producer="eoc api",
    consumers=("map tools", "auditors"),
    cloudevents=True,
)
BOARDS = Topic(
    "eoc.boards",
    key="board row key, e.g. team/<id>, figures/QZV/2026-11-23, drill/incident/<id>",
    value="the row as JSON; a tombstone (null) when the row is deleted",
    summary="The live boards: latest value of every row (compacted). Read from the beginning "
            "for a snapshot, then followed for deltas.",
    compacted=True,
    configs=LATEST_VALUE,
    producer="eoc worker",
    consumers=("eoc bridge", "eoc api"),
)
FIGURES_HOURLY = Topic(
    "eoc.figures.hourly",
    key="<province>/<category>/<window start, UTC ISO>",
    value='{"province", "category", "window_start", "window_end", "calls"} JSON',
    summary="Real (not drill) calls per hour (a local hour, as a UTC window) per province and "
            "category: the cells of the key-figures rows that a batch changed, the same figures "
            "every runner folds.",
    compacted=True,
    retention_ms=7 * DAY_MS,
    configs={"segment.ms": str(HOUR_MS)},
    producer="eoc worker",
    consumers=("dashboards", "reports"),
)
DLQ = Topic(
    "eoc.events.dlq",
    key="the original record's key",
    value="the original record's value, byte for byte",
    summary="Dead letters: records a worker could not decode or fold, with the reason and "
            "origin in headers (eoc_dlq_reason, eoc_dlq_topic, eoc_dlq_partition, eoc_dlq_offset).",
    partitions=1,
    retention_ms=30 * DAY_MS,
    producer="eoc worker",
    consumers=("operators",),
)


EXCHANGE_PARTNER = Topic(
    "eoc.exchange.partner",
    key="<province>/<standard>/<id>: <province>/eido/<incident id>, <province>/edxl-have/<centre id>, "
        "<province>/cap/<alert key>; partition = the province's partition",
    value='{"standard", "media_type", "province", "sent", "content"} JSON: content is the EIDO JSON '
          "object, or the EDXL-HAVE or CAP XML text; a tombstone (null) when the incident closes, the "
          "alert ends or the row may no longer leave",
    summary="The exchange with partner organizations (police, judiciary, health): what a partner of "
            "each province may read, in the standards (NENA EIDO, OASIS EDXL-HAVE 1.0, OASIS CAP 1.2), "
            "filtered by the same policy as the HTTP feed: no safe or health house, no alert about one, "
            "no drill, ever (compacted: the latest document per key).",
    compacted=True,
    configs=LATEST_VALUE,
    producer="eoc exchange",
    consumers=("partner gateways",),
)


def _changelog(table: str, summary: str, **kw: Any) -> Topic:
    return Topic(f"{WORKER_APP}-{table}-changelog", key="table key (JSON)", value="table value (JSON)",
                 summary=summary, compacted=True, producer="eoc worker",
                 consumers=("eoc worker (recovery)",), copartitioned=True, **kw)


BOARD_CHANGELOG = _changelog(
    "board", "Changelog of the worker's board table (Faust), with one commit record per batch.",
    configs={"max.message.bytes": str(CHANGELOG_MAX_MESSAGE_BYTES), "segment.ms": str(HOUR_MS),
             "min.cleanable.dirty.ratio": "0.1"},
)

TOPICS: tuple[Topic, ...] = (EVENTS, TELEMETRY, POSITIONS_LATEST, BOARDS, FIGURES_HOURLY, DLQ,
                             EXCHANGE_PARTNER, BOARD_CHANGELOG)


class _NameOf:
    """A layout's name of one topic, read as an attribute of the layout."""

    def __init__(self, topic: Topic) -> None:
        self.topic = topic

    def __get__(self, layout: Layout, owner: type[Layout] | None = None) -> str:
        return layout.name(self.topic)


@dataclass(frozen=True)
class Layout:
    """The topics of one deployment: a name prefix (tests and side-by-side deployments use
    one), the co-partitioned partition count, and the replication factor."""

    prefix: str = ""
    partitions: int = PARTITIONS
    replication: int = 1

    def name(self, topic: Topic) -> str:
        return self.prefix + topic.name

    def partitions_of(self, topic: Topic) -> int:
        return self.partitions if topic.partitions is None else topic.partitions

    # The deployment's name of each topic: ``layout.events`` is ``layout.name(EVENTS)``.
    events = _NameOf(EVENTS)
    telemetry = _NameOf(TELEMETRY)
    positions_latest = _NameOf(POSITIONS_LATEST)
    boards = _NameOf(BOARDS)
    figures_hourly = _NameOf(FIGURES_HOURLY)
    dlq = _NameOf(DLQ)
    exchange_partner = _NameOf(EXCHANGE_PARTNER)

    @property
    def worker_app(self) -> str:
        """The Faust application id; Faust names the changelogs ``<id>-<table>-changelog``."""
        return self.prefix + WORKER_APP

    def specs(self) -> dict[str, dict[str, Any]]:
        """Every topic as kafka-python's ``create_topics`` wants it."""
        return {
            self.name(t): {
                "num_partitions": self.partitions_of(t),
                "replication_factor": self.replication,
                "configs": t.kafka_configs(self.replication),
            }
            for t in TOPICS
        }

    def partition_for(self, province: str) -> int:
        return province_partition(province, self.partitions)


@lru_cache(maxsize=256)
def province_partition(province: str, partitions: int = PARTITIONS) -> int:
    """The partition of a province: Kafka's default partitioner for the key (murmur2)."""
    return (murmur2(province.encode()) & 0x7FFFFFFF) % partitions


# ---------------------------------------------------------------------- creating and checking


@dataclass
class TopicState:
    name: str
    status: str  # created | exists | mismatch
    partitions: int
    problems: list[str] = field(default_factory=list)


def ensure_topics(admin: Any, layout: Layout, *, timeout_ms: int = 30_000) -> list[TopicState]:
    """Create the missing topics of the layout and check the existing ones.

    ``admin`` is a ``kafka.KafkaAdminClient``. An existing topic with another partition count
    is reported (it would send provinces to the wrong partitions), never changed silently.
    """
    specs = layout.specs()
    existing = set(admin.list_topics())
    missing = {name: spec for name, spec in specs.items() if name not in existing}
    states: list[TopicState] = []
    if missing:
        result = admin.create_topics(missing, timeout_ms=timeout_ms, raise_errors=False,
                                     wait_for_metadata=True)
        for t in result["topics"]:
            # 36: TOPIC_ALREADY_EXISTS — another process won the race; it is checked below.
            if t["error_code"] not in (0, 36):
                raise RuntimeError(f"could not create topic {t['name']}: error {t['error_code']} "
                                   f"{t.get('error_message')}")
    states.extend(describe_topics(admin, layout, created=set(missing)))
    return states


def describe_topics(admin: Any, layout: Layout, created: Iterable[str] = ()) -> list[TopicState]:
    """The state of every topic of the layout: partitions and the configs that differ."""
    from kafka.admin import ConfigResource, ConfigResourceType

    created = set(created)
    specs = layout.specs()
    meta = {t["name"]: t for t in admin.describe_topics(list(specs))}
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in specs if _ok(meta.get(name))]
    configs: dict[str, dict[str, str]] = {}
    if resources:
        described = admin.describe_configs(resources, config_filter="all")
        for name, entries in described.get("topic", {}).items():
            configs[name] = {k: _config_value(v) for k, v in entries.items()}
    states = []
    for name, spec in specs.items():
        m = meta.get(name)
        if not _ok(m):
            states.append(TopicState(name, "missing", 0, ["the topic does not exist"]))
            continue
        n = len(m["partitions"])
        problems = []
        if n != spec["num_partitions"]:
            problems.append(f"{n} partitions, the layout says {spec['num_partitions']}")
        have = configs.get(name, {})
        for key, want in spec["configs"].items():
            if key == "min.insync.replicas":
                continue  # may be raised by the operator for more durability
            if key in have and have[key] != want:
                problems.append(f"{key}={have[key]}, the layout says {want}")
        status = "mismatch" if problems else ("created" if name in created else "exists")
        states.append(TopicState(name, status, n, problems))
    return states


def _ok(meta: Mapping[str, Any] | None) -> TypeGuard[Mapping[str, Any]]:
    return meta is not None and bool(meta) and meta.get("error_code", 0) == 0 and bool(meta.get("partitions"))


def _config_value(entry: Any) -> str:
    if isinstance(entry, Mapping):
        value = entry.get("value", entry.get("config_value"))
    else:
        value = entry
    return "" if value is None else str(value)
