"""What an audit finds (یافته حسابرسی): one tampered, missing or pending thing, named as precisely
as the stream allows. Shared by the verifier and the signed checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TAMPER_KINDS = ("modified", "deleted", "inserted", "reordered", "unreadable", "checkpoint")
INFO_KINDS = ("duplicate", "pending")


@dataclass
class Finding:
    """One thing the verifier found, naming the event as precisely as the stream allows."""

    kind: str  # one of TAMPER_KINDS or INFO_KINDS
    detail: str
    event_id: str | None = None
    aggregate_id: str | None = None
    version: int | None = None
    position: int | None = None
    where: str | None = None

    @property
    def tampered(self) -> bool:
        return self.kind in TAMPER_KINDS

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tampered": self.tampered, "event_id": self.event_id,
                "aggregate_id": self.aggregate_id, "version": self.version, "position": self.position,
                "where": self.where, "detail": self.detail}

    def line(self) -> str:
        names = []
        if self.event_id:
            names.append(f"event {self.event_id}")
        if self.aggregate_id:
            names.append(f"aggregate {self.aggregate_id}" + (f" v{self.version}" if self.version else ""))
        if self.where:
            names.append(self.where)
        head = f"{self.kind.upper():<10}"
        return f"{head} {' · '.join(names)}: {self.detail}" if names else f"{head} {self.detail}"
