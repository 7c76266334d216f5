"""The brief of a workspace, built from the engine alone (no session, no face, no pydantic import):
where things stand (active context, version, last change, keys and sizes, newest snapshots, changes
since a version and by whom) and the editors' state, as JSON for the MCP ``resume`` tool and as text
for a model (the ``resume`` prompt, the agents' SessionStart hooks). ``brief.py`` serves it to
sessions; the hooks (``groundhog.agents``) open a manager and call it directly, so that a hook's
start-up pays for nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from groundhog.editor import EMPTY_EDITOR
from groundhog.errors import SnapshotNotFound
from groundhog.timeutil import parse_time

if TYPE_CHECKING:
    from groundhog.manager import ContextManager
    from groundhog.store.records import SnapshotInfo
    from groundhog.tracker import ContextTracker

SNAPSHOTS_IN_BRIEF = 5
ENTRIES_IN_BRIEF = 20
DIFF_IN_BRIEF_BYTES = 16 * 1024


def snapshot_wire(info: SnapshotInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "context": info.context,
        "version": info.version,
        "timestamp": info.timestamp,
        "label": info.label,
        "sizeBytes": info.size,
    }


def editor_state(manager: ContextManager) -> dict[str, Any]:
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
        for live in manager.live_sessions()
        if live.kind == "lsp"
    ]
    saved = manager.last_saved_editor()
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


def build_brief(
    manager: ContextManager,
    tracker: ContextTracker | None,
    *,
    workspace_uri: str,
    session: dict[str, Any],
    since_version: int | None,
) -> dict[str, Any]:
    """Workspace, the active context's (``tracker``'s; None: no context is active) version and last
    change, its keys and their sizes, the newest snapshots, the changes since ``since_version``
    (history entries, and the diff when small), and the editor state."""
    brief: dict[str, Any] = {
        "workspace": {"uri": workspace_uri, "id": manager.workspace_id},
        "session": session,
        "context": None,
        "keys": [],
        "snapshots": [],
        "changes": {"sinceVersion": since_version, "entries": [], "diff": None},
        "editor": editor_state(manager),
    }
    if tracker is None:
        return brief
    head = tracker.read()
    newest, _oldest = tracker.history(ENTRIES_IN_BRIEF)
    brief["context"] = {
        "name": tracker.name,
        "version": head.version,
        "lastModified": head.last_modified,
        "lastChange": newest[0].to_wire() if newest else None,
    }
    brief["keys"] = [{"key": key, "bytes": len(raw)} for key, raw in sorted(head.values.items())]
    brief["snapshots"] = [snapshot_wire(s) for s in tracker.snapshots()[:SNAPSHOTS_IN_BRIEF]]
    brief["changes"] = _changes(tracker, head.version, since_version, newest)
    return brief


def _changes(tracker: ContextTracker, head: int, since: int | None, newest: list[Any]) -> dict[str, Any]:
    if since is None:  # no reference point: the latest few changes, no diff
        return {"sinceVersion": None, "entries": [e.to_wire() for e in newest[:5]], "diff": None}
    changes: dict[str, Any] = {
        "sinceVersion": since,
        "entries": [e.to_wire() for e in newest if e.version > since],
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


def brief_message(brief: dict[str, Any]) -> str:
    """The brief as a message an agent can start from (the MCP ``resume`` prompt)."""
    lines = [f"You are resuming work in the workspace {brief['workspace']['uri']} (Groundhog contexts)."]
    context = brief["context"]
    if context is None and brief.get("missingContext"):
        lines.append(
            f"No context is active: {brief['missingContext']!r}, the context this session was started in, "
            "does not exist (a read-only session creates nothing); use context_list and context_switch."
        )
    elif context is None:
        lines.append("No context is active; use context_list and context_switch.")
    else:
        lines.append(
            f"Active context: {context['name']!r} at version {context['version']} "
            f"(last modified {context['lastModified']})."
        )
        change = context["lastChange"]
        if change is not None:
            lines.append(
                f"Last change: version {change['version']} ({change['kind']}) by session "
                f"{change['session']} at {change['timestamp']}, keys {change['changedKeys']}."
            )
        keys = ", ".join(f"{k['key']} ({k['bytes']} B)" for k in brief["keys"]) or "none"
        lines.append(f"Keys: {keys}. Read them with context_get (pass 'keys' for large ones).")
    for snapshot in brief["snapshots"]:
        lines.append(f"Snapshot {snapshot['id']} {snapshot['label']!r} at version {snapshot['version']}.")
    changes = brief["changes"]
    if changes["entries"]:
        lines.append("Recent changes: " + orjson.dumps(changes["entries"]).decode())
    if changes.get("diff"):
        lines.append(
            "Diff since version "
            + str(changes["sinceVersion"])
            + ": "
            + orjson.dumps(changes["diff"]).decode()
        )
    for live in brief["editor"]["sessions"]:
        editor = live["editor"]
        files = [doc["uri"] for doc in editor["openDocuments"]]
        lines.append(
            f"Editor {live['client']} ({live['session']}) has {len(files)} file(s) open, active "
            f"{editor['activeUri']}; saved {live['ageMs']} ms ago."
        )
    lines.append(
        f"Call resume with sinceVersion={context['version'] if context else 0} next time to see what changed."
    )
    return "\n".join(lines)
