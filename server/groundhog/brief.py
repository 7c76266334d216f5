"""What an agent asks first: what the people on this workspace have open (``editor_state``), and one
brief of where things stand (``resume``). Face-agnostic like ``groundhog.requests``: validated
params in, a JSON-ready result out, run on the session's worker thread."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from groundhog import params as p
from groundhog.editor import EMPTY_EDITOR
from groundhog.errors import SnapshotNotFound
from groundhog.requests import Handler, snapshot_wire
from groundhog.session import Session
from groundhog.timeutil import parse_time

SNAPSHOTS_IN_BRIEF = 5
ENTRIES_IN_BRIEF = 20
DIFF_IN_BRIEF_BYTES = 16 * 1024


def editor_state(session: Session, _: p.Empty) -> dict[str, Any]:
    """The live editor sessions on the workspace (any process), each as last persisted (at most
    ``editorFlushMs`` old while it is being edited), and the editor state last persisted into a
    context. ``savedAt``/``ageMs`` say how fresh each one is."""
    moment = datetime.now(UTC)
    sessions = [
        {
            "session": live.id,
            "client": live.client,
            "clientVersion": live.client_version,
            "context": live.context,
            "editor": live.editor or EMPTY_EDITOR,
            "savedAt": live.editor_saved,
            "ageMs": _age_ms(live.editor_saved, moment),
        }
        for live in session.manager.live_sessions()
        if live.kind == "lsp"
    ]
    saved = session.manager.last_saved_editor()
    last = (
        None
        if saved is None
        else {
            "context": saved.context,
            "editor": saved.editor,
            "savedAt": saved.saved,
            "ageMs": _age_ms(saved.saved, moment),
        }
    )
    return {"sessions": sessions, "last": last}


def resume(session: Session, params: p.ResumeParams) -> dict[str, Any]:
    """Workspace, active context (version, last change), its keys and their sizes, the newest
    snapshots, the changes since ``sinceVersion`` (history entries, and the diff when small), and
    the editor state."""
    brief: dict[str, Any] = {
        "workspace": {"uri": session.workspace_uri, "id": session.manager.store.workspace_id},
        "session": {"id": session.id, "readOnly": session.read_only},
        "context": None,
        "keys": [],
        "snapshots": [],
        "changes": {"sinceVersion": params.since_version, "entries": [], "diff": None},
        "editor": editor_state(session, p.Empty()),
    }
    name = session.adapter.active_name
    if name is None:
        return brief
    tracker = session.tracker(name)
    head = tracker.read()
    newest, _oldest = tracker.history(ENTRIES_IN_BRIEF)
    brief["context"] = {
        "name": name,
        "version": head.version,
        "lastModified": head.last_modified,
        "lastChange": newest[0].to_wire() if newest else None,
    }
    brief["keys"] = [{"key": key, "bytes": len(raw)} for key, raw in sorted(head.values.items())]
    brief["snapshots"] = [snapshot_wire(s) for s in tracker.snapshots()[:SNAPSHOTS_IN_BRIEF]]
    brief["changes"] = _changes(tracker, head.version, params.since_version, newest)
    return brief


def _changes(tracker: Any, head: int, since: int | None, newest: list[Any]) -> dict[str, Any]:
    if since is None:  # no reference point: the latest few changes, no diff
        return {"sinceVersion": None, "entries": [e.to_wire() for e in newest[:5]], "diff": None}
    entries = newest
    changes: dict[str, Any] = {
        "sinceVersion": since,
        "entries": [e.to_wire() for e in entries if e.version > since],
        "versionsSince": max(0, head - since),
        "diff": None,
    }
    if since >= head:
        return changes
    try:
        _low, _high, ops = tracker.diff(since, head)
    except SnapshotNotFound:  # older than the kept history: the entries still say what happened
        changes["diffOmitted"] = "sinceVersion is older than the kept history"
        return changes
    size = len(orjson.dumps(ops))
    if size <= DIFF_IN_BRIEF_BYTES:
        changes["diff"] = ops
    else:
        changes["diffOmitted"] = f"the diff is {size} bytes; ask context_diff for it"
    return changes


def _age_ms(saved: str | None, moment: datetime) -> int | None:
    if saved is None:
        return None
    try:
        return max(0, int((moment - parse_time(saved)).total_seconds() * 1000))
    except ValueError:
        return None


AGENT_REQUESTS: dict[str, tuple[type[p.Params], Handler]] = {
    "editor_state": (p.Empty, editor_state),
    "resume": (p.ResumeParams, resume),
}
