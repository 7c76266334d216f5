"""Rollback (PROTOCOL.md, context/rollback and decision 10): a recovery point of the current head first,
then a new version equal to an older kept version or to a snapshot. Only the keys that differ are
written; a version the tracker stepped over lately comes from its undo steps (heads.py), so a rollback
costs the change, not the state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from groundhog.errors import InvalidParams
from groundhog.patch import changed_keys
from groundhog.store.codec import Payload, decode_value
from groundhog.store.interface import Transaction
from groundhog.store.records import ContextRow, StoredState

if TYPE_CHECKING:
    from groundhog.tracking import TrackerCore

RECOVERY_POINT_LABEL = "recovery point"


@dataclass(frozen=True)
class RollbackResult:
    context: str
    version: int
    restored_from: dict[str, Any]
    changed_keys: list[str]
    recovery_point: str | None


def rollback(
    tracker: TrackerCore,
    *,
    to_version: int | None = None,
    snapshot_id: str | None = None,
    dry_run: bool = False,
) -> RollbackResult:
    """``tracker``'s context back to ``to_version`` or ``snapshot_id``; ``dry_run`` changes nothing
    and answers what would change."""
    if (to_version is None) == (snapshot_id is None):
        raise InvalidParams("Give exactly one of 'toVersion' and 'snapshotId'.", field="toVersion")

    def body(tx: Transaction, row: ContextRow, head: StoredState) -> tuple[RollbackResult, Any]:
        kind, source, target, editor, keys = _target(tracker, tx, row, head, to_version, snapshot_id)
        meta_changed = target.metadata != head.metadata
        if dry_run or not (keys or meta_changed):
            return RollbackResult(tracker.name, head.version, source, keys, None), None
        tracker.check_size(target.measured_size())
        new = StoredState(0, "", target.values, target.metadata, target.measured_size())
        tracker.validate(new)
        point = tx.insert_snapshot(
            row,
            head,
            label=RECOVERY_POINT_LABEL,
            metadata={"kind": "recoveryPoint"},
            editor=tx.load_editor(row),
            kind="recoveryPoint",
        )
        delta = Payload(
            values={k: target.values[k] for k in keys if k in target.values},
            removed=[k for k in keys if k not in target.values],
            metadata=target.metadata if meta_changed else None,
        )
        new_row, info = tx.append_version(row, new, kind, tracker.session, keys, delta, previous=head)
        if editor is not None:
            tx.save_editor(row, editor)
        tx.audit(
            kind,
            tracker.session,
            {"context": tracker.name, "version": info.version, "from": source, "recoveryPoint": point.id},
        )
        result = RollbackResult(tracker.name, info.version, source, keys, point.id)
        return result, (new_row, head, new, keys)

    return tracker.write_with("rollback", body, read_only_ok=dry_run)


def _target(
    tracker: TrackerCore,
    tx: Transaction,
    row: ContextRow,
    head: StoredState,
    to_version: int | None,
    snapshot_id: str | None,
) -> tuple[str, dict[str, Any], StoredState, dict[str, Any] | None, list[str]]:
    """What a rollback goes back to: its kind and source, the target state, the editor state a
    snapshot holds, and the keys that differ from the head."""
    editor, candidates, source = None, None, dict[str, Any]()
    if snapshot_id is not None:
        _, target, editor = tracker.load_snapshot(tx, row, snapshot_id)
        kind, source = "restore", {"snapshotId": snapshot_id}
    else:
        assert to_version is not None
        tracker.check_kept(tx, row, to_version)
        target, candidates = tracker.older_state(tx, row, head, to_version)
        kind, source = "rollback", {"version": to_version}
    if candidates is None:
        keys = changed_keys(head.values, target.values, decode_value)
    else:  # only the keys the versions in between changed can differ
        keys = changed_keys(_only(head.values, candidates), _only(target.values, candidates), decode_value)
    return kind, source, target, editor, keys


def _only(values: dict[str, bytes], keys: set[str]) -> dict[str, bytes]:
    return {key: values[key] for key in keys if key in values}
