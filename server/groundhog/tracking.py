"""The core of a tracker: one context as seen by one session, in the store's encoded form. Reads
(head, kept versions, history, diff, snapshots), versioned writes with compare-and-swap inside the
store's write transaction (update, rollback, snapshot, snapshot deletion, editor record), and the one
path every operation takes: the lock, the head cache (heads.py), recovery from damage, the audit of
a failure, and the subscribers told. The faces use this API; ContextTracker (tracker.py) adds the
seeds' API over the library's models.

Every method is synchronous and safe from any thread: a write blocks until its commit is durable.
(A little over ~400 lines on purpose: every operation goes through the same read/write/recovery path
at the bottom of the class; rollback, snapshot deletion and conflicts live in their own modules.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from groundhog import deletions, rollbacks
from groundhog.changes import Change, apply_change
from groundhog.conflicts import OnConflict, resolve_stale_base
from groundhog.errors import (
    AccessDenied,
    ContextError,
    ContextNotFound,
    DataDamaged,
    InvalidParams,
    SnapshotNotFound,
    StoreSalvaged,
    TooLarge,
    VersionConflict,
)
from groundhog.heads import HeadCache
from groundhog.labels import check_label, check_metadata
from groundhog.limits import DEFAULT_SNAPSHOT_MAX_BYTES
from groundhog.model import ContextState, HistoryEntry
from groundhog.patch import key_diff
from groundhog.reports import RecoveryReport
from groundhog.rollbacks import RollbackResult
from groundhog.states import to_context_state
from groundhog.store.codec import decode_value, values_from_object
from groundhog.store.interface import Store, Transaction
from groundhog.store.records import ContextRow, SnapshotInfo, StoredState
from groundhog.subscriptions import Subscribers

T = TypeVar("T")
Validator = Callable[[ContextState], None]


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
class Hooks:
    """How a tracker tells its manager about commits, recoveries and failures (to wake the change
    feed, tell the other trackers' subscribers) and audits a failure (auditing.py: without waiting
    for the write lock). Without a manager, a failure is audited in the failing call."""

    on_commit: Callable[[], None] = lambda: None
    on_recover: Callable[[RecoveryReport], None] = lambda report: None
    on_subscribe: Callable[[Any], None] = lambda tracker: None  # follow the feed for it
    on_error: Callable[[Any, ContextError], None] = lambda tracker, error: None
    audit: Callable[[str, str, dict[str, Any]], None] | None = None  # (event, session, details)


class TrackerCore:
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
        self._cache = HeadCache()

    # -- reads ----------------------------------------------------------------------------------

    def read(self, version: int | None = None) -> StoredState:
        """The head, or any version still in the kept history, in encoded form (never modify it)."""

        def body(tx: Transaction, row: ContextRow) -> StoredState:
            head = self._head_in(tx, row)
            if version is None or version == head.version:
                return head
            self.check_kept(tx, row, version)
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
                self.check_kept(tx, row, version)
            old = head if from_version == head.version else tx.load_state(row, from_version)
            new = head if target == head.version else tx.load_state(row, target)
            return from_version, target, key_diff(old.values, new.values, decode_value)

        return self._reading(body)

    def snapshots(self) -> list[SnapshotInfo]:
        return self._reading(lambda tx, row: tx.list_snapshots(row))

    def load_editor(self) -> dict[str, Any] | None:
        return self._reading(lambda tx, row: tx.load_editor(row))

    # -- writes ---------------------------------------------------------------------------------

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
                merged = resolve_stale_base(tx, row, head, change, base_version, on_conflict)
            try:
                effect = apply_change(head, change)
            except VersionConflict as conflict:  # a failing patch `test` op
                conflict.details.setdefault("currentVersion", head.version)
                raise
            if not effect.changes_anything:
                return CommitResult(self.name, head.version, merged, [], None), None
            self.check_size(effect.size)
            new = StoredState(0, "", effect.values, effect.metadata, effect.size)
            self.validate(new)
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
        point of the current head. ``dry_run`` changes nothing and answers what would change
        (rollbacks.py)."""
        return rollbacks.rollback(self, to_version=to_version, snapshot_id=snapshot_id, dry_run=dry_run)

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
            self.check_size(head.measured_size())
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
        return deletions.delete_snapshot(self, snapshot_id)

    def save_editor(self, editor: dict[str, Any]) -> None:
        """Persist the editor record of this context (not a version: keystrokes never make one)."""

        def body(tx: Transaction, row: ContextRow, head: StoredState) -> tuple[None, Any]:
            tx.save_editor(row, editor)
            return None, None

        self._writing("editor", body, audit_errors=False)

    def _heard_head(self) -> tuple[str | None, StoredState]:
        """The head as a new subscriber starts from (the context's uid and state)."""
        from groundhog.subscriptions import ABSENT

        try:
            head = self.read()
        except ContextNotFound:
            return None, ABSENT
        row = self._cache.row
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
        self,
        action: str,
        body: Callable[[Transaction, ContextRow, StoredState], tuple[T, Any]],
        *,
        read_only_ok: bool = False,
    ) -> T:
        """Run ``body`` as one of this tracker's writes (for the engine's other modules): refused in
        a read-only session (unless it writes nothing), recovered on damage, audited on failure,
        subscribers told. ``body`` answers (result, (new row, old head, new head, changed keys) or
        None when nothing was committed)."""
        return self._writing(action, body, read_only_ok=read_only_ok)

    def older_state(
        self, tx: Transaction, row: ContextRow, head: StoredState, version: int
    ) -> tuple[StoredState, set[str] | None]:
        return self._cache.older_state(tx, row, head, version)

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
                    self._cache.committed(new_row, old, new, keys)
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
        """Run ``attempt``; if it meets damage at the head, recover once and run it again (and once
        more if the store file itself was found damaged and salvaged in between)."""
        recovered = salvaged = False
        while True:
            try:
                return attempt()
            except StoreSalvaged:  # set aside and salvaged meanwhile: nothing of it was done
                if salvaged:
                    raise
                salvaged = True
                self._cache.forget()
            except DataDamaged:
                if recovered or self.config.read_only:
                    raise  # a read-only session persists nothing, a recovery included (decision 15)
                recovered = True
                report = self.store.recover_context(self.name, self.session)
                self._cache.forget()
                if report is None:
                    raise
                self.hooks.on_recover(report)

    def _find(self, tx: Transaction) -> ContextRow:
        row = tx.find_context(self.name)
        if row is None:
            raise ContextNotFound(f"Context {self.name!r} does not exist.", context=self.name)
        return row

    def _head_in(self, tx: Transaction, row: ContextRow) -> StoredState:
        return self._cache.head_in(tx, row)

    def check_kept(self, tx: Transaction, row: ContextRow, version: int) -> None:
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

    def load_snapshot(
        self, tx: Transaction, row: ContextRow, snapshot_id: str
    ) -> tuple[SnapshotInfo, StoredState, dict[str, Any] | None]:
        found = tx.load_snapshot(row, snapshot_id) if isinstance(snapshot_id, str) else None
        if found is None:
            raise SnapshotNotFound(
                f"Snapshot {snapshot_id!r} does not exist in context {self.name!r}.",
                snapshotId=snapshot_id,
            )
        return found

    def check_size(self, size: int) -> None:
        """TooLarge when a state of ``size`` bytes would be over the limit."""
        limit = self.config.snapshot_max_bytes
        if size > limit:
            raise TooLarge(
                f"The state of context {self.name!r} would be {size} bytes, over the limit of {limit}.",
                limit=limit,
                size=size,
            )

    def validate(self, new: StoredState) -> None:
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
