"""Tamper evidence: walk a stream, recompute every chain link, and name what was changed.

Every stored event carries ``chain = sha256(previous link + "\\n" + canonical bytes)``
(events/chain.py), linking it to the event before it in its aggregate's stream. A first pass
walks the stream in its physical order (log positions in the store, offsets on a topic) and
keeps only the head of each aggregate, so it runs in constant memory per aggregate; every
aggregate whose links or version numbers do not follow goes to a second pass, which reads
just those streams again and works out what happened to them:

* **modified** — an event's content no longer matches its link, while the event after it
  still links to the original (its chain value was kept);
* **deleted** — version numbers are missing; the next event links to nothing present;
* **inserted** — an event that nothing links to and that the next event links past, or a
  second event claiming the same predecessor as a genuine one (which has successors);
* **reordered** — events that link correctly but stand in another order (other version
  numbers in the store, other offsets on a topic), or log positions that go backwards.

Chains alone cannot see the end of a stream cut off, or a history rewritten with all its
links recomputed (the hash has no key). Signed checkpoints can (checkpoints.py): each one
holds, per province, the number of events and a running hash over their links up to a log
position, signed with the EOC's Ed25519 key; the same pass recomputes them.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eoc.audit.checkpoints import ProvinceHash, check_checkpoint_records
from eoc.audit.findings import Finding
from eoc.audit.sources import StoredRecord
from events.chain import CHAINED, GENESIS
from events.envelope import canonical_json


@dataclass
class Verdict:
    source: str
    events: int = 0
    aggregates: int = 0
    duplicates: int = 0
    checkpoints: int = 0  # signed checkpoints checked
    findings: list[Finding] = field(default_factory=list)
    heads: dict[str, dict[str, Any]] = field(default_factory=dict)  # province -> {events, position, hash}

    @property
    def ok(self) -> bool:
        return not any(f.tampered for f in self.findings)

    @property
    def tampered(self) -> list[Finding]:
        return [f for f in self.findings if f.tampered]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "ok": self.ok, "events": self.events, "aggregates": self.aggregates,
                "duplicates": self.duplicates, "checkpoints": self.checkpoints,
                "findings": [f.to_dict() for f in self.findings], "heads": self.heads}


def _body(value: dict[str, Any], version: int | None = None) -> bytes:
    fields = {k: value[k] for k in CHAINED}
    if version is not None:
        fields["aggregate_version"] = version
    return canonical_json(fields)


def _link(previous: str, body: bytes) -> str:
    return hashlib.sha256(previous.encode() + b"\n" + body).hexdigest()


def _name(r: StoredRecord) -> dict[str, Any]:
    return {"event_id": r.id, "aggregate_id": r.aggregate_id, "version": r.version,
            "position": r.position, "where": r.where}


def _short(r: StoredRecord) -> str:
    return f"{r.id} (v{r.version}, {r.where})"


# ---------------------------------------------------------------------- the first pass


class _Province:
    __slots__ = ("events", "hash", "max_position", "recent", "recent_order", "checkpoint_index", "disordered",
                 "positions", "parts", "offsets")

    def __init__(self) -> None:
        self.events = 0
        self.hash = GENESIS
        self.max_position = 0
        self.recent: dict[int, tuple[str, str | None]] = {}  # position -> (id, chain), for redeliveries
        self.recent_order: deque[int] = deque()
        self.checkpoint_index = 0
        self.disordered = False
        # Log positions in stream order, and where each record sits (topics only: 24 bytes a record).
        self.positions = array("q")
        self.parts = array("q")
        self.offsets = array("q")


def out_of_order(positions: Sequence[int]) -> list[int]:
    """Indices of the fewest records whose removal leaves the positions strictly increasing
    (the complement of a longest increasing subsequence): the records that were moved."""
    tails: list[int] = []  # position at the end of the best run of each length
    tail_index: list[int] = []
    previous = [-1] * len(positions)
    for i, p in enumerate(positions):
        k = bisect_left(tails, p)
        if k == len(tails):
            tails.append(p)
            tail_index.append(i)
        else:
            tails[k] = p
            tail_index[k] = i
        previous[i] = tail_index[k - 1] if k else -1
    keep = set()
    i = tail_index[-1] if tail_index else -1
    while i >= 0:
        keep.add(i)
        i = previous[i]
    return [i for i in range(len(positions)) if i not in keep]


class ChainWalk:
    """The streaming pass: heads per aggregate, running hashes per province, suspects."""

    RECENT = 200_000  # positions remembered per province to recognise a redelivered record

    def __init__(self, checkpoints: Sequence[dict[str, Any]] = (), *, track_order: bool = True) -> None:
        self.heads: dict[str, tuple[int, str, str]] = {}  # aggregate -> (version, chain, id)
        self.provinces: dict[str, _Province] = defaultdict(_Province)
        self.suspects: set[str] = set()
        self.findings: list[Finding] = []
        # A topic's order is the relay's; the store's order *is* the log position: nothing to track.
        self.track_order = track_order
        self.events = 0
        self.duplicates = 0
        self.max_position = 0
        self.checkpoints = sorted(checkpoints, key=lambda c: c["position"])
        # per checkpoint: province -> (events, hash) as of its position
        self.snapshots: list[dict[str, tuple[int, str]]] = [{} for _ in self.checkpoints]

    def add(self, r: StoredRecord) -> None:
        if r.value is None:
            self.findings.append(Finding("unreadable", r.error or "the record cannot be decoded", **_name(r)))
            if r.aggregate_id:
                self.suspects.add(r.aggregate_id)
            return
        v = r.value
        position = v.get("position")
        province = self.provinces[str(v.get("province"))]
        if isinstance(position, int):
            if position <= province.max_position:
                if province.recent.get(position) == (v["id"], v.get("chain")):
                    self.duplicates += 1  # delivered twice (the relay is at-least-once): not tampering
                    return
                province.disordered = True
            else:
                province.max_position = position
            if self.track_order:
                province.positions.append(position)
                province.parts.append(r.order[0])
                province.offsets.append(r.order[1])
            province.recent[position] = (v["id"], v.get("chain"))
            province.recent_order.append(position)
            if len(province.recent_order) > self.RECENT:
                province.recent.pop(province.recent_order.popleft(), None)
            self._checkpoint_snapshots(str(v.get("province")), province, position)
            province.hash = ProvinceHash.step(province.hash, position, v.get("chain") or "")
            province.events += 1
            self.max_position = max(self.max_position, position)
        self.events += 1
        self._link(r)

    def _checkpoint_snapshots(self, name: str, province: _Province, position: int) -> None:
        cps = self.checkpoints
        while province.checkpoint_index < len(cps) and cps[province.checkpoint_index]["position"] < position:
            self.snapshots[province.checkpoint_index][name] = (province.events, province.hash)
            province.checkpoint_index += 1

    def _link(self, r: StoredRecord) -> None:
        v = r.value
        assert v is not None
        agg = r.aggregate_id or ""
        version, chain, last_id = self.heads.get(agg, (0, GENESIS, ""))
        if v["id"] == last_id and v.get("chain") == chain:
            self.duplicates += 1
            self.events -= 1
            return
        try:
            good = r.version == version + 1 and _link(chain, _body(v)) == v.get("chain")
        except (KeyError, TypeError):
            good = False
        if not good:
            self.suspects.add(agg)
        self.heads[agg] = (r.version or 0, v.get("chain") or "", v["id"])

    def finish(self) -> None:
        for name, province in self.provinces.items():
            for i in range(province.checkpoint_index, len(self.checkpoints)):
                self.snapshots[i][name] = (province.events, province.hash)

    def moved(self, known: set[tuple[int, int]]) -> set[tuple[int, int]]:
        """Where the records sit that break the growing order of log positions, besides the
        ``known`` ones (already named by their streams)."""
        out = set()
        for province in self.provinces.values():
            if not province.disordered:
                continue
            kept = [i for i in range(len(province.positions))
                    if (province.parts[i], province.offsets[i]) not in known]
            for j in out_of_order([province.positions[i] for i in kept]):
                out.add((province.parts[kept[j]], province.offsets[kept[j]]))
        return out


# ---------------------------------------------------------------------- the second pass


@dataclass
class _Origin:
    version: int  # the version the event was written as
    previous: StoredRecord | None  # the event it links to (None: the start of the stream)


def _origin(r: StoredRecord, ordered: list[StoredRecord], i: int, full: bool) -> _Origin | None:
    """Which event (and which version number) this event's link was made from, if any."""
    assert r.value is not None and r.version is not None
    chain = r.chain
    bodies: dict[int, bytes] = {}

    def body(version: int) -> bytes:
        if version not in bodies:
            bodies[version] = _body(r.value, version)  # type: ignore[arg-type]
        return bodies[version]

    deltas = (0, 1, -1, 2, -2, 3, -3)
    near = [ordered[j] for j in (i - 1, i - 2, i + 1, i - 3, i + 2, i + 3) if 0 <= j < len(ordered)]
    for d in deltas:
        written = r.version + d
        if written < 1:
            continue
        if written == 1:
            if _link(GENESIS, body(1)) == chain:
                return _Origin(1, None)
            continue
        for q in near:
            if q.chain and _link(q.chain, body(written)) == chain:
                return _Origin(written, q)
    if full:
        for d in deltas:
            written = r.version + d
            if written < 2:
                continue
            b = body(written)
            for q in ordered:
                if q is not r and q.chain and _link(q.chain, b) == chain:
                    return _Origin(written, q)
    return None


