"""ContextTracker: one context as seen by one session, with the specification's API over the
library's models: ``get_state`` / ``update_state`` with a ContextState working copy (key-level merge
when asked), ``create_snapshot`` / ``get_snapshot`` / ``create_recovery_point`` answering
ContextSnapshots, validators, subscribers (subscriptions.py), and the ``*_async`` twins of the writes
for code on an event loop (each write waits for an fsync). The work itself is the core's
(tracking.py), which the faces call directly with the store's encoded values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from groundhog.changes import Change
from groundhog.conflicts import OnConflict
from groundhog.errors import InvalidParams
from groundhog.model import ContextSnapshot, ContextState
from groundhog.patch import same_encoded
from groundhog.rollbacks import RECOVERY_POINT_LABEL, RollbackResult
from groundhog.states import to_context_state, to_snapshot
from groundhog.store.codec import decode_value, values_from_object
from groundhog.store.interface import Store, Transaction
from groundhog.store.records import ContextRow
from groundhog.subscriptions import ContextSubscriber
from groundhog.tracking import CommitResult, Hooks, TrackerConfig, TrackerCore, Validator

__all__ = ["ContextTracker", "ContextTrackerFactory", "Hooks", "TrackerConfig"]


class ContextTracker(TrackerCore):
    def get_state(self) -> ContextState:
        """A working copy of the head."""
        return to_context_state(self.read())

    def get_snapshot(self, snapshot_id: str) -> ContextSnapshot:
        def body(tx: Transaction, row: ContextRow) -> ContextSnapshot:
            info, state, editor = self.load_snapshot(tx, row, snapshot_id)
            return to_snapshot(info, state, editor)

        return self._reading(body)

    def update_state(self, state: ContextState, *, merge: bool = False) -> ContextState:
        """Make ``state`` the next version if ``state.version`` is still the head; with
        ``merge=True`` a stale working copy is merged key by key when no key it changed has
        changed since. Returns the new head."""
        if not isinstance(state, ContextState):
            raise InvalidParams("update_state needs a ContextState.", field="state")
        base = self._reading(lambda tx, row: self._base_for(tx, row, state.version))
        proposed = values_from_object(state.data, strict=True)  # checked once here, trusted below
        keys = [
            key
            for key in sorted(base.values.keys() | proposed.keys())
            if key not in base.values
            or key not in proposed
            or not same_encoded(base.values[key], proposed[key], decode_value, state.data[key])
        ]
        metadata = state.metadata if state.metadata != base.metadata else None
        if metadata is not None:
            values_from_object({"metadata": metadata}, strict=True)
        change = Change(
            set={k: state.data[k] for k in keys if k in proposed},
            remove=[k for k in keys if k not in proposed],
            metadata=metadata,
            replace_metadata=True,
            trusted_json=True,  # every value was checked strictly above
            known_changed=frozenset(keys),
            encoded=proposed,
        )
        self.update(change, base_version=state.version, on_conflict="merge" if merge else "fail")
        return self.get_state()

    def create_snapshot(
        self,
        label: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        editor: dict[str, Any] | None = None,
    ) -> ContextSnapshot:
        """Capture the head (with ``editor``, else the context's stored editor state): a manifest of
        its values, each stored once per context (store/values.py)."""
        return to_snapshot(*self._capture(label, metadata, editor, kind="snapshot"))

    def create_recovery_point(self) -> ContextSnapshot:
        captured = self._capture(RECOVERY_POINT_LABEL, {"kind": "recoveryPoint"}, None, kind="recoveryPoint")
        return to_snapshot(*captured)

    # -- async twins of the writes: each waits for an fsync, which must not block an event loop -

    async def update_state_async(self, state: ContextState, *, merge: bool = False) -> ContextState:
        return await asyncio.to_thread(self.update_state, state, merge=merge)

    async def update_async(
        self, change: Change, *, base_version: int | None = None, on_conflict: OnConflict = "merge"
    ) -> CommitResult:
        return await asyncio.to_thread(
            self.update, change, base_version=base_version, on_conflict=on_conflict
        )

    async def create_snapshot_async(
        self, label: str | None = None, metadata: dict[str, Any] | None = None
    ) -> ContextSnapshot:
        return await asyncio.to_thread(self.create_snapshot, label, metadata)

    async def rollback_async(
        self, *, to_version: int | None = None, snapshot_id: str | None = None, dry_run: bool = False
    ) -> RollbackResult:
        return await asyncio.to_thread(
            self.rollback, to_version=to_version, snapshot_id=snapshot_id, dry_run=dry_run
        )

    # -- validators and subscribers ------------------------------------------------------------

    def add_validator(self, validator: Validator) -> None:
        """``validator(new_state)`` runs before every change; raising rejects the change."""
        self._validators.append(validator)

    def subscribe(self, subscriber: ContextSubscriber) -> Callable[[], None]:
        """``subscriber`` hears of every later change, recovery, deletion and failure of this
        context, from this tracker, another one, another session or process (subscriptions.py)."""
        self.subscribers.add(subscriber)
        self.hooks.on_subscribe(self)
        return lambda: self.subscribers.remove(subscriber)


@dataclass
class ContextTrackerFactory:
    """Makes trackers preconfigured with limits, validators and a store."""

    store: Store
    config: TrackerConfig = field(default_factory=TrackerConfig)
    hooks: Hooks = field(default_factory=Hooks)

    def create(self, name: str, session: str = "library") -> ContextTracker:
        return ContextTracker(self.store, name, session=session, config=self.config, hooks=self.hooks)
