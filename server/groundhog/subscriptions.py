"""Subscribers hear everything that happens to their context, whoever does it: its own tracker,
another tracker or manager, another process.

What a subscriber hears, each once and in order (documented in docs/data.md):
- ``on_state_change(old, new)`` for every new version, in version order: ``old`` is the state it
  heard last. Its own tracker's commits are told at once; everything else arrives through the
  workspace's change feed, which one thread per manager follows while some tracker has subscribers
  (within ~50 ms; at once for commits of the same manager).
- a recovery (damage found at the head, by any process): ``on_error(DataDamaged)`` saying so, then
  ``on_state_change`` to the ``recover`` version (its data is the newest valid state's).
- a deletion: ``on_error(ContextNotFound)``; a context created again under the name starts from an
  empty state at version 0 (``old.version == 0``), then its versions 1, 2, ...
- errors: a failed read or write of the context in this manager (any of its trackers) at once; a
  failed write in another manager or process once its audit record is written (the audit log is the
  channel every process already writes its failures to).

Every version is read back from the store by whichever path sees it first (``Subscribers.sync``),
from the state heard last forward, so nothing depends on a feed event arriving: a missed or pruned
event, a recovery that set versions aside, a context deleted and created again are all found by
comparing what was heard with what the store holds.
"""

from __future__ import annotations

import logging
import threading
import traceback
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from groundhog.errors import ContextError, ContextNotFound, DataDamaged, error_of_kind
from groundhog.limits import FEED_POLL_S
from groundhog.states import to_context_state
from groundhog.store.records import ContextRow, StoredState
from groundhog.store.splices import apply_deltas
from groundhog.sync import ChangeFeed

if TYPE_CHECKING:
    from groundhog.model import ContextState
    from groundhog.store.interface import Store, Transaction
    from groundhog.tracking import TrackerCore

log = logging.getLogger(__name__)
ABSENT = StoredState(0, "", {}, {})  # what a subscriber heard of a context that does not exist


class ContextSubscriber(Protocol):
    """Told about every change to a context and every error; one that raises never breaks anything."""

    def on_state_change(self, old_state: ContextState, new_state: ContextState) -> None: ...

    def on_error(self, error: ContextError) -> None: ...


class Subscribers:
    """One tracker's subscribers, and the context as they heard it last (its uid and state)."""

    def __init__(self, store: Store, name: str, head: Callable[[], tuple[str | None, StoredState]]) -> None:
        self._store = store
        self._name = name
        self._head = head  # (uid, head state) as a new subscriber starts from; (None, ABSENT): none
        self._list: list[ContextSubscriber] = []
        self._lock = threading.RLock()  # a subscriber may write to the context it hears about
        self._uid: str | None = None
        self._heard: StoredState | None = None  # None: nobody listens yet

    def __bool__(self) -> bool:
        return bool(self._list)

    def add(self, subscriber: ContextSubscriber) -> None:
        with self._lock:
            self._list.append(subscriber)
            if self._heard is None:
                try:
                    self._uid, self._heard = self._head()
                except ContextError:  # unreadable now: the first sync tells what the store holds
                    self._uid, self._heard = None, ABSENT

    def remove(self, subscriber: ContextSubscriber) -> None:
        with self._lock:
            if subscriber in self._list:
                self._list.remove(subscriber)

    def committed(self, uid: str, old: StoredState, new: StoredState) -> None:
        """Our tracker committed ``new`` over ``old``: tell at once when it is the next version."""
        with self._lock:
            if self._heard is None:
                return
            if self._uid == uid and self._heard.version == old.version:
                self._heard = new  # first: a nested delivery (a subscriber writing) goes on from here
                self._tell_change(old, new)
                return
        self.sync()

    def sync(self) -> None:
        """Tell everything the store holds that was not told yet (a deletion, new versions)."""
        with self._lock:
            if self._heard is None:
                return
            try:
                with self._store.read() as tx:
                    row = tx.find_context(self._name)
                    if row is not None and row.uid == self._uid and row.head == self._heard.version:
                        return
                    steps = list(_steps(tx, row, self._uid, self._heard))
            except ContextError:  # damage (the next read recovers it) or a store it cannot read now
                return
            if row is None or row.uid != self._uid:
                if self._uid is not None:
                    self._tell_error(
                        ContextNotFound(f"Context {self._name!r} was deleted.", context=self._name)
                    )
                self._uid, self._heard = (None, ABSENT) if row is None else (row.uid, ABSENT)
            for kind, state in steps:
                old, self._heard = self._heard, state
                if kind == "recover":
                    self._tell_error(
                        DataDamaged(
                            f"Context {self._name!r} was found damaged after version {state.version - 1};"
                            f" version {state.version} restores its newest valid state.",
                            context=self._name,
                            version=state.version,
                        )
                    )
                self._tell_change(old, state)

    def error(self, error: ContextError) -> None:
        """A failure concerning the context: told to every subscriber."""
        with self._lock:
            if self._heard is not None:
                self._tell_error(error)

    def _tell_change(self, old: StoredState, new: StoredState) -> None:
        before, after = to_context_state(old), to_context_state(new)
        for subscriber in list(self._list):
            try:
                subscriber.on_state_change(before.copy_state(), after.copy_state())
            except Exception as failure:
                log_subscriber_failure("a subscriber's on_state_change", failure)

    def _tell_error(self, error: ContextError) -> None:
        for subscriber in list(self._list):
            try:
                subscriber.on_error(error)
            except Exception as failure:
                log_subscriber_failure("a subscriber's on_error", failure)


