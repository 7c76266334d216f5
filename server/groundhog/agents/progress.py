"""What a hook reads and writes in the workspace's store: the brief handed to the model at session
start (``groundhog.briefing``'s brief plus what the agent itself was doing), and the session's
progress recorded into the active context under one key, ``agentSessions`` (docs/agents.md):

    "agentSessions": {"<agent>/<session id>": {agent, session, machine, cwd, started,
        startVersion, updated, atVersion, event, turns, lastPrompt, lastResponse, filesTouched,
        transcript: {path, offset}, ended, endReason}}

the newest ``KEEP_SESSIONS`` sessions. At SessionEnd a snapshot labelled after the session is taken;
its metadata's ``startVersion`` is the version before the session's first record. The newest
``agent_snapshots_keep`` of those snapshots are kept per context (settings.py)."""

from __future__ import annotations

import socket
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson

from groundhog.agents.contracts import END, START, STOP, HookInput
from groundhog.agents.transcript import Summary
from groundhog.briefing import brief_message, build_brief
from groundhog.changes import Change
from groundhog.errors import AlreadyExists, VersionConflict
from groundhog.names import DEFAULT_CONTEXT
from groundhog.timeutil import now
from groundhog.workspace import canonical_root

if TYPE_CHECKING:
    from groundhog.manager import ContextManager
    from groundhog.tracker import ContextTracker

PROGRESS_KEY = "agentSessions"
KEEP_SESSIONS = 10
NOTE_KEYS = ("task", "goal", "plan", "notes", "decisions", "todo", "next", "status")
NOTE_CHARS = 1200
EDITOR_FILES = 20  # of an editor's open files named in the brief
WRITE_TRIES = 50  # a conflict means another writer committed: ten sessions stopping at once
AUDIT_LOOKBACK = 200  # audit records searched for the clients of the sessions that changed things


def hook_session(hook: HookInput) -> str:
    """How the hook's writes are named in history and audit: the agent and its session id."""
    return f"{hook.agent}:{hook.session_id[:36]}"


def active_tracker(manager: ContextManager, hook: HookInput, *, create: bool) -> ContextTracker | None:
    name = manager.last_active() or DEFAULT_CONTEXT
    if not manager.exists(name):
        if not create:
            return None
        with suppress(AlreadyExists):
            manager.create_context(name, session=hook_session(hook))
    return manager.tracker(name, hook_session(hook))


def _records(tracker: ContextTracker) -> dict[str, Any]:
    raw = tracker.read().values.get(PROGRESS_KEY)
    value = orjson.loads(raw) if raw is not None else {}
    return value if isinstance(value, dict) else {}


def transcript_offset(tracker: ContextTracker | None, hook: HookInput) -> int:
    """Where this session's transcript was read up to by its last record (0: from the start)."""
    entry = _records(tracker).get(f"{hook.agent}/{hook.session_id}") if tracker is not None else None
    seen = entry.get("transcript") if isinstance(entry, dict) else None
    if isinstance(seen, dict) and seen.get("path") == hook.transcript and isinstance(seen.get("offset"), int):
        return int(seen["offset"])
    return 0


# -- SessionStart: the brief ------------------------------------------------------------------


def start_brief(
    manager: ContextManager, tracker: ContextTracker | None, root: str, hook: HookInput, max_bytes: int
) -> str:
    """The text for the model ("" when there is nothing to tell): what this agent was doing, the
    notes the context keeps, where the workspace stands and what changed since this agent's last
    record (and by whom), the editors."""
    records = _records(tracker) if tracker is not None else {}
    previous = _previous(records, hook)
    since = previous.get("atVersion") if previous else None
    brief = build_brief(
        manager,
        tracker,
        workspace_uri=canonical_root(root),
        session={"id": hook_session(hook), "readOnly": False},
        since_version=since if isinstance(since, int) else None,
    )
    editor = _editor_lines(brief["editor"], root)
    if previous is None and not brief["keys"] and not brief["snapshots"] and not editor:
        return ""  # nothing saved and no editor open yet: nothing to tell the model
    lines = [f"Groundhog: the saved context of this workspace ({hook.agent} session start, {hook.source})."]
    if previous:
        lines += _previous_lines(previous, hook)
    if tracker is not None:
        lines += _note_lines(tracker)
        lines += _change_lines(brief, manager)
    lines += editor
    lines += brief_message(brief).splitlines()
    return _bounded(lines, max_bytes)