def diagnose(stream: list[StoredRecord]) -> list[Finding]:
    """What happened to one aggregate's stream (given in physical order)."""
    findings: list[Finding] = []
    seen: set[tuple[Any, ...]] = set()
    records: list[StoredRecord] = []
    unreadable_versions: set[int] = set()
    for r in stream:
        if r.value is None or r.version is None:
            if r.version is not None:
                unreadable_versions.add(r.version)
            continue
        key = (r.id, r.chain, r.version, canonical_json(r.value.get("payload")))
        if key in seen:
            continue  # an exact redelivery
        seen.add(key)
        records.append(r)
    if not records:
        return findings
    ordered = sorted(records, key=lambda r: (r.version, r.order))
    index = {id(r): i for i, r in enumerate(ordered)}
    full = len(ordered) <= 50_000
    origins = {id(r): _origin(r, ordered, index[id(r)], full) for r in ordered}
    successors: dict[int, list[StoredRecord]] = defaultdict(list)  # id(previous) -> records linking to it
    for r in ordered:
        o = origins[id(r)]
        if o is not None:
            successors[id(o.previous) if o.previous is not None else 0].append(r)
    named: set[int] = set()
    agg = ordered[0].aggregate_id

    # Deleted: version numbers missing from the stream.
    present = {r.version for r in ordered if r.version is not None} | unreadable_versions
    top = max(present)
    missing = [v for v in range(1, top + 1) if v not in present]
    for first, last in _runs(missing):
        after = next(r for r in ordered if r.version is not None and r.version > last)
        before = next((r for r in reversed(ordered) if r.version is not None and r.version < first), None)
        span = f"version {first}" if first == last else f"versions {first}..{last}"
        detail = (f"{span} of the stream {'is' if first == last else 'are'} missing, between "
                  + (_short(before) if before else "the start of the stream") + f" and {_short(after)}; "
                  + ("the next event links to an event that is not there" if origins[id(after)] is None
                     else "the stream was renumbered around it"))
        findings.append(Finding("deleted", detail, None, agg, first, None,
                                f"before {after.where}"))
        named.add(id(after))

    # Inserted: two events claim the same predecessor; the genuine one is continued.
    for prev_key, claimants in successors.items():
        if len(claimants) < 2:
            continue
        genuine = sorted(claimants, key=lambda r: (not successors.get(id(r)), r.order))[0]
        for r in claimants:
            if r is not genuine:
                findings.append(Finding(
                    "inserted", f"it claims the same predecessor as {_short(genuine)}, which the rest of the "
                                "stream continues from: it was added to the stream", **_name(r)))
                named.add(id(r))

    # Events whose link matches no event of the stream.
    for i, r in enumerate(ordered):
        if origins[id(r)] is not None or id(r) in named:
            continue
        prev = ordered[i - 1] if i > 0 else None
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        nxt_origin = origins.get(id(nxt)) if nxt is not None else None
        if successors.get(id(r)):
            findings.append(Finding("modified", "its content no longer matches its chain link, and the event "
                                    "after it still links to the original: it was changed after it was written",
                                    **_name(r)))
        elif nxt is not None and nxt_origin is not None and nxt_origin.previous is prev:
            findings.append(Finding("inserted", f"nothing links to it, and the next event {_short(nxt)} "
                                    "links past it to the one before: it was added to the stream", **_name(r)))
        elif any(q.version == r.version for q in ordered if q is not r):
            findings.append(Finding("inserted", "it duplicates the version number of another event of the "
                                    "stream and links to none of them", **_name(r)))
        elif nxt is None:
            findings.append(Finding("modified", "the last event of its stream no longer matches its chain "
                                    "link: it was changed (or added with a made-up link)", **_name(r)))
        else:
            findings.append(Finding("modified", "it does not link to the event before it: its content was "
                                    "changed, or the event before it was rewritten with a new link",
                                    **_name(r)))
        named.add(id(r))

    # Reordered: linked correctly, but standing at other version numbers or out of stream order.
    shifted = any(f.kind in ("deleted", "inserted") for f in findings)
    if not shifted:
        moved = [r for r in ordered if origins[id(r)] is not None and origins[id(r)].version != r.version]  # type: ignore[union-attr]
        for r in moved:
            o = origins[id(r)]
            findings.append(Finding("reordered", f"it was written as version {o.version} (after "  # type: ignore[union-attr]
                                    f"{_short(o.previous) if o and o.previous else 'the start'}) but now stands "
                                    f"at version {r.version}", **_name(r)))
            named.add(id(r))
    for r in ordered:
        o = origins[id(r)]
        if o is None or o.previous is None or id(r) in named:
            continue
        q = o.previous
        if q.order > r.order and q.order[0] == r.order[0]:
            findings.append(Finding("reordered", f"it comes before the event it follows, {_short(q)}, "
                                    "in the stream", **_name(r)))
            named.add(id(r))
            if id(q) not in named:
                findings.append(Finding("reordered", f"it comes after the event that follows it, {_short(r)}, "
                                        "in the stream", **_name(q)))
                named.add(id(q))
    return findings