def _steps(
    tx: Transaction, row: ContextRow | None, uid: str | None, heard: StoredState
) -> Iterator[tuple[str, StoredState]]:
    """(kind, state) of each kept version after the one heard (all of them for a context other than
    the one heard), each built from the one before by its delta when there is one (the cost of the
    change), else read whole (a checkpoint's version: a recovery, a change as large as the state)."""
    if row is None:
        return
    start = heard.version if row.uid == uid else 0
    first = max(start + 1, tx.oldest_version(row))
    if first > row.head:
        return
    infos = sorted(tx.version_infos(row, row.head - first + 1), key=lambda info: info.version)
    deltas = tx.deltas_between(row, first - 1, row.head) if infos else {}
    previous = heard if row.uid == uid and first == start + 1 else None
    for info in infos:
        delta = deltas.get(info.version)
        if previous is not None and delta is not None and info.kind != "recover":
            state = StoredState(previous.version, "", dict(previous.values), previous.metadata)
            apply_deltas(state, [delta])
            state.version, state.last_modified = info.version, info.timestamp
        else:
            state = tx.load_state(row, info.version)
        yield info.kind, state
        previous = state


def log_subscriber_failure(what: str, failure: Exception) -> None:
    """Log where a subscriber failed, but not its message or chained exceptions: those carry the
    states and ContextError messages it was handed (context names, keys, values), and user data
    stays out of logs."""
    frames = "".join(traceback.format_tb(failure.__traceback__))
    log.warning("%s failed with %s; ignored\n%s", what, type(failure).__name__, frames)


class FeedFollower:
    """Follows the change feed and the audit log for a manager's subscribed trackers, on one daemon
    thread; also the in-process path of one tracker's errors to the other trackers' subscribers."""

    def __init__(self, store: Store, origin: str) -> None:
        self._store = store
        self._origin = origin  # this manager's mark on the audit records it writes
        self._trackers: weakref.WeakSet[TrackerCore] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poke = threading.Event()
        self._thread: threading.Thread | None = None

    def follow(self, tracker: TrackerCore) -> None:
        with self._lock:
            self._trackers.add(tracker)
            if self._thread is None:
                ready = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(ready,), name="groundhog-subscriptions", daemon=True
                )
                self._thread.start()
                ready.wait()  # its cursors are set: no change after this call is missed

    def poke(self) -> None:
        """Something was committed in this process: look now instead of at the next tick."""
        self._poke.set()

    def tell_error(self, name: str, error: ContextError, origin: object) -> None:
        """A tracker of this manager failed on ``name``: tell the other trackers' subscribers."""
        for tracker in self._following(name):
            if tracker is not origin:
                tracker.subscribers.error(error)

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _following(self, name: str | None = None) -> list[TrackerCore]:
        with self._lock:
            return [t for t in self._trackers if name is None or t.name == name]

    def _run(self, ready: threading.Event) -> None:
        try:
            feed = ChangeFeed(self._store)
            with self._store.read() as tx:
                audit_cursor = tx.audit_head()
        except ContextError:
            feed, audit_cursor = None, 0
        finally:
            ready.set()
        self._store.on_change(self._poke.set)  # a shared store pushes commits: read at once
        while not self._stop.is_set():
            self._poke.wait(FEED_POLL_S)
            self._poke.clear()
            try:
                if feed is None:
                    feed = ChangeFeed(self._store)
                changes = feed.poll_workspace()
                if not changes.looked:  # nothing was committed anywhere since the last look
                    continue
                with self._store.read() as tx:
                    failures = tx.audit_after(audit_cursor, ("error",))
            except ContextError as error:
                log.warning("subscribers' change feed could not be read (%s)", error.kind)
                continue
            if failures:
                audit_cursor = failures[-1]["seq"]
            touched = {event.context for event in changes.events}
            for tracker in self._following():
                if changes.contexts_changed or tracker.name in touched:
                    tracker.subscribers.sync()
            self._tell_failures(failures)

    def _tell_failures(self, records: list[dict[str, Any]]) -> None:
        """Failed writes another manager or process audited, to the subscribers of their context."""
        for record in records:
            details = record["details"]
            name = details.get("context") if isinstance(details, dict) else None
            if not isinstance(name, str) or details.get("origin") == self._origin:
                continue
            error = error_of_kind(
                str(details.get("kind")),
                str(details.get("message") or f"A {details.get('action')} of context {name!r} failed."),
                context=name,
                session=record["session"],
            )
            error.audited = True
            for tracker in self._following(name):
                tracker.subscribers.error(error)
