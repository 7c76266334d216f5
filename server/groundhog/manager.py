"""ContextManager: the named contexts of one workspace store. Creates, deletes, lists, loads and
saves contexts, makes recovery points, checks the store on open, and tells listeners about commits
and recoveries. One manager per workspace per process; sessions (adapters) share it. Also the
engine's read model of the workspace for the faces (sessions, editor states, the audit log, the
members). Opening one from settings is ``groundhog.opening``."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from groundhog.auditing import AuditQueue
from groundhog.errors import (
    AccessDenied,
    AlreadyExists,
    ContextError,
    ContextNotFound,
    InvalidParams,
    InvalidState,
)
from groundhog.labels import check_metadata
from groundhog.leases import LeaseKeeper
from groundhog.limits import DEFAULT_SESSION_LEASE_S, DEFAULT_STORE_BUDGET_BYTES
from groundhog.model import ContextSnapshot, ContextState
from groundhog.names import DEFAULT_CONTEXT, validate_name
from groundhog.presence import Presence
from groundhog.reports import RecoveryReport, SalvageReport, VerifyReport
from groundhog.states import to_context_state
from groundhog.store.codec import values_from_object
from groundhog.store.interface import Store, Transaction
from groundhog.store.membership import MemberInfo
from groundhog.store.records import StoredState
from groundhog.store.salvage import SALVAGES
from groundhog.subscriptions import FeedFollower
from groundhog.tracker import ContextTracker, ContextTrackerFactory
from groundhog.tracking import Hooks, TrackerConfig

log = logging.getLogger(__name__)

BUDGET = ".budget"


@dataclass(frozen=True)
class ContextInfo:
    name: str
    version: int
    last_modified: str
    sessions: int = 0


@dataclass(frozen=True)
class StorageInfo:
    used_bytes: int  # the database's live bytes
    budget_bytes: int
    over_budget: bool  # it could not be brought under the budget (history and recovery points gone)
    audit_bytes: int = 0  # the audit log's share of used_bytes
    audit_records: int = 0


@dataclass(frozen=True)
class Source:
    """Where a new context's first state comes from (``context/create`` ``from``)."""

    context: str
    version: int | None = None
    snapshot_id: str | None = None