def _runs(numbers: list[int]) -> Iterable[tuple[int, int]]:
    start = prev = None
    for n in numbers:
        if start is None:
            start = prev = n
        elif n == prev + 1:  # type: ignore[operator]
            prev = n
        else:
            yield start, prev  # type: ignore[misc]
            start = prev = n
    if start is not None:
        yield start, prev  # type: ignore[misc]


# ---------------------------------------------------------------------- putting it together


def verify(
    source: Any,
    *,
    checkpoints: Sequence[dict[str, Any]] = (),
    public_keys: Sequence[Any] = (),
    strict_tail: bool | None = None,
    progress: Any = None,
    until_position: int | None = None,
) -> Verdict:
    """Verify every chain of ``source`` (a StoreSource or KafkaSource) and its signed checkpoints.

    ``strict_tail``: a checkpoint beyond the end of the stream means events were cut off the
    end (true for the store, which the checkpoints were made from); on a topic it may only
    mean the relay is behind (reported, not failed). Default: strict for the store.
    """
    if strict_tail is None:
        strict_tail = getattr(source, "name", "") == "store"
    walk = ChainWalk(checkpoints, track_order=getattr(source, "name", "") != "store")
    for r in source.records(progress=progress, until_position=until_position):
        walk.add(r)
    walk.finish()
    verdict = Verdict(source.describe(), walk.events, len(walk.heads), walk.duplicates)
    verdict.findings.extend(walk.findings)
    suspects = {s for s in walk.suspects if s}
    known: set[tuple[int, int]] = set()
    if suspects:
        streams: dict[str, list[StoredRecord]] = defaultdict(list)
        for r in source.records(until_position=until_position):
            if r.aggregate_id in suspects:
                streams[r.aggregate_id].append(r)
        for agg in sorted(streams):
            found = diagnose(streams[agg])
            verdict.findings.extend(found)
            ids = {f.event_id for f in found if f.event_id}
            known.update(r.order for r in streams[agg] if r.id in ids)
    moved = walk.moved(known)
    if moved:  # records of other streams out of log order: read once more to name them
        named = {f.event_id for f in verdict.findings if f.event_id}
        for r in source.records(until_position=until_position):
            if r.order in moved and r.id not in named:
                verdict.findings.append(Finding(
                    "reordered", f"its log position {r.position} is out of order among its province's "
                                 "records: it was moved in the stream", **_name(r)))
    if checkpoints:
        found, checked = check_checkpoint_records(walk.checkpoints, walk.snapshots, public_keys,
                                                  walk.max_position, strict_tail=strict_tail)
        verdict.findings.extend(found)
        verdict.checkpoints = checked
    verdict.heads = {name: {"events": p.events, "position": p.max_position, "hash": p.hash}
                     for name, p in sorted(walk.provinces.items())}
    return verdict
