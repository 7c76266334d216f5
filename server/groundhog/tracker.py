"""ContextTracker: one context as seen by one session. Thread-safe reads, versioned writes with
compare-and-swap inside the store's write transaction, key-level merge, validators, history, rollback,
snapshots, recovery points and subscribers.

The tracker caches the head in encoded form and brings it forward with the deltas other writers
committed, so a read or a small update never rebuilds a large state from disk.

Every method is synchronous and safe from any thread: a write blocks until its commit is durable
(an fsync). Code on an event loop uses the ``*_async`` twins of the writes, which run them on a
worker thread. (Over ~400 lines on purpose: one class, whose every operation goes through the same
read/write/recovery path at the bottom; split, that path would be shared across modules.)
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from groundhog.changes import Change, apply_change
from groundhog.errors import (
    AccessDenied,
    ContextError,
    ContextNotFound,
    DataDamaged,
    InvalidParams,
    SnapshotNotFound,
    TooLarge,
    VersionConflict,
)
from groundhog.labels import check_label, check_metadata
from groundhog.limits import DEFAULT_SNAPSHOT_MAX_BYTES
from groundhog.model import ContextSnapshot, ContextState, HistoryEntry
from groundhog.patch import changed_keys, key_diff, same_encoded
from groundhog.reports import RecoveryReport
from groundhog.store.codec import Payload, decode_value, decode_values, size_after, values_from_object
from groundhog.store.interface import Store, Transaction
from groundhog.store.records import ContextRow, SnapshotInfo, StoredState
from groundhog.store.splices import apply_deltas
from groundhog.subscriptions import ABSENT, ContextSubscriber, Subscribers
from groundhog.undo import UndoLog

T = TypeVar("T")
OnConflict = Literal["merge", "fail", "overwrite"]
Validator = Callable[[ContextState], None]
RECOVERY_POINT_LABEL = "recovery point"
CATCH_UP_LIMIT = 200  # beyond this many new versions, reload the head instead of replaying deltas


@dataclass(frozen=True)
class TrackerConfig:
    """What trackers enforce. How much history is kept is the store's (StoreSettings.history_limit):
    one value, in one place, where retention happens."""

    snapshot_max_bytes: int = DEFAULT_SNAPSHOT_MAX_BYTES
    read_only: bool = False
    validators: tuple[Validator, ...] = ()


@dataclass(frozen=True)
class CommitResult:
    context: str
    version: int
    merged: bool
    changed_keys: list[str]
    kind: str | None  # None when nothing changed and no version was made


@dataclass(frozen=True)
class RollbackResult:
    context: str
    version: int
    restored_from: dict[str, Any]
    changed_keys: list[str]
    recovery_point: str | None


@dataclass(frozen=True)
class Hooks:
    """How a tracker tells its manager about commits, recoveries and failures (to wake the change
    feed, tell the other trackers' subscribers) and audits a failure (auditing.py: without waiting
    for the write lock). Without a manager, a failure is audited in the failing call."""

    on_commit: Callable[[], None] = lambda: None
    on_recover: Callable[[RecoveryReport], None] = lambda report: None
    on_subscribe: Callable[[ContextTracker], None] = lambda tracker: None  # follow the feed for it
    on_error: Callable[[ContextTracker, ContextError], None] = lambda tracker, error: None
    audit: Callable[[str, str, dict[str, Any]], None] | None = None  # (event, session, details)


class ContextTracker:
    def __init__(
        self,
        store: Store,
        name: str,
        *,
        session: str = "library",
        config: TrackerConfig | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.session = session
        self.config = config or TrackerConfig()
        self.hooks = hooks or Hooks()
        self._validators: list[Validator] = list(self.config.validators)
        self.subscribers = Subscribers(store, name, self._heard_head)
        self._lock = threading.RLock()
        self._row: ContextRow | None = None
        self._head: StoredState | None = None
        self._undo = UndoLog()  # how to step back from the head to the versions just before it

    # -- reads ----------------------------------------------------------------------------------

    def get_state(self) -> ContextState:
        """A working copy of the head."""
        return to_context_state(self.read())

    def read(self, version: int | None = None) -> StoredState:
        """The head, or any version still in the kept history, in encoded form (never modify it)."""

        def body(tx: Transaction, row: ContextRow) -> StoredState:
            head = self._head_in(tx, row)
            if version is None or version == head.version:
                return head
            self._check_kept(tx, row, version)
            return tx.load_state(row, version)

        return self._reading(body)

    @property
    def version(self) -> int:
        return self.read().version

    def history(self, limit: int = 50, before: int | None = None) -> tuple[list[HistoryEntry], int]:
        """Entries newest first, and the oldest version still kept."""

        def body(tx: Transaction, row: ContextRow) -> tuple[list[HistoryEntry], int]:
            infos = tx.version_infos(row, limit, before)
            entries = [
                HistoryEntry(
                    version=i.version,
                    timestamp=i.timestamp,
                    kind=i.kind,  # type: ignore[arg-type]
                    session=i.session,
                    changed_keys=i.changed_keys,
                )
                for i in infos
            ]
            return entries, tx.oldest_version(row)

        return self._reading(body)

    def diff(self, from_version: int, to_version: int | None = None) -> tuple[int, int, list[Any]]:
        """One RFC 6902 op per top-level key that differs between two kept versions."""

        def body(tx: Transaction, row: ContextRow) -> tuple[int, int, list[Any]]:
            head = self._head_in(tx, row)
            target = head.version if to_version is None else to_version
            for version in (from_version, target):
                self._check_kept(tx, row, version)
            old = head if from_version == head.version else tx.load_state(row, from_version)
            new = head if target == head.version else tx.load_state(row, target)
            return from_version, target, key_diff(old.values, new.values, decode_value)

        return self._reading(body)

    def snapshots(self) -> list[SnapshotInfo]:
        return self._reading(lambda tx, row: tx.list_snapshots(row))

    def get_snapshot(self, snapshot_id: str) -> ContextSnapshot:
        def body(tx: Transaction, row: ContextRow) -> ContextSnapshot:
            info, state, editor = self._load_snapshot(tx, row, snapshot_id)
            return to_snapshot(info, state, editor)

        return self._reading(body)

    def load_editor(self) -> dict[str, Any] | None:
        return self._reading(lambda tx, row: tx.load_editor(row))

    # -- writes ---------------------------------------------------------------------------------

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

    def update(
        self,
        change: Change,
        *,
        base_version: int | None = None,
        on_conflict: OnConflict = "merge",
    ) -> CommitResult:
        """Apply a set / remove / patch / metadata change to the head (PROTOCOL.md, context/update)."""

        def body(tx: Transaction, row: ContextRow, head: StoredState) -> tuple[CommitResult, Any]:
            merged = False
            if base_version is not None and base_version != head.version:
                merged = self._resolve_stale_base(tx, row, head, change, base_version, on_conflict)
            try:
                effect = apply_change(head, change)
            except VersionConflict as conflict:  # a failing patch `test` op
                conflict.details.setdefault("currentVersion", head.version)
                raise
            if not effect.changes_anything:
                return CommitResult(self.name, head.version, merged, [], None), None
            self._check_size(effect.size)
            new = StoredState(0, "", effect.values, effect.metadata, effect.size)
            self._validate(new)
            kind = "merge" if merged else "update"
            new_row, info = tx.append_version(
                row, new, kind, self.session, effect.changed_keys, effect.delta, previous=head
            )
            tx.audit(
                kind,
                self.session,
                {"context": self.name, "version": info.version, "changedKeys": effect.changed_keys},
            )
            return CommitResult(self.name, info.version, merged, effect.changed_keys, kind), (
                new_row,
                head,
                new,
                effect.changed_keys,
            )

        return self._writing("update", body)

    def rollback(
        self,
        *,
        to_version: int | None = None,
        snapshot_id: str | None = None,
        dry_run: bool = False,
    ) -> RollbackResult:
        """Append a version equal to an older version or a snapshot, after recording a recovery
        point of the current head. ``dry_run`` changes nothing and answers what would change."""
        if (to_version is None) == (snapshot_id is None):
            raise InvalidParams("Give exactly one of 'toVersion' and 'snapshotId'.", field="toVersion")

        def body(tx: Transaction, row: ContextRow, head: StoredState) -> tuple[RollbackResult, Any]:
            editor, source, candidates = None, dict[str, Any](), None
            if snapshot_id is not None:
                _, target, editor = self._load_snapshot(tx, row, snapshot_id)
                kind, source = "restore", {"snapshotId": snapshot_id}
            else:
                assert to_version is not None
                self._check_kept(tx, row, to_version)
                target, candidates = self._older_state(tx, row, head, to_version)
                kind, source = "rollback", {"version": to_version}
            if candidates is None:
                keys = changed_keys(head.values, target.values, decode_value)
            else:  # only the keys the versions in between changed can differ
                keys = changed_keys(
                    _only(head.values, candidates), _only(target.values, candidates), decode_value
                )
            meta_changed = target.metadata != head.metadata
            if dry_run or not (keys or meta_changed):
                return RollbackResult(self.name, head.version, source, keys, None), None
            self._check_size(target.measured_size())
            new = StoredState(0, "", target.values, target.metadata, target.measured_size())
            self._validate(new)
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
            new_row, info = tx.append_version(row, new, kind, self.session, keys, delta, previous=head)
            if editor is not None:
                tx.save_editor(row, editor)
            tx.audit(
                kind,
                self.session,
                {"context": self.name, "version": info.version, "from": source, "recoveryPoint": point.id},
            )
            result = RollbackResult(self.name, info.version, source, keys, point.id)
            return result, (new_row, head, new, keys)

        return self._writing("rollback", body, read_only_ok=dry_run)

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

    def take_snapshot(
        self,
        label: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        editor: dict[str, Any] | None = None,
    ) -> SnapshotInfo:
        """``create_snapshot`` answering what was recorded instead of the captured state: decoding
        every value for the answer would cost the state (~5 ms at 20,000 keys), the snapshot itself
        only the change (the faces answer with the record alone)."""
        return self._capture(label, metadata, editor, kind="snapshot")[0]

    def create_recovery_point(self) -> ContextSnapshot:
        captured = self._capture(RECOVERY_POINT_LABEL, {"kind": "recoveryPoint"}, None, kind="recoveryPoint")
        return to_snapshot(*captured)

    def _capture(
        self, label: str | None, metadata: dict[str, Any] | None, editor: dict[str, Any] | None, *, kind: str
    ) -> tuple[SnapshotInfo, StoredState, dict[str, Any] | None]:
        check_label(label)
        if metadata is not None:
            values_from_object({"metadata": metadata}, strict=True)
            check_metadata(metadata)

        def body(
            tx: Transaction, row: ContextRow, head: StoredState
        ) -> tuple[tuple[SnapshotInfo, StoredState, dict[str, Any] | None], Any]:
            self._check_size(head.measured_size())
            captured = editor if editor is not None else tx.load_editor(row)
            if editor is not None:
                tx.save_editor(row, editor)
            info = tx.insert_snapshot(
                row, head, label=label, metadata=metadata or {}, editor=captured, kind=kind
            )
            tx.audit(
                "snapshot",
                self.session,
                {"context": self.name, "version": head.version, "snapshot": info.id, "kind": kind},
            )
            return (info, head, captured), None

        return self._writing("snapshot", body)

    def delete_snapshot(self, snapshot_id: str) -> SnapshotInfo:
        """Delete one of the context's snapshots (not a recovery point); answers what it was.
        The rules and what happens to the snapshots built on it: deletions.py."""
        from groundhog.deletions import delete_snapshot

        return delete_snapshot(self, snapshot_id)

    def save_editor(self, editor: dict[str, Any]) -> None:
        """Persist the editor record of this context (not a version: keystrokes never make one)."""

        def body(tx: Transaction, row: ContextRow, head: StoredState) -> tuple[None, Any]:
            tx.save_editor(row, editor)
            return None, None

        self._writing("editor", body, audit_errors=False)

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

    # -- validators and subscribers -------------------------------------------------------------

    def add_validator(self, validator: Validator) -> None:
        """``validator(new_state)`` runs before every change; raising rejects the change."""
        self._validators.append(validator)

    def subscribe(self, subscriber: ContextSubscriber) -> Callable[[], None]:
        """``subscriber`` hears of every later change, recovery, deletion and failure of this
        context, from this tracker, another one, another session or process (subscriptions.py)."""
        self.subscribers.add(subscriber)
        self.hooks.on_subscribe(self)
        return lambda: self.subscribers.remove(subscriber)

    def _heard_head(self) -> tuple[str | None, StoredState]:
        """The head as a new subscriber starts from (the context's uid and state)."""
        try:
            head = self.read()
        except ContextNotFound:
            return None, ABSENT
        row = self._row
        return (None, ABSENT) if row is None else (row.uid, head)

    # -- internals ------------------------------------------------------------------------------

    def _reading(self, body: Callable[[Transaction, ContextRow], T]) -> T:
        def attempt() -> T:
            return self.store.reading(lambda tx: body(tx, self._find(tx)))

        try:
            with self._lock:
                return self._with_recovery(attempt)
        except ContextError as error:
            self._tell_error(error)
            raise

    def write_with(
        self, action: str, body: Callable[[Transaction, ContextRow, StoredState], tuple[T, Any]]
    ) -> T:
        """Run ``body`` as one of this tracker's writes (for the engine's other modules): refused in
        a read-only session, recovered on damage, audited on failure, subscribers told."""
        return self._writing(action, body)

    def _writing(
        self,
        action: str,
        body: Callable[[Transaction, ContextRow, StoredState], tuple[T, Any]],
        *,
        read_only_ok: bool = False,
        audit_errors: bool = True,
    ) -> T:
        try:
            if self.config.read_only and not read_only_ok:
                raise AccessDenied(
                    f"This session is read-only; {action} of context {self.name!r} is refused.",
                    context=self.name,
                )

            def attempt() -> tuple[T, Any]:
                with self.store.write() as tx:
                    row = self._find(tx)
                    return body(tx, row, self._head_in(tx, row))

            with self._lock:
                result, committed = self._with_recovery(attempt)
                if committed is not None:
                    new_row, old, new, keys = committed
                    self._row, self._head = new_row, new
                    self._undo.record(new_row.uid, old, new, keys)
        except ContextError as error:
            refused = isinstance(error, AccessDenied)  # refusals are always audited, read-only included
            if (audit_errors or refused) and not error.audited:
                self._audit_failure(action, error)
            self._tell_error(error)
            raise
        if committed is not None:
            self.hooks.on_commit()
            if self.subscribers:
                self.subscribers.committed(new_row.uid, old, new)
        return result

    def _audit_failure(self, action: str, error: ContextError) -> None:
        """Audit a failed write; through the manager's queue (no wait for the lock) when there is one."""
        if self.hooks.audit is None:
            self.store.audit_error(self.session, action, self.name, error)
        else:
            details = {"action": action, "context": self.name, "kind": error.kind, "message": error.message}
            self.hooks.audit("error", self.session, details)
        error.audited = True

    def _with_recovery(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt``; if it meets damage at the head, recover once and run it again."""
        try:
            return attempt()
        except DataDamaged:
            if self.config.read_only:
                raise  # a read-only session persists nothing, a recovery included (decision 15)
            report = self.store.recover_context(self.name, self.session)
            self._row = self._head = None
            if report is None:
                raise
            self.hooks.on_recover(report)
            return attempt()

    def _find(self, tx: Transaction) -> ContextRow:
        row = tx.find_context(self.name)
        if row is None:
            raise ContextNotFound(f"Context {self.name!r} does not exist.", context=self.name)
        return row

    def _head_in(self, tx: Transaction, row: ContextRow) -> StoredState:
        """The head of ``row``: the cache if current, brought forward by deltas, else rebuilt."""
        cached, cached_row = self._head, self._row
        if cached is not None and cached_row is not None and cached_row.uid == row.uid:
            if cached.version == row.head:
                self._row = row
                return cached
            if 0 < row.head - cached.version <= CATCH_UP_LIMIT:
                deltas = tx.deltas_after(row, cached.version)
                if deltas and deltas[0][0] == cached.version + 1 and deltas[-1][0] == row.head:
                    state = StoredState(
                        cached.version, cached.last_modified, dict(cached.values), cached.metadata
                    )
                    apply_deltas(state, [delta for _version, _ts, delta in deltas])
                    if cached.size >= 0:  # measured from the keys the deltas touched, not all of them
                        touched = {k for _v, _ts, delta in deltas for k in (*delta.values, *delta.removed)}
                        state.size = size_after(cached.values, cached.size, state.values, touched)
                    state.version, state.last_modified = deltas[-1][0], deltas[-1][1]
                    self._row, self._head = row, state
                    return state
        if cached_row is None or cached_row.uid != row.uid:
            tx.check_head_chain(row)  # first sight of this context: check its head
        state = tx.load_state(row, row.head)
        self._row, self._head = row, state
        return state

    def _older_state(
        self, tx: Transaction, row: ContextRow, head: StoredState, version: int
    ) -> tuple[StoredState, set[str] | None]:
        """Version ``version`` of the context, and the keys that can differ from the head (None:
        any). A version this tracker stepped over lately is the head with those steps undone (the
        work of the change, not of the state); an older one is rebuilt from its checkpoint."""
        if version == head.version:
            return head, set()
        undone = self._undo.back_to(row.uid, head, version)
        if undone is not None:
            return undone
        return tx.load_state(row, version), tx.changed_keys_between(row, version, head.version)

    def _check_kept(self, tx: Transaction, row: ContextRow, version: int) -> None:
        oldest = tx.oldest_version(row)
        if not oldest <= version <= row.head:
            raise SnapshotNotFound(
                f"Version {version} of context {self.name!r} is not in the kept history "
                f"({oldest} to {row.head}).",
                oldestVersion=oldest,
                headVersion=row.head,
            )

    def _base_for(self, tx: Transaction, row: ContextRow, version: int) -> StoredState:
        head = self._head_in(tx, row)
        if version == head.version:
            return head
        if version > head.version or version < tx.oldest_version(row):
            return head  # the update itself reports the conflict with the right details
        return tx.load_state(row, version)

    def _load_snapshot(
        self, tx: Transaction, row: ContextRow, snapshot_id: str
    ) -> tuple[SnapshotInfo, StoredState, dict[str, Any] | None]:
        found = tx.load_snapshot(row, snapshot_id) if isinstance(snapshot_id, str) else None
        if found is None:
            raise SnapshotNotFound(
                f"Snapshot {snapshot_id!r} does not exist in context {self.name!r}.",
                snapshotId=snapshot_id,
            )
        return found

    def _resolve_stale_base(
        self,
        tx: Transaction,
        row: ContextRow,
        head: StoredState,
        change: Change,
        base: int,
        on_conflict: OnConflict,
    ) -> bool:
        """Decide an update whose ``baseVersion`` is not the head; True means merged."""
        if base > head.version:
            raise VersionConflict(
                f"baseVersion {base} is newer than the head {head.version} of context {self.name!r}.",
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
            f"Context {self.name!r} changed since version {base}"
            + (f"; conflicting keys: {', '.join(map(repr, conflicting[:5]))}." if conflicting else "."),
            currentVersion=head.version,
            conflictingKeys=conflicting,
        )

    def _check_size(self, size: int) -> None:
        limit = self.config.snapshot_max_bytes
        if size > limit:
            raise TooLarge(
                f"The state of context {self.name!r} would be {size} bytes, over the limit of {limit}.",
                limit=limit,
                size=size,
            )

    def _validate(self, new: StoredState) -> None:
        if not self._validators:
            return
        proposed = to_context_state(new)
        for validator in self._validators:
            try:
                validator(proposed.copy_state())
            except ContextError:
                raise
            except Exception as error:
                raise InvalidParams(
                    f"A validator rejected the new state of context {self.name!r}: {error}",
                    context=self.name,
                ) from None

    def _tell_error(self, error: ContextError) -> None:
        """Our subscribers at once, the other trackers' of this manager through it."""
        self.subscribers.error(error)
        self.hooks.on_error(self, error)


def _only(values: dict[str, bytes], keys: set[str]) -> dict[str, bytes]:
    return {key: values[key] for key in keys if key in values}


def to_context_state(state: StoredState) -> ContextState:
    return ContextState(
        version=state.version,
        data=decode_values(state.values),
        last_modified=state.last_modified,
        metadata=copy.deepcopy(state.metadata),
    )


def to_snapshot(info: SnapshotInfo, state: StoredState, editor: dict[str, Any] | None) -> ContextSnapshot:
    return ContextSnapshot(
        id=info.id,
        context=info.context,
        timestamp=info.timestamp,
        state=to_context_state(state),
        label=info.label,
        metadata=info.metadata,
        size_bytes=info.size,
        kind=info.kind,
        editor=editor,
    )


@dataclass
class ContextTrackerFactory:
    """Makes trackers preconfigured with limits, validators and a store."""

    store: Store
    config: TrackerConfig = TrackerConfig()
    hooks: Hooks = Hooks()

    def create(self, name: str, session: str = "library") -> ContextTracker:
        return ContextTracker(self.store, name, session=session, config=self.config, hooks=self.hooks)
