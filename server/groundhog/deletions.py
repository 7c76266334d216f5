"""Deleting a snapshot (``TrackerCore.delete_snapshot``): the engine's rules over the store's
deletion (store/snapshot_deletion.py, which re-bases the snapshots built on it and reclaims the
values nothing refers to any more).

- A user's snapshot can be deleted; a recovery point cannot: the retention owns those (it keeps the
  newest ``recoveryPointsKeep`` and prunes the rest), and one deleted by hand could be the undo a
  rollback promised (InvalidState, saying so).
- An unknown id, another context's snapshot, or a hidden base row: SnapshotNotFound.
- A read-only session: AccessDenied. Every deletion and every refusal is audited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundhog.errors import InvalidState, SnapshotNotFound
from groundhog.store.records import ContextRow, SnapshotInfo, StoredState

if TYPE_CHECKING:
    from groundhog.manager import ContextManager
    from groundhog.store.interface import Transaction
    from groundhog.tracking import TrackerCore


def delete_snapshot(tracker: TrackerCore, snapshot_id: str) -> SnapshotInfo:
    def body(tx: Transaction, row: ContextRow, head: StoredState) -> tuple[SnapshotInfo, Any]:
        info = tx.find_snapshot(row, snapshot_id) if isinstance(snapshot_id, str) else None
        if info is None:
            raise SnapshotNotFound(
                f"Snapshot {snapshot_id!r} does not exist in context {tracker.name!r}.",
                snapshotId=snapshot_id,
            )
        if info.kind == "recoveryPoint":
            raise InvalidState(
                f"Snapshot {snapshot_id!r} of context {tracker.name!r} is a recovery point: the store keeps "
                "the newest ones (recoveryPointsKeep) and prunes the rest itself; it is not deleted by hand.",
                snapshotId=snapshot_id,
            )
        tx.delete_snapshot(row, snapshot_id)
        tx.audit(
            "delete-snapshot",
            tracker.session,
            {"context": tracker.name, "snapshot": snapshot_id, "version": info.version, "label": info.label},
        )
        return info, None

    return tracker.write_with("delete snapshot", body)


def context_of_snapshot(manager: ContextManager, snapshot_id: str) -> str | None:
    """The context holding the snapshot ``snapshot_id`` (a person at a terminal knows the id)."""
    for context in manager.list_contexts():
        if any(s.id == snapshot_id for s in manager.tracker(context.name).snapshots()):
            return context.name
    return None
