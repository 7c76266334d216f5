"""The cross-process change feed: every committed version, from any process on the workspace.

Each commit appends a row to the store's ``feed`` table in the same transaction. A reader keeps a
cursor and asks for rows after it whenever SQLite's ``PRAGMA data_version`` says another connection
committed, or when its own process says it just committed. No busy loop: callers poll on a timer.
"""

from __future__ import annotations

from groundhog.store.records import FeedEvent
from groundhog.store.sqlite import SqliteStore


class ChangeFeed:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        with store.read() as tx:
            self.cursor = tx.feed_head()
        self._data_version = store.data_version()
        self._poked = False

    def poke(self) -> None:
        """Our own process committed: read the feed on the next poll even if data_version is still."""
        self._poked = True

    def poll(self) -> list[FeedEvent]:
        """New events since the last poll, oldest first (cheap when nothing changed)."""
        version = self.store.data_version()
        if version == self._data_version and not self._poked:
            return []
        self._data_version, self._poked = version, False
        with self.store.read() as tx:
            events = tx.feed_after(self.cursor)
        if events:
            self.cursor = events[-1].seq
        return events
