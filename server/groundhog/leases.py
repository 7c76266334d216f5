"""Session leases (store/liveness.py says why): one thread per workspace manager renews the leases
of this process's sessions every third of the lease, in one write, and puts back a session whose
row another server removed while this one could not renew (the database was down, the machine
asleep), with the context it had active.

The lease is not a heartbeat per session or per editor event: one small write per process per
renewal, whatever the number of sessions. A renewal that fails (the database restarting) is tried
again after ``RETRY_S``, then on the usual cadence once it succeeds.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from groundhog.errors import AccessDenied, ContextError
from groundhog.store.interface import Store

log = logging.getLogger(__name__)
RETRY_S = 1.0  # after a failed renewal (never more than the usual interval)


@dataclass
class _Held:
    client: dict[str, object]
    active: str | None = None


class LeaseKeeper:
    def __init__(self, store: Store, lease_s: float) -> None:
        self._store = store
        self.lease_ms = max(1, int(lease_s * 1000))
        self.interval_s = lease_s / 3
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, session: str, client: dict[str, object]) -> None:
        """Keep ``session`` (just registered) alive from now on."""
        with self._lock:
            self._held[session] = _Held(dict(client))
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="groundhog-leases", daemon=True)
                self._thread.start()

    def activated(self, session: str, name: str | None) -> None:
        with self._lock:
            if session in self._held:
                self._held[session].active = name

    def forget(self, session: str) -> None:
        with self._lock:
            self._held.pop(session, None)

    def renew(self) -> bool:
        """Renew every held lease now; False when the store could not be written."""
        with self._lock:
            held = {session: _Held(h.client, h.active) for session, h in self._held.items()}
        if not held:
            return True
        try:
            with self._store.write() as tx:
                for session in tx.renew_sessions(sorted(held), self.lease_ms):
                    log.info("a session's lease ran out while it could not be renewed; registered again")
                    tx.register_session(session, held[session].client, self.lease_ms)
                    tx.set_session_active(session, held[session].active)
        except AccessDenied:  # this machine's member was removed: its sessions end with its server
            log.warning("the sessions' leases cannot be renewed: this machine is no longer a member")
            return True
        except ContextError as error:
            log.warning("could not renew the sessions' leases (%s); trying again", error.kind)
            return False
        return True

    def _run(self) -> None:
        delay = self.interval_s
        while not self._stop.wait(delay):
            delay = self.interval_s if self.renew() else min(RETRY_S, self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