def _editor_lines(editor: dict[str, Any], root: str) -> list[str]:
    """Which files the editors have open (live sessions), else had open when last saved."""
    shown = [(f"Open in {live['client'] or 'an editor'} now", live["editor"]) for live in editor["sessions"]]
    if not shown and editor["last"] is not None:
        shown = [
            (f"Open in the editor when last saved ({editor['last']['savedAt']})", editor["last"]["editor"])
        ]
    lines = []
    for label, state in shown:
        files = [_relative(doc.get("uri"), root) for doc in state.get("openDocuments") or []]
        if files:
            active = _relative(state.get("activeUri"), root) if state.get("activeUri") else None
            lines.append(
                f"{label}: {', '.join(files[:EDITOR_FILES])}" + (f" (active: {active})." if active else ".")
            )
    return lines


def _relative(uri: Any, root: str) -> str:
    text = str(uri)
    prefix = Path(root).as_uri().rstrip("/") + "/"
    return unquote(text[len(prefix) :]) if text.startswith(prefix) else text


def _previous(records: dict[str, Any], hook: HookInput) -> dict[str, Any] | None:
    own = records.get(f"{hook.agent}/{hook.session_id}")
    if isinstance(own, dict):  # resume, clear, compact: this very session
        return own
    mine = [r for r in records.values() if isinstance(r, dict) and r.get("agent") == hook.agent]
    return max(mine, key=lambda r: str(r.get("updated")), default=None)


def _previous_lines(record: dict[str, Any], hook: HookInput) -> list[str]:
    same = record.get("session") == hook.session_id
    who = "This session" if same else f"Your last session ({record.get('agent')} {record.get('session')})"
    state = f"ended {record['ended']}" if record.get("ended") else f"last active {record.get('updated')}"
    lines = [f"{who} started {record.get('started')}, {state}, {record.get('turns', 0)} turn(s)."]
    if record.get("lastPrompt"):
        lines.append(f"Last request: {record['lastPrompt']}")
    if record.get("lastResponse"):
        lines.append(f"Last answer: {record['lastResponse']}")
    files = record.get("filesTouched")
    if isinstance(files, list) and files:  # a shared store's records are any member's: no shape assumed
        lines.append("Files it wrote: " + ", ".join(str(f) for f in files[-20:]))
    return lines


def _note_lines(tracker: ContextTracker) -> list[str]:
    values = tracker.read().values
    lines = []
    for key in sorted(values, key=str.lower):
        if key.lower() in NOTE_KEYS:
            text = values[key].decode("utf-8", "replace")
            clipped = text if len(text) <= NOTE_CHARS else text[: NOTE_CHARS - 1] + "…"
            lines.append(f"{key}: {clipped}")
    return lines


def _client_names(manager: ContextManager) -> dict[str, str]:
    """Who each recent session was (its client's name and kind), from the audit log's starts."""
    names = {}
    for record in manager.audit_records(AUDIT_LOOKBACK):
        client = record.get("details", {}).get("client")
        if record.get("event") == "session-start" and isinstance(client, dict):
            names[str(record.get("session"))] = (
                f"{client.get('name') or 'unknown'} ({client.get('kind') or 'lsp'})"
            )
    return names


def _change_lines(brief: dict[str, Any], manager: ContextManager) -> list[str]:
    changes = brief["changes"]
    since = changes.get("sinceVersion")
    if since is None:
        return []
    entries = changes["entries"]
    if not entries:
        return [f"Nothing changed in the context since your last record (version {since})."]
    by: dict[str, int] = {}
    for entry in entries:
        by[entry["session"]] = by.get(entry["session"], 0) + 1
    keys = sorted({k for entry in entries for k in entry["changedKeys"]})
    names = _client_names(manager)
    who = ", ".join(
        f"{names[session]} session {session}: {count}" if session in names else f"{session}: {count}"
        for session, count in by.items()
    )
    return [
        f"Since your last record (version {since}): {changes.get('versionsSince', len(entries))} "
        f"version(s) by {who}; keys changed: {', '.join(keys) or 'none'}."
    ]


def _bounded(lines: list[str], max_bytes: int) -> str:
    """Whole lines while they fit; the line that does not is cut, with a note saying so."""
    note = "[Groundhog: brief cut to its size limit; the resume tool has the rest.]"
    out: list[str] = []
    used = 0
    for line in lines:
        size = len(line.encode()) + 1
        if used + size > max_bytes:
            room = max_bytes - used - len(note.encode()) - 5  # newline and "…"
            if room > 40:
                out.append(line.encode()[:room].decode("utf-8", "ignore") + "…")
            out.append(note)
            break
        out.append(line)
        used += size
    return "\n".join(out)


