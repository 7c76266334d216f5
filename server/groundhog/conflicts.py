"""An update whose ``baseVersion`` is not the head (PROTOCOL.md, decisions 8 and 9): merged when none
of the top-level keys it touches changed since its base, else a VersionConflict naming those keys."""

from __future__ import annotations

from typing import Literal

from groundhog.changes import Change
from groundhog.errors import VersionConflict
from groundhog.store.interface import Transaction
from groundhog.store.records import ContextRow, StoredState

OnConflict = Literal["merge", "fail", "overwrite"]


def resolve_stale_base(
    tx: Transaction,
    row: ContextRow,
    head: StoredState,
    change: Change,
    base: int,
    on_conflict: OnConflict,
) -> bool:
    """Decide an update of context ``row`` whose base is ``base``; True means merged, False that it
    applies as it is (``overwrite``); otherwise VersionConflict."""
    name = row.name
    if base > head.version:
        raise VersionConflict(
            f"baseVersion {base} is newer than the head {head.version} of context {name!r}.",
            currentVersion=head.version,
            conflictingKeys=[],
        )
    if on_conflict == "overwrite":
        return False
    touched = change.touched_keys()
    touched_list = sorted(head.values) if touched is None else sorted(touched)
    if base < tx.oldest_version(row):
        conflicting = touched_list
    else:
        since = tx.changed_keys_since(row, base)
        conflicting = sorted(since) if touched is None else sorted(since & touched)
        if on_conflict == "merge" and not conflicting:
            return True
    raise VersionConflict(
        f"Context {name!r} changed since version {base}"
        + (f"; conflicting keys: {', '.join(map(repr, conflicting[:5]))}." if conflicting else "."),
        currentVersion=head.version,
        conflictingKeys=conflicting,
    )
