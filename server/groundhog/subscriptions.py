"""Subscribers hear about every change to their context: made through their own tracker, another
tracker, another session or another process, automatic recoveries included, each once and in
version order.

A tracker delivers its own commits at once. Everything else arrives through the workspace's change
feed, which one thread per manager follows (only while some tracker has subscribers). Both paths go
through ``Deliveries.upto``: whichever sees a version first delivers every version up to it that
was not delivered yet, reading the states it was not handed from the store.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from groundhog.errors import ContextError
from groundhog.store.records import StoredState
from groundhog.sync import ChangeFeed

if TYPE_CHECKING:
    from groundhog.store.interface import Store
    from groundhog.tracker import ContextTracker

log = logging.getLogger(__name__)
FEED_POLL_S = 0.05


class Deliveries:
    """One tracker's delivery cursor: the newest version its subscribers have heard about."""

    def __init__(
        self, read: Callable[[int], StoredState], tell: Callable[[StoredState, StoredState], None]
    ) -> None:
        self._read = read
        self._tell = tell
        self._lock = threading.RLock()  # a subscriber may write to the context it hears about
        self.delivered: int | None = None  # None: nobody listens yet

    def start(self, head: int) -> None:
        with self._lock:
            if self.delivered is None:
                self.delivered = head

    def upto(self, version: int, known: tuple[StoredState, StoredState] | None = None) -> None:
        """Deliver every version after the last delivered one up to ``version``, in order."""
        with self._lock:
            if self.delivered is None:
                return
            while self.delivered is not None and self.delivered < version:
                number = self.delivered + 1
                self.delivered = number  # first: a nested delivery (a subscriber writing) goes on from here
                pair = known if known is not None and known[1].version == number else self._pair(number)
                if pair is not None:
                    self._tell(*pair)

    def _pair(self, version: int) -> tuple[StoredState, StoredState] | None:
        try:
            return self._read(version - 1), self._read(version)
        except ContextError:  # folded away by retention, or deleted meanwhile: nothing to tell
            return None


class FeedFollower:
    """Follows the change feed for a manager's subscribed trackers, on one daemon thread."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._trackers: weakref.WeakSet[ContextTracker] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poke = threading.Event()
        self._thread: threading.Thread | None = None

    def follow(self, tracker: ContextTracker) -> None:
        with self._lock:
            self._trackers.add(tracker)
            if self._thread is None:
                ready = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(ready,), name="groundhog-subscriptions", daemon=True
                )
                self._thread.start()
                ready.wait()  # its feed cursor is set: no change after this call is missed

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self, ready: threading.Event) -> None:
        try:
            feed = ChangeFeed(self._store)
        finally:
            ready.set()
        self._store.on_change(self._poke.set)  # a shared store pushes commits: read at once
        while not self._stop.is_set():
            self._poke.wait(FEED_POLL_S)
            self._poke.clear()
            try:
                events = feed.poll()
            except ContextError as error:
                log.warning("subscribers' change feed could not be read (%s)", error.kind)
                continue
            newest: dict[str, int] = {}
            for event in events:
                newest[event.context] = max(newest.get(event.context, 0), event.version)
            with self._lock:
                trackers = list(self._trackers)
            for tracker in trackers:
                if tracker.name in newest:
                    tracker.deliveries.upto(newest[tracker.name])