class ContextManager(Presence):
    def __init__(
        self, store: Store, config: TrackerConfig | None = None, *, lease_s: float = DEFAULT_SESSION_LEASE_S
    ) -> None:
        self.store = store
        self.leases = LeaseKeeper(store, lease_s)  # the leases of the sessions it registers
        self.config = config or TrackerConfig()
        self.origin = uuid.uuid4().hex[:12]  # marks this manager's audit records (subscriptions.py)
        self._audits = AuditQueue(store)
        self.factory = ContextTrackerFactory(
            store,
            self.config,
            Hooks(
                on_commit=self._committed,
                on_recover=self._recovered,
                on_subscribe=self._follow,
                on_error=self._failed,
                audit=self.audit,
            ),
        )
        self._commit_listeners: list[Callable[[], None]] = []
        self._recover_listeners: list[Callable[[RecoveryReport], None]] = []
        self._salvage_listeners: list[Callable[[SalvageReport], None]] = []
        self._lock = threading.Lock()
        self.recoveries: list[RecoveryReport] = []
        self.salvages: list[SalvageReport] = []  # store files this process set aside and salvaged
        self._follower: FeedFollower | None = None  # started by the first subscriber
        for report in store.salvaged():  # while the store opened
            self._salvaged(report)
        store.on_salvage(self._salvaged)  # while it serves

    @property
    def workspace_id(self) -> str:
        return self.store.workspace_id

    @property
    def where(self) -> str:
        """For people: the store's file, or a database URL without its password."""
        return self.store.where

    def keep_checkpoints_off_requests(self) -> None:
        """For long-lived processes: the store's maintenance (WAL checkpoints) in the background."""
        self.store.checkpoint_in_background()

    @property
    def read_only(self) -> bool:
        return self.config.read_only

    # -- contexts -------------------------------------------------------------------------------

    def tracker(self, name: str, session: str = "library") -> ContextTracker:
        return self.factory.create(validate_name(name), session)

    def exists(self, name: str) -> bool:
        validate_name(name)
        return self.store.reading(lambda tx: tx.find_context(name) is not None)

    def create_context(
        self,
        name: str,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        source: Source | None = None,
        session: str = "library",
        trusted_json: bool = False,
    ) -> ContextInfo:
        """Create ``name`` at version 1, empty, from ``data``, or as a copy of ``source``."""
        validate_name(name)
        self._check_writable("create", session, name)
        if not isinstance(metadata, dict | None):
            raise InvalidParams("The field 'metadata' must be an object.", field="metadata")
        check_metadata(metadata)
        state = self._initial_state(data, metadata, source, session, trusted_json)
        tracker = self.factory.create(name, session)
        tracker.check_size(state.measured_size())
        with self.store.write() as tx:
            if tx.find_context(name) is not None:
                raise AlreadyExists(f"Context {name!r} already exists.", context=name)
            _row, info = tx.insert_context(name, state, "create", session)
            tx.audit("create", session, {"context": name, "version": 1})
        self._committed()
        return ContextInfo(name, info.version, info.timestamp)

    def _initial_state(
        self,
        data: dict[str, Any] | None,
        metadata: dict[str, Any] | None,
        source: Source | None,
        session: str,
        trusted_json: bool,
    ) -> StoredState:
        if source is None:
            if data is not None and not isinstance(data, dict):
                raise InvalidParams("The field 'data' must be an object.", field="data")
            values = values_from_object(data or {}, strict=not trusted_json)
            if metadata is not None and not trusted_json:
                values_from_object({"metadata": metadata}, strict=True)
            return StoredState(0, "", values, dict(metadata or {}))
        if source.version is not None and source.snapshot_id is not None:
            raise InvalidParams("Give 'version' or 'snapshotId' in 'from', not both.", field="from")
        origin = self.tracker(source.context, session)
        if source.snapshot_id is not None:
            base = origin.get_snapshot(source.snapshot_id).state
            values = values_from_object(base.data, strict=False)
            state = StoredState(0, "", values, base.metadata)
        else:
            found = origin.read(source.version)
            state = StoredState(0, "", dict(found.values), dict(found.metadata), found.size)
        if metadata:
            state.metadata = {**state.metadata, **metadata}
        return state

    def delete_context(self, name: str, session: str = "library") -> None:
        validate_name(name)
        if name == DEFAULT_CONTEXT:
            raise InvalidState("The context 'default' cannot be deleted.", context=name)
        self._check_writable("delete", session, name)
        with self.store.write() as tx:
            row = tx.find_context(name)
            if row is None:
                raise ContextNotFound(f"Context {name!r} does not exist.", context=name)
            tx.delete_context(row, session)
            tx.audit("delete", session, {"context": name, "version": row.head})

    def list_contexts(self) -> list[ContextInfo]:
        def body(tx: Transaction) -> list[ContextInfo]:
            counts = tx.sessions_by_context()
            return [
                ContextInfo(r.name, r.head, r.modified, counts.get(tx.name_mac(r.name), 0))
                for r in tx.list_contexts()
            ]

        return self.store.reading(body)

    def load_state(self, name: str, version: int | None = None) -> ContextState:
        return to_context_state(self.tracker(name).read(version))

    def save_state(self, name: str, state: ContextState) -> ContextState:
        return self.tracker(name).update_state(state)

    def create_recovery_point(self, name: str) -> ContextSnapshot:
        return self.tracker(name).create_recovery_point()

    # -- opening, checking, verifying -----------------------------------------------------------

    def check_on_open(self, session: str = "library") -> list[RecoveryReport]:
        """Check every context's head and snapshots and the rows they rely on; recover and set
        aside what is damaged (not in a read-only session: store/repair.py)."""
        reports = self.store.check_store(session, repair=not self.read_only)
        for report in reports:
            self._recovered(report)
        return reports

    def verify(self, *, discard_damaged: bool = False) -> VerifyReport:
        return self.store.verify(discard_damaged=discard_damaged)

    def salvage_history(self) -> list[SalvageReport]:
        """Every salvage of this store's file not yet discarded (``verify --discard-damaged``),
        by any process, oldest first."""
        records = self.store.reading(lambda tx: tx.get_setting(SALVAGES))
        if not isinstance(records, list):
            return []
        return [SalvageReport.from_json(record) for record in records if isinstance(record, dict)]

    def workspace_setting(self, key: str) -> Any:
        """A setting of the workspace itself (kept in its store, so every machine sharing the store
        sees it): e.g. whether agent sessions are captured (groundhog.agents)."""
        with self.store.read() as tx:
            return tx.get_setting(f"workspace.{key}")

    def set_workspace_setting(self, key: str, value: Any, session: str = "cli") -> None:
        with self.store.write() as tx:
            tx.put_setting(f"workspace.{key}", value)
            tx.audit("setting", session, {"setting": key, "value": value})

    def has_state(self) -> bool:
        return self.store.reading(lambda tx: bool(tx.list_contexts()))

    def record_budget(self, budget: int) -> None:
        """Remember the budget this (writable) process enforces, for ``storage`` readers. A process
        on the default budget (a hook, an agent not told otherwise) does not replace one an editor
        chose: the chosen one is what the user asked for."""
        with self.store.write() as tx:
            recorded = tx.get_setting(BUDGET)
            if recorded != budget and (budget != DEFAULT_STORE_BUDGET_BYTES or recorded is None):
                tx.put_setting(BUDGET, budget)

    def storage(self) -> StorageInfo:
        """How much the store holds against its budget (status, doctor)."""
        with self.store.read() as tx:
            budget = tx.get_setting(BUDGET)
            over = tx.over_budget()
            used = tx.live_bytes()
            audit_bytes, audit_records = tx.audit_usage()
        limit = budget if isinstance(budget, int) else DEFAULT_STORE_BUDGET_BYTES
        return StorageInfo(used, limit, over is not None, audit_bytes, audit_records)

    def audit_records(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit records, decrypted, newest first (this manager's queued ones included,
        unless another process holds the store locked longer than the lock timeout)."""
        self._audits.flush(self.store_lock_timeout())
        return self.store.reading(lambda tx: tx.audit_records(limit))

    def audit(self, event: str, session: str, details: dict[str, Any]) -> None:
        """Append to the audit log, without waiting: the record is written behind the caller
        (auditing.py), so a refusal answers at once even while another process holds the lock.
        Read-only sessions audit too: the log is the security record (issue 3: a read-only
        session's refused writes are audited), not context state."""
        self._audits.put(event, session, {**details, "origin": self.origin} if event == "error" else details)

    def store_lock_timeout(self) -> float:
        return float(getattr(getattr(self.store, "settings", None), "busy_timeout_s", 5.0))

    # -- members, each with a key of their own (store/membership.py) ---------------------------

    def members(self) -> list[MemberInfo]:
        """The workspace's members (none: it opens with one shared key)."""
        return self.store.members()

    def add_member(self, name: str, public_key: str, session: str = "library") -> list[MemberInfo]:
        """A member adds one; a single-key workspace gets members first (this machine the first)."""
        self._check_writable("the add", session, name, "member")
        return self.store.add_member(name, public_key, session)

    def remove_member(self, name: str, session: str = "library") -> list[MemberInfo]:
        """Remove a member: a new data key for those who stay, nothing re-encrypted."""
        self._check_writable("the removal", session, name, "member")
        return self.store.remove_member(name, session)

    def start_members(self, name: str, session: str = "library") -> list[MemberInfo]:
        """A single-key workspace gets members, this machine the first."""
        self._check_writable("the start", session, name, "member")
        return self.store.start_members(name, session)

    # -- listeners ------------------------------------------------------------------------------

    def on_commit(self, listener: Callable[[], None]) -> None:
        self._commit_listeners.append(listener)

    def on_pushed(self, listener: Callable[[], None]) -> None:
        """``listener`` is called when a shared store pushes another server's commit (PostgreSQL's
        NOTIFY; never on SQLite, whose readers poll): on the store's listener thread."""
        self.store.on_change(listener)

    def on_recover(self, listener: Callable[[RecoveryReport], None]) -> None:
        self._recover_listeners.append(listener)

    def on_salvage(self, listener: Callable[[SalvageReport], None]) -> None:
        """``listener`` hears of each store file set aside and salvaged while this manager serves
        (one found when the store opened is in ``salvages``); its contexts' recoveries also go to
        the ``on_recover`` listeners."""
        self._salvage_listeners.append(listener)

    def _salvaged(self, report: SalvageReport) -> None:
        with self._lock:
            self.salvages.append(report)
        for recovery in report.recoveries:
            self._recovered(recovery)
        for listener in list(self._salvage_listeners):
            try:
                listener(report)
            except Exception:
                log.warning("a salvage listener failed; ignored", exc_info=True)

    def _committed(self) -> None:
        if self._follower is not None:
            self._follower.poke()
        for listener in list(self._commit_listeners):
            try:
                listener()
            except Exception:
                log.warning("a commit listener failed; ignored", exc_info=True)

    def _recovered(self, report: RecoveryReport) -> None:
        with self._lock:
            self.recoveries.append(report)
        for listener in list(self._recover_listeners):
            try:
                listener(report)
            except Exception:
                log.warning("a recovery listener failed; ignored", exc_info=True)

    def _check_writable(self, action: str, session: str, name: str, what: str = "context") -> None:
        if self.read_only:
            error = AccessDenied(f"This session is read-only; {action} of {what} {name!r} is refused.")
            details = {"action": action, "context": name, "kind": error.kind, "message": error.message}
            self.audit("error", session, details)
            error.audited = True
            raise error

    def _follow(self, tracker: ContextTracker) -> None:
        with self._lock:
            if self._follower is None:
                self._follower = FeedFollower(self.store, self.origin)
        self._follower.follow(tracker)

    def _failed(self, tracker: ContextTracker, error: ContextError) -> None:
        if self._follower is not None:
            self._follower.tell_error(tracker.name, error, tracker)

    def close(self) -> None:
        self.leases.stop()
        if self._follower is not None:
            self._follower.stop()
        self._audits.close(self.store_lock_timeout())
        self.store.close()
