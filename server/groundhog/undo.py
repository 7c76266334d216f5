"""A tracker's memory of how to step back from its head: for each of the last versions it committed,
the bytes its changed keys held just before. A rollback to one of those versions is then the head
with the steps undone, costing the size of the change instead of a rebuild of the whole state from
its checkpoint (~10 ms for 20,000 keys).

It holds only versions this tracker committed one after another up to the current head; anything
else (another writer's versions, a reload, a recovery, another context under the same name) makes
it useless until it starts again, and the caller falls back to the store. Its memory is bounded by
entries and by the bytes of the old values it keeps alive (a 16 MB value appended to once would
otherwise be held twice).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from groundhog.store.records import StoredState

MAX_ENTRIES = 64
MAX_BYTES = 8 << 20


@dataclass(frozen=True)
class _Step:
    version: int  # undoing it gives version - 1
    before: dict[str, bytes | None]  # each changed key's bytes at version - 1 (None: absent)
    metadata: dict[str, Any]
    last_modified: str
    size: int
    cost: int


class UndoLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uid: str | None = None
        self._steps: deque[_Step] = deque()
        self._bytes = 0

    def record(self, uid: str, old: StoredState, new: StoredState, keys: list[str]) -> None:
        """``new`` (committed) replaced ``old`` as the head, changing ``keys``."""
        before = {key: old.values.get(key) for key in keys}
        cost = sum(len(raw) for raw in before.values() if raw is not None)
        step = _Step(new.version, before, old.metadata, old.last_modified, old.measured_size(), cost)
        with self._lock:
            contiguous = self._uid == uid and self._steps and self._steps[-1].version == old.version
            if not contiguous or new.version != old.version + 1:
                self._steps.clear()
                self._bytes = 0
            self._uid = uid
            if cost > MAX_BYTES:
                self._steps.clear()
                self._bytes = 0
                return
            self._steps.append(step)
            self._bytes += cost
            while len(self._steps) > MAX_ENTRIES or self._bytes > MAX_BYTES:
                self._bytes -= self._steps.popleft().cost

    def back_to(self, uid: str, head: StoredState, version: int) -> tuple[StoredState, set[str]] | None:
        """Version ``version`` as the head with the steps after it undone, and the keys those steps
        changed; None when the log does not reach from the head back to it."""
        with self._lock:
            steps = list(self._steps)
            if self._uid != uid or not steps or steps[-1].version != head.version:
                return None
        if not steps[0].version - 1 <= version < head.version:
            return None
        values = dict(head.values)
        keys: set[str] = set()
        earliest = steps[-1]
        for step in reversed(steps):
            if step.version <= version:
                break
            for key, raw in step.before.items():
                if raw is None:
                    values.pop(key, None)
                else:
                    values[key] = raw
            keys.update(step.before)
            earliest = step
        state = StoredState(version, earliest.last_modified, values, earliest.metadata, earliest.size)
        return state, keys
