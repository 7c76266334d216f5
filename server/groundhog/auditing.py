"""Audit records written behind the request that caused them, so that no answer waits for the lock.

A read-only session's refused write, a write that failed because another process held the store
locked (LockError), any failure a request answers with: each is audited, and writing an audit record
takes the store's write lock. Taken in the request, a refusal waited up to the lock timeout (5 s)
behind another process's long write, and a LockError could not be audited at all (the lock it
failed to get is the one the record needs). So records go into a queue that one thread per manager
writes, a batch per transaction; while the store is locked it waits and tries again, so the record
of a LockError lands once the lock is free. Records keep their order. ``flush`` waits for what is
queued (a manager's audit reads and ``close`` call it); the queue is bounded, and what overflows is
counted in an ``audit-dropped`` record instead of growing without limit (a flood of refused writes).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from typing import Any

from groundhog.errors import ContextError, LockError
from groundhog.store.interface import Store

log = logging.getLogger(__name__)
MAX_PENDING = 10_000
BATCH = 200
RETRY_S = (0.05, 0.1, 0.2, 0.5, 1.0)  # waits between attempts while the store stays locked
EXIT_WAIT_S = 2.0  # at interpreter exit, what a manager nobody closed may still write

Record = tuple[str, str, dict[str, Any]]  # event, session, details


class AuditQueue:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: deque[Record] = deque()
        self._dropped = 0
        self._writing = 0  # records taken by the thread and not yet committed
        self._state = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def put(self, event: str, session: str, details: dict[str, Any]) -> None:
        """Queue one record; never waits for the store."""
        with self._state:
            if len(self._pending) >= MAX_PENDING:
                self._pending.popleft()
                self._dropped += 1
            self._pending.append((event, session, details))
            if self._thread is None and not self._stopping:
                self._thread = threading.Thread(target=self._run, name="groundhog-audit", daemon=True)
                self._thread.start()
                _LIVE.add(self)
            self._state.notify_all()

    def flush(self, timeout_s: float) -> bool:
        """Wait until every record queued so far is written (True), or ``timeout_s`` went by."""
        deadline = time.monotonic() + timeout_s
        with self._state:
            while self._pending or self._writing:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return False
                self._state.wait(left)
        return True

    def close(self, timeout_s: float) -> None:
        """Write what is queued (waiting at most ``timeout_s`` for the lock), then stop."""
        if not self.flush(timeout_s):
            with self._state:
                lost = len(self._pending) + self._writing
            if lost:
                log.warning(
                    "%d audit records could not be written before closing (the store is locked)", lost
                )
        with self._state:
            self._stopping = True
            self._state.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1)

    def _run(self) -> None:
        attempt = 0
        while True:
            with self._state:
                while not self._pending and not self._stopping:
                    self._state.wait()
                if not self._pending:
                    self._thread = None
                    return
                batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
                if self._dropped:  # the oldest records went: say so where they would have been
                    batch.insert(0, ("audit-dropped", "store", {"count": self._dropped}))
                    self._dropped = 0
                self._writing = len(batch)
            written = self._write(batch)
            with self._state:
                self._writing = 0
                if written is False:  # locked: back to the front, in order, and wait a little
                    self._pending.extendleft(reversed(batch))
                self._state.notify_all()
                stopping = self._stopping
            if written is False:
                if stopping:
                    return
                time.sleep(RETRY_S[min(attempt, len(RETRY_S) - 1)])
                attempt += 1
            else:
                attempt = 0

    def _write(self, batch: list[Record]) -> bool | None:
        """True: written; False: the store is locked (try again); None: it cannot be written."""
        try:
            with self._store.write() as tx:
                for event, session, details in batch:
                    tx.audit(event, session, details)
        except LockError:
            return False
        except ContextError as error:  # a store too broken to write: retrying would never end
            log.warning("%d audit records could not be written (%s)", len(batch), error.kind)
            return None
        return True


# A library user's script may end without closing its manager: what it queued is written before the
# interpreter goes (daemon threads still run while atexit handlers do), for a bounded time.
_LIVE: weakref.WeakSet[AuditQueue] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    deadline = time.monotonic() + EXIT_WAIT_S
    for queue in list(_LIVE):
        queue.flush(max(0.0, deadline - time.monotonic()))
