"""What a tracker keeps of its context between calls: the row and the head in encoded form, brought
forward by the deltas other writers committed (so a read or a small update never rebuilds a large
state from disk), and the undo steps of its own recent writes (so a rollback to a version it just
stepped over costs the change, not the state)."""

from __future__ import annotations

from groundhog.store.codec import Payload, size_after
from groundhog.store.interface import Transaction
from groundhog.store.records import ContextRow, StoredState
from groundhog.store.splices import apply_deltas
from groundhog.undo import UndoLog

CATCH_UP_LIMIT = 200  # beyond this many new versions, reload the head instead of replaying deltas


class HeadCache:
    """Not thread-safe on its own: the tracker holds its lock around every use."""

    def __init__(self) -> None:
        self.row: ContextRow | None = None
        self.head: StoredState | None = None
        self.undo = UndoLog()  # how to step back from the head to the versions just before it

    def forget(self) -> None:
        """After a recovery: the next read rebuilds from the store."""
        self.row = self.head = None

    def committed(self, row: ContextRow, old: StoredState, new: StoredState, keys: list[str]) -> None:
        self.row, self.head = row, new
        self.undo.record(row.uid, old, new, keys)

    def head_in(self, tx: Transaction, row: ContextRow) -> StoredState:
        """The head of ``row``: the cache if current, brought forward by deltas, else rebuilt."""
        cached, cached_row = self.head, self.row
        above = False  # versions newer than the recorded head: the head record was moved back
        if cached is not None and cached_row is not None and cached_row.uid == row.uid:
            if cached.version == row.head:
                self.row = row
                return cached
            if 0 < row.head - cached.version <= CATCH_UP_LIMIT:
                deltas = tx.deltas_after(row, cached.version)
                above = bool(deltas) and deltas[-1][0] > row.head
                caught_up = _caught_up(row, cached, deltas)
                if caught_up is not None:
                    self.row, self.head = row, caught_up
                    return caught_up
        if cached_row is None or cached_row.uid != row.uid or above or (cached and row.head < cached.version):
            tx.check_head_chain(row)  # first sight of this context, or its head went back: check it
        state = tx.load_state(row, row.head)
        self.row, self.head = row, state
        return state

    def older_state(
        self, tx: Transaction, row: ContextRow, head: StoredState, version: int
    ) -> tuple[StoredState, set[str] | None]:
        """Version ``version`` of the context, and the keys that can differ from the head (None:
        any). A version this tracker stepped over lately is the head with those steps undone (the
        work of the change, not of the state); an older one is rebuilt from its checkpoint."""
        if version == head.version:
            return head, set()
        undone = self.undo.back_to(row.uid, head, version)
        if undone is not None:
            return undone
        return tx.load_state(row, version), tx.changed_keys_between(row, version, head.version)


def _caught_up(
    row: ContextRow, cached: StoredState, deltas: list[tuple[int, str, Payload]]
) -> StoredState | None:
    """``cached`` with the deltas committed since applied, or None when they are not all there."""
    if not deltas or deltas[0][0] != cached.version + 1 or deltas[-1][0] != row.head:
        return None
    state = StoredState(cached.version, cached.last_modified, dict(cached.values), cached.metadata)
    apply_deltas(state, [delta for _version, _ts, delta in deltas])
    if cached.size >= 0:  # measured from the keys the deltas touched, not all of them
        touched = {k for _v, _ts, delta in deltas for k in (*delta.values, *delta.removed)}
        state.size = size_after(cached.values, cached.size, state.values, touched)
    state.version, state.last_modified = deltas[-1][0], deltas[-1][1]
    return state
