"""The requests of PROTOCOL.md, shared by every face (LSP requests and commands, MCP tools): each
parses nothing and decides nothing on its own; it takes validated params, calls the library and
shapes the result. They run on the session's worker thread. Notifications a request causes are
queued on the session and sent by the face."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from groundhog import methods as names
from groundhog import params as p
from groundhog.adapter import ContextStatus
from groundhog.briefing import snapshot_wire
from groundhog.changes import Change
from groundhog.editor import EMPTY_EDITOR
from groundhog.errors import ContextError, ContextNotFound, InvalidState
from groundhog.manager import Source
from groundhog.session import Session
from groundhog.store.records import StoredState
from groundhog.store.schema import SCHEMA_VERSION

Handler = Callable[[Session, Any], dict[str, Any]]
MAX_VERSION = 2**63 - 1


def status(session: Session, _: p.Empty) -> dict[str, Any]:
    active = session.adapter.active_name
    version = None
    if active is not None:
        try:
            version = session.tracker(active).version
        except ContextNotFound:  # deleted by another session: this one has nothing active now
            session.adapter.deactivate()
            active = None
        except ContextError:  # damaged beyond repair: still active, its own requests say why
            version = None
    return {
        "workspace": {"uri": session.workspace.uri, "id": session.workspace.id},
        "session": {"id": session.id, "readOnly": session.read_only},
        "active": None if active is None else {"name": active, "version": version},
        "store": {
            "path": session.workspace.store,
            "encrypted": True,
            "schemaVersion": SCHEMA_VERSION,
            **_storage(session),
        },
        "contexts": len(session.manager.list_contexts()),
    }


def _storage(session: Session) -> dict[str, Any]:
    storage = session.manager.storage()
    return {
        "sizeBytes": storage.used_bytes,
        "budgetBytes": storage.budget_bytes,
        "overBudget": storage.over_budget,
        "auditBytes": storage.audit_bytes,  # counted in sizeBytes: the audit log is in the budget
    }


def list_contexts(session: Session, _: p.Empty) -> dict[str, Any]:
    active = session.adapter.active_name
    return {
        "contexts": [
            {
                "name": info.name,
                "version": info.version,
                "lastModified": info.last_modified,
                "status": "active" if info.name == active else "inactive",
                "sessions": info.sessions,
            }
            for info in session.manager.list_contexts()
        ]
    }


def info(session: Session, params: p.Named) -> dict[str, Any]:
    state = session.adapter.status(params.name)
    if state is ContextStatus.NONEXISTENT:
        return {"name": params.name, "status": state.value}
    tracker = session.tracker(params.name)
    head = tracker.read()
    return {
        "name": params.name,
        "status": state.value,
        "version": head.version,
        "lastModified": head.last_modified,
        "snapshots": len(tracker.snapshots()),
    }


def create(session: Session, params: p.CreateParams) -> dict[str, Any]:
    source = None
    if params.from_ is not None:
        origin = params.from_.context or _active_name(session)
        source = Source(origin, params.from_.version, params.from_.snapshot_id)
    created = session.manager.create_context(
        params.name, metadata=params.metadata, source=source, session=session.id, trusted_json=True
    )
    if params.activate:
        _switch_to(session, params.name, create=False)
    return {"name": created.name, "version": created.version, "lastModified": created.last_modified}


def delete(session: Session, params: p.Named) -> dict[str, Any]:
    if params.name == session.adapter.active_name:
        raise InvalidState(
            f"Context {params.name!r} is active in this session; switch away before deleting it.",
            context=params.name,
        )
    session.manager.delete_context(params.name, session.id)
    return {"deleted": True}


def switch(session: Session, params: p.SwitchParams) -> dict[str, Any]:
    head = _switch_to(session, params.name, create=params.create)
    return {"name": params.name, "version": head.version, "data": _data(head, None)}


def deactivate(session: Session, _: p.Empty) -> dict[str, Any]:
    session.flush_editor_now()
    return {"deactivated": session.adapter.deactivate()}


def get(session: Session, params: p.GetParams) -> dict[str, Any]:
    tracker = session.tracker(params.context)
    state = tracker.read(params.version)
    return {
        "context": tracker.name,
        "version": state.version,
        "lastModified": state.last_modified,
        "data": _data(state, params.keys),
        "metadata": state.metadata,
        "editor": tracker.load_editor() or EMPTY_EDITOR,
    }


def update(session: Session, params: p.UpdateParams) -> dict[str, Any]:
    tracker = session.tracker(params.context)
    change = Change(
        set=params.set,
        remove=params.remove,
        patch=params.patch,
        metadata=params.metadata,
        trusted_json=True,
    )
    result = tracker.update(change, base_version=params.base_version, on_conflict=params.on_conflict)
    return {"context": result.context, "version": result.version, "merged": result.merged}


def snapshot(session: Session, params: p.SnapshotParams) -> dict[str, Any]:
    tracker = session.tracker(params.context)
    editor = session.editor_for_snapshot() if tracker.name == session.adapter.active_name else None
    if editor is not None:
        session.editor.changed = False  # the snapshot persists it as the context's editor state
    made = tracker.take_snapshot(params.label, params.metadata, editor=editor)
    return {
        "id": made.id,
        "context": made.context,
        "version": made.version,
        "timestamp": made.timestamp,
        "label": made.label,
        "sizeBytes": made.size,
    }


def snapshots(session: Session, params: p.ContextScoped) -> dict[str, Any]:
    return {"snapshots": [snapshot_wire(s) for s in session.tracker(params.context).snapshots()]}


def rollback(session: Session, params: p.RollbackParams) -> dict[str, Any]:
    tracker = session.tracker(params.context)
    result = tracker.rollback(
        to_version=params.to_version, snapshot_id=params.snapshot_id, dry_run=params.dry_run
    )
    return {
        "context": result.context,
        "version": result.version,
        "restoredFrom": result.restored_from,
        "changedKeys": result.changed_keys,
        "recoveryPoint": result.recovery_point,
    }


def delete_snapshot(session: Session, params: p.DeleteSnapshotParams) -> dict[str, Any]:
    deleted = session.tracker(params.context).delete_snapshot(params.snapshot_id)
    return {"deleted": True, "id": deleted.id}


def history(session: Session, params: p.HistoryParams) -> dict[str, Any]:
    before = params.before_version
    if before is not None:
        before = min(before, MAX_VERSION)  # every version is below it; SQLite integers stop there
    entries, oldest = session.tracker(params.context).history(params.limit, before)
    return {
        "entries": [entry.to_wire() for entry in entries],
        "oldestVersion": oldest,
    }


def diff(session: Session, params: p.DiffParams) -> dict[str, Any]:
    low, high, ops = session.tracker(params.context).diff(params.from_version, params.to_version)
    return {"fromVersion": low, "toVersion": high, "patch": ops}


def editor(session: Session, _: p.Empty) -> dict[str, Any]:
    return session.live_editor()


# -- helpers ------------------------------------------------------------------------------------


def _active_name(session: Session) -> str:
    name = session.adapter.active_name
    if name is None:
        raise InvalidState("No context is active in this session; name one or switch first.")
    return name


def _switch_to(session: Session, name: str, *, create: bool) -> StoredState:
    """Persist the editor state into the context being left, switch, then into the new one."""
    session.flush_editor_now()
    tracker = session.adapter.switch_context_sync(name, create=create)
    session.editor.changed = session.editor.touched
    session.flush_editor_now()
    head = tracker.read()
    session.notify(names.DID_SWITCH, {"context": name, "version": head.version})
    return head


def _data(state: StoredState, keys: list[str] | None) -> dict[str, Any]:
    """The state's data as pre-serialized JSON fragments: no decode, no re-encode."""
    wanted = state.values if keys is None else {k: state.values[k] for k in keys if k in state.values}
    return {key: orjson.Fragment(raw) for key, raw in wanted.items()}


REQUESTS: dict[str, tuple[type[p.Params], Handler]] = {
    names.STATUS: (p.Empty, status),
    names.LIST: (p.Empty, list_contexts),
    names.INFO: (p.Named, info),
    names.CREATE: (p.CreateParams, create),
    names.DELETE: (p.Named, delete),
    names.SWITCH: (p.SwitchParams, switch),
    names.DEACTIVATE: (p.Empty, deactivate),
    names.GET: (p.GetParams, get),
    names.UPDATE: (p.UpdateParams, update),
    names.SNAPSHOT: (p.SnapshotParams, snapshot),
    names.SNAPSHOTS: (p.ContextScoped, snapshots),
    names.ROLLBACK: (p.RollbackParams, rollback),
    names.HISTORY: (p.HistoryParams, history),
    names.DIFF: (p.DiffParams, diff),
    names.EDITOR: (p.Empty, editor),
    names.DELETE_SNAPSHOT: (p.DeleteSnapshotParams, delete_snapshot),
}
assert set(REQUESTS) == set(names.REQUESTS)
