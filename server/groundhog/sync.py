"""The cross-process change feed: every committed version, from any process on the workspace.

Each commit appends a row to the store's ``feed`` table in the same transaction. A reader keeps a
cursor and asks for rows after it whenever SQLite's ``PRAGMA data_version`` says another connection
committed, or when its own process says it just committed. No busy loop: callers poll on a timer.
What the feed does not carry (a context created or deleted, an editor session's persisted editor
state) is noticed from a cheap fingerprint read at the same moments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from groundhog.store.interface import Store
from groundhog.store.records import FeedEvent


@dataclass(frozen=True)
class WorkspaceChanges:
    events: list[FeedEvent] = field(default_factory=list)  # new versions, oldest first
    contexts_changed: bool = False  # a context was created or deleted
    editors_changed: bool = False  # a session persisted its editor state, or ended
    looked: bool = False  # something was committed since the last poll (the store was read)


class ChangeFeed:
    def __init__(self, store: Store) -> None:
        self.store = store
        with store.read() as tx:
            self.cursor = tx.feed_head()
            self._marks = tx.change_marks()
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
        events, marks = self.store.reading(lambda tx: (tx.feed_after(self.cursor), tx.change_marks()))
        self._data_version, self._poked = version, False
        if events:
            self.cursor = events[-1].seq
        (old_contexts, old_editors), self._marks = self._marks, marks
        return WorkspaceChanges(events, marks[0] != old_contexts, marks[1] != old_editors, looked=True)