# -- PreCompact, Stop, SessionEnd: the record -------------------------------------------------


def record(
    manager: ContextManager,
    hook: HookInput,
    summary: Summary | None,
    offset: int | None,
    tracker: ContextTracker | None = None,
) -> tuple[ContextTracker, dict[str, Any]]:
    """Write (or update) this session's record in the active context (``tracker``'s, when the
    caller has it: a tracker checks the context's chain once); returns its tracker and record."""
    tracker = tracker or active_tracker(manager, hook, create=True)
    assert tracker is not None
    for attempt in range(WRITE_TRIES):
        head = tracker.read()
        raw = head.values.get(PROGRESS_KEY)
        records = orjson.loads(raw) if raw is not None else {}
        records = records if isinstance(records, dict) else {}
        key = f"{hook.agent}/{hook.session_id}"
        entry = _updated(records.get(key), hook, summary, offset, head.version)
        records[key] = entry
        newest = sorted(records, key=lambda k: str(records[k].get("updated", "")), reverse=True)
        kept = {k: records[k] for k in newest[:KEEP_SESSIONS] if isinstance(records[k], dict)}
        try:
            tracker.update(Change(set={PROGRESS_KEY: kept}), base_version=head.version, on_conflict="fail")
            return tracker, entry
        except VersionConflict:  # another writer got in between: read again
            if attempt == WRITE_TRIES - 1:
                raise
    raise AssertionError("unreachable")


def _updated(
    old: Any, hook: HookInput, summary: Summary | None, offset: int | None, head: int
) -> dict[str, Any]:
    moment = now()
    entry: dict[str, Any] = dict(old) if isinstance(old, dict) else {}
    if not entry:
        entry.update(
            agent=hook.agent,
            session=hook.session_id,
            machine=socket.gethostname(),
            cwd=hook.cwd,
            started=moment,
            startVersion=head,
            turns=0,
            filesTouched=[],
        )
    entry.update(updated=moment, atVersion=head + 1, event=hook.event)
    turns, seen = entry.get("turns"), entry.get("filesTouched")  # any member's record: no shape assumed
    turns = turns if isinstance(turns, int) else 0
    seen = seen if isinstance(seen, list) else []
    if summary is not None:
        files = [f for f in seen if f not in summary.files] + summary.files
        entry["filesTouched"] = files[-100:]
        entry["turns"] = turns + summary.turns
        entry["lastPrompt"] = summary.prompt or entry.get("lastPrompt")
        entry["lastResponse"] = summary.response or entry.get("lastResponse")
    elif hook.kind == STOP:  # no transcript read (Gemini, Codex's notify): the hook's input says it
        entry["turns"] = turns + 1
    if hook.prompt:
        entry["lastPrompt"] = hook.prompt[:600]
    if hook.last_message:
        entry["lastResponse"] = hook.last_message[:600]
    if hook.transcript and offset is not None:
        entry["transcript"] = {"path": hook.transcript, "offset": offset}
    if hook.kind == END:
        entry.update(ended=moment, endReason=hook.reason)
    elif hook.kind == START:
        entry.pop("ended", None)
    return entry


def end_snapshot(tracker: ContextTracker, hook: HookInput, entry: dict[str, Any]) -> str:
    """The snapshot taken at SessionEnd: its label names the session, its metadata says which
    version came before the session (``context_rollback`` with ``toVersion``)."""
    info = tracker.take_snapshot(
        f"after {hook.agent} session {hook.session_id[:8]}",
        {"agent": hook.agent, "session": hook.session_id, "startVersion": entry.get("startVersion")},
    )
    return info.id


def prune_session_snapshots(tracker: ContextTracker, keep: int) -> int:
    """Keep the newest ``keep`` snapshots taken at SessionEnd; delete the older ones (each deletion
    audited). One per agent session would otherwise grow without bound; snapshots people take are
    never touched: only those whose metadata names the agent session that took them."""
    taken = [info for info in tracker.snapshots() if _taken_at_session_end(info.metadata)]
    for info in taken[keep:]:  # newest first
        tracker.delete_snapshot(info.id)
    return max(0, len(taken) - keep)


def _taken_at_session_end(metadata: dict[str, Any]) -> bool:
    return (
        isinstance(metadata.get("agent"), str)
        and isinstance(metadata.get("session"), str)
        and ("startVersion" in metadata)
    )
