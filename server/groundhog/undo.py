"""A tracker's memory of how to step back from its head: for each of the last versions it committed,
the bytes its changed keys held just before. A rollback to one of those versions is then the head
with the steps undone, costing the size of the change instead of a rebuild of the whole state from
its checkpoint (~10 ms for 20,000 keys).

It holds only versions this tracker committed one after another up to the current head; anything
else (another writer's versions, a reload, a recovery, another context under the same name) makes
it useless until it starts again, and the caller falls back to the store.

Its memory is bounded by what the kept objects really occupy (``sys.getsizeof`` of each old value
and of the step's dict, not ``len()`` of the values: issue 23), per log and for the whole process:
an adapter keeps four trackers and a server several sessions, and a bound per log alone multiplies
with them (four trackers on 1 MB states rewritten whole held 4 x 8 MB). When the process is over
its bound, the log that records drops its own oldest steps first, then the other logs' oldest.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any

from groundhog.store.records import StoredState

MAX_ENTRIES = 64
MAX_BYTES = 8 << 20  # one log (all of the process's bound, when the others hold nothing)
PROCESS_MAX_BYTES = 8 << 20  # every log of the process together

# One lock for every log: recording may trim another log, and the work under it is a few deque
# operations (never a copy of values), so one lock costs nothing and cannot deadlock.
_LOCK = threading.Lock()
_LOGS: weakref.WeakSet[UndoLog] = weakref.WeakSet()  # a collected log leaves it, and its bytes count no more


@dataclass(frozen=True)
class _Step:
    version: int  # undoing it gives version - 1
    before: dict[str, bytes | None]  # each changed key's bytes at version - 1 (None: absent)
    metadata: dict[str, Any]
    last_modified: str
    size: int
    cost: int  # bytes this step keeps alive (its dict and the old values it refers to)


def step_cost(before: dict[str, bytes | None]) -> int:
    """What a step's old values occupy: the allocator's size of each bytes object (header included)
    and of the dict; the keys are the head's own strings, shared, so not counted."""
    return sys.getsizeof(before) + sum(sys.getsizeof(raw) for raw in before.values() if raw is not None)


def held_bytes() -> int:
    """Bytes every undo log of the process keeps alive now (for tests and the bench)."""
    with _LOCK:
        return _held()


class UndoLog:
    def __init__(self) -> None:
        self._uid: str | None = None
        self._steps: deque[_Step] = deque()
        self._bytes = 0
        with _LOCK:
            _LOGS.add(self)

    def record(self, uid: str, old: StoredState, new: StoredState, keys: list[str]) -> None:
        """``new`` (committed) replaced ``old`` as the head, changing ``keys``."""
        before = {key: old.values.get(key) for key in keys}
        cost = step_cost(before)
        step = _Step(new.version, before, old.metadata, old.last_modified, old.measured_size(), cost)
        with _LOCK:
            contiguous = self._uid == uid and self._steps and self._steps[-1].version == old.version
            if not contiguous or new.version != old.version + 1 or cost > MAX_BYTES:
                self._drop(len(self._steps))
            self._uid = uid
            if cost > MAX_BYTES:
                return
            self._steps.append(step)
            self._bytes += cost
            while len(self._steps) > MAX_ENTRIES or self._bytes > MAX_BYTES:
                self._drop(1)
            _trim_process(self)

    def back_to(self, uid: str, head: StoredState, version: int) -> tuple[StoredState, set[str]] | None:
        """Version ``version`` as the head with the steps after it undone, and the keys those steps
        changed; None when the log does not reach from the head back to it."""
        with _LOCK:
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

    @property
    def held(self) -> int:
        with _LOCK:
            return self._bytes

    # -- with _LOCK held --------------------------------------------------------------------------

    def _drop(self, count: int) -> None:
        for _ in range(min(count, len(self._steps))):
            self._bytes -= self._steps.popleft().cost


def _held() -> int:
    return sum(log._bytes for log in list(_LOGS))


def _trim_process(recording: UndoLog) -> None:
    """Bring the process under its bound: the recording log's oldest steps first (keeping its
    newest), then the oldest step of whichever other log holds the most."""
    others = [log for log in list(_LOGS) if log is not recording]
    excess = recording._bytes + sum(log._bytes for log in others) - PROCESS_MAX_BYTES
    while excess > 0 and len(recording._steps) > 1:
        before = recording._bytes
        recording._drop(1)
        excess -= before - recording._bytes
    while excess > 0:
        fullest = max(others, key=lambda log: log._bytes, default=None)
        if fullest is None or not fullest._steps:
            break
        before = fullest._bytes
        fullest._drop(1)
        excess -= before - fullest._bytes
