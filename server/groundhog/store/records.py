"""Plain records the store hands to the engine: decrypted, typed, no SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from groundhog.store.codec import Values, values_size


@dataclass(frozen=True)
class ContextRow:
    id: int
    uid: str
    name: str
    head: int
    head_hash: bytes
    anchor: int
    cp_version: int
    cp_bytes: int
    created: str
    modified: str


@dataclass
class StoredState:
    """One version of a context as stored: encoded values plus metadata."""

    version: int
    last_modified: str
    values: Values
    metadata: dict[str, Any] = field(default_factory=dict)
    size: int = -1  # compact-JSON byte length of the values; -1 until measured

    def measured_size(self) -> int:
        if self.size < 0:
            self.size = values_size(self.values)
        return self.size


@dataclass(frozen=True)
class VersionInfo:
    version: int
    timestamp: str
    kind: str
    session: str
    changed_keys: list[str]


@dataclass(frozen=True)
class SnapshotInfo:
    id: str
    context: str
    version: int
    timestamp: str
    size: int
    kind: str
    label: str | None
    metadata: dict[str, Any]


@dataclass(frozen=True)
class FeedEvent:
    """One row of the change feed: a committed version (``kind`` create, update, merge, rollback,
    restore or recover), or a context's deletion (``kind`` delete, ``version`` its last head).
    ``context`` is "" when the row's context is gone (deleted since) or its version was folded away:
    the reader still passed the row (its cursor moves on), and a create or delete still counts."""

    seq: int
    context: str
    version: int
    kind: str
    session: str
    changed_keys: list[str]
    context_id: int = 0  # the context's row id (that of a deleted context too)
