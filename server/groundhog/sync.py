"""The cross-process change feed: every committed version, and every context created or deleted,
from any process on the workspace.

Each commit appends a row to the store's ``feed`` table in the same transaction (a deletion too: a
``delete`` row, store/rows.py). A reader keeps a cursor and asks for rows after it whenever SQLite's
``PRAGMA data_version`` says another connection committed, or when its own process says it just
committed. No busy loop: callers poll on a timer. Creates and deletes come from the feed, each one,
however close together (a context created and deleted between two polls is two list changes); what
the feed does not carry (an editor session's persisted editor state) is noticed from a cheap
fingerprint read at the same moments, which also catches creates and deletes by an older server
that wrote no ``delete`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from groundhog.store.interface import Store
from groundhog.store.records import FeedEvent

FEED_BATCH = 500  # feed rows read at a time


@dataclass(frozen=True)
class ListChange:
    """A context created or deleted."""

    kind: str  # "create" | "delete"
    context: str | None  # None: created and deleted before this reader could learn its name


@dataclass(frozen=True)
class WorkspaceChanges:
    events: list[FeedEvent] = field(default_factory=list)  # new versions of live contexts, oldest first
    contexts_changed: bool = False  # a context was created or deleted
    editors_changed: bool = False  # a session persisted its editor state, or ended
    looked: bool = False  # something was committed since the last poll (the store was read)
    list_changes: list[ListChange] = field(default_factory=list)  # each create and delete, in order


class ChangeFeed:
    def __init__(self, store: Store) -> None:
        self.store = store
        with store.read() as tx:
            self.cursor = tx.feed_head()
            self._marks = tx.change_marks()
            # the names of deleted contexts are gone from the store: remember those we knew
            self._names = {row.id: row.name for row in tx.list_contexts()}
        # data_version counts per connection, and connections are per thread: a value read here
        # (often not the polling thread) means nothing to the poller, so its first poll reads.
        self._data_version: int | None = None
        self._poked = False

    def poke(self) -> None:
        """Our own process committed: read the feed on the next poll even if data_version is still."""
        self._poked = True

    def poll(self) -> list[FeedEvent]:
        """New events since the last poll, oldest first (cheap when nothing changed)."""
        return self.poll_workspace().events

    def poll_workspace(self) -> WorkspaceChanges:
        """Everything that changed since the last poll (cheap when nothing did)."""
        version = self.store.data_version()
        if version == self._data_version and not self._poked:
            return WorkspaceChanges()
        # a failed read leaves the signal unconsumed: the next poll reads
        rows, marks = self.store.reading(
            lambda tx: (tx.feed_after(self.cursor, FEED_BATCH), tx.change_marks())
        )
        # a full batch leaves more to read: the next poll reads on without waiting for a commit
        self._data_version, self._poked = version, len(rows) >= FEED_BATCH
        if rows:
            self.cursor = rows[-1].seq
        events, changes = [], []
        for row in rows:
            if row.context:
                self._names[row.context_id] = row.context
                if row.kind != "delete":
                    events.append(row)
            if row.kind in ("create", "delete"):
                changes.append(ListChange(row.kind, row.context or self._names.get(row.context_id)))
        (old_contexts, old_editors), self._marks = self._marks, marks
        contexts_changed = bool(changes) or marks[0] != old_contexts
        return WorkspaceChanges(events, contexts_changed, marks[1] != old_editors, True, changes)
