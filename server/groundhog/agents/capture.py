"""Agent sessions that follow you: an agent's JSONL transcript captured into the workspace's store
as it grows, listed, and written back where the agent looks for it on another machine or checkout.

A captured session is the context ``agent-sessions/<agent>/<session id>`` (key ``meta``: agent,
session, cwd, machine, started, updated, lastTurn, lines, bytes, offset, pages, transcript; key
``tail``: the newest lines) plus, for every ``PAGE_BYTES`` of older lines, a page context
``agent-sessions/<agent>/<session id>/<nnnnn>`` (key ``lines``) written once and never again. So an
appended line costs the append (the tail is at most a page), and the store grows by about the
transcript's size instead of keeping whole copies of it in checkpoints. Opt-in per workspace
(``groundhog agent-sessions capture on``); every line is encrypted like any other value."""

from __future__ import annotations

import os
import re
import socket
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from groundhog.agents.contracts import SESSION_ID, HookInput, HookProblem
from groundhog.agents.transcript import MAX_READ_BYTES, read_lines
from groundhog.changes import Change
from groundhog.errors import AlreadyExists, ContextNotFound, InvalidParams, VersionConflict
from groundhog.timeutil import now

if TYPE_CHECKING:
    from groundhog.manager import ContextManager
    from groundhog.tracker import ContextTracker

PREFIX = "agent-sessions"
CAPTURE_SETTING = "agentSessions.capture"
PAGE_BYTES = 128 * 1024
_TIMESTAMP = re.compile(rb'"timestamp"\s*:\s*"([^"]{10,40})"')
WRITE_TRIES = 50  # a conflict means another writer committed: ten sessions stopping at once


def plain_id(session_id: str) -> str:
    """A session id as agents make them (a UUID, a rollout id): no path, no '..'."""
    if not SESSION_ID.fullmatch(session_id) or ".." in session_id:
        raise InvalidParams(
            "A session id is 1 to 80 letters, digits, '.', '_' or '-' (no paths, no '..').", field="id"
        )
    return session_id


def context_name(agent: str, session_id: str) -> str:
    return f"{PREFIX}/{agent}/{plain_id(session_id)}"


def capture_enabled(manager: ContextManager) -> bool:
    return manager.workspace_setting(CAPTURE_SETTING) is True


@dataclass
class Captured:
    lines: int  # lines appended by this call
    total: int  # lines captured in all


def capture(manager: ContextManager, hook: HookInput, root: str) -> Captured:
    """Append the transcript's lines that are not in the store yet (all of them the first time)."""
    if hook.transcript is None:
        raise HookProblem("the hook input names no transcript to capture")
    name = context_name(hook.agent, hook.session_id)
    if not manager.exists(name):
        meta = _new_meta(hook, root)
        with suppress(AlreadyExists):
            manager.create_context(name, {"meta": meta, "tail": []}, session=_who(hook))
    tracker = manager.tracker(name, _who(hook))
    for attempt in range(WRITE_TRIES):
        try:
            return _append(manager, tracker, hook)
        except VersionConflict:  # another hook of this session wrote first: read again
            if attempt == WRITE_TRIES - 1:
                raise
    raise AssertionError("unreachable")


def _append(manager: ContextManager, tracker: ContextTracker, hook: HookInput) -> Captured:
    head = tracker.read()
    meta = orjson.loads(head.values["meta"])
    if meta.get("stopped"):
        return Captured(0, int(meta["lines"]))
    chunk = read_lines(str(hook.transcript), int(meta.get("offset", 0)), newest=False)
    if chunk.start == 0 and meta.get("offset"):  # the file was replaced: keep what we have
        raise HookProblem("the transcript is shorter than what was captured; not captured again")
    if chunk.full and chunk.end == chunk.start:  # one line longer than a hook may read: never ends
        meta["stopped"] = f"a transcript line longer than {MAX_READ_BYTES >> 20} MB"
        tracker.update(Change(set={"meta": meta}), base_version=head.version, on_conflict="fail")
        raise HookProblem(f"capture stopped: {meta['stopped']}")
    if not chunk.lines:
        return Captured(0, int(meta["lines"]))
    added = [_as_text(line) for line in chunk.lines]
    storage = manager.storage()
    if storage.over_budget or storage.used_bytes + 2 * (chunk.end - chunk.start) > storage.budget_bytes:
        meta["stopped"] = "the workspace's storage budget"
        tracker.update(Change(set={"meta": meta}), base_version=head.version, on_conflict="fail")
        raise HookProblem("capture stopped: the workspace store is at its storage budget")
    tail = orjson.loads(head.values["tail"]) + added
    tail = _flush_pages(manager, tracker.name, meta, tail, _who(hook))
    found = next((t for t in map(_TIMESTAMP.findall, reversed(chunk.lines)) if t), None)  # the newest
    meta.update(
        updated=now(),
        lines=int(meta["lines"]) + len(added),
        bytes=int(meta["bytes"]) + chunk.end - chunk.start,
        offset=chunk.end,
        lastTurn=found[-1].decode() if found else meta.get("lastTurn"),
    )
    tracker.update(Change(set={"meta": meta, "tail": tail}), base_version=head.version, on_conflict="fail")
    return Captured(len(added), meta["lines"])


def _flush_pages(
    manager: ContextManager, name: str, meta: dict[str, Any], tail: list[str], who: str
) -> list[str]:
    """Move full pages of the tail into page contexts of their own (written once). A page that
    already exists was written by an earlier run that stopped before the tail was updated: the
    same lines, so it counts as written."""
    while True:
        size, cut = 0, 0
        while cut < len(tail) and size < PAGE_BYTES:
            size += len(tail[cut]) + 4
            cut += 1
        if size < PAGE_BYTES:
            return tail
        page_name = f"{name}/{int(meta['pages']):05d}"
        with suppress(AlreadyExists):
            manager.create_context(page_name, {"lines": tail[:cut]}, session=who, trusted_json=True)
        meta["pages"] = int(meta["pages"]) + 1
        tail = tail[cut:]


def _as_text(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        raise HookProblem("the transcript is not UTF-8 text; not captured") from None


def _new_meta(hook: HookInput, root: str) -> dict[str, Any]:
    return {
        "agent": hook.agent,
        "session": hook.session_id,
        "cwd": root,
        "machine": socket.gethostname(),
        "started": now(),
        "updated": now(),
        "lastTurn": None,
        "lines": 0,
        "bytes": 0,
        "offset": 0,
        "pages": 0,
        "transcript": os.path.basename(str(hook.transcript)),
    }


def _who(hook: HookInput) -> str:
    return f"{hook.agent}:{hook.session_id[:36]}"


# -- listing and restoring --------------------------------------------------------------------


def list_sessions(manager: ContextManager) -> list[dict[str, Any]]:
    """The captured sessions of the workspace, newest first."""
    found = []
    for info in manager.list_contexts():
        parts = info.name.split("/")
        if len(parts) != 3 or parts[0] != PREFIX:
            continue
        raw = manager.tracker(info.name).read().values.get("meta")
        meta = orjson.loads(raw) if raw is not None else {}
        if isinstance(meta, dict):
            found.append({**meta, "agent": parts[1], "session": parts[2]})
    return sorted(found, key=lambda m: str(m.get("updated")), reverse=True)


def session_lines(manager: ContextManager, agent: str, session_id: str) -> tuple[dict[str, Any], list[str]]:
    """A captured session's meta and its lines, oldest first."""
    name = context_name(agent, session_id)
    if not manager.exists(name):
        raise ContextNotFound(f"No captured {agent} session {session_id!r} in this workspace.", context=name)
    head = manager.tracker(name).read()
    meta = orjson.loads(head.values["meta"])
    lines: list[str] = []
    for page in range(int(meta.get("pages", 0))):
        lines += orjson.loads(manager.tracker(f"{name}/{page:05d}").read().values["lines"])
    return meta, lines + orjson.loads(head.values["tail"])


def rewrite_paths(lines: list[str], old: str, new: str) -> list[str]:
    """The transcript's lines with the captured checkout's path (``old``) replaced by this one's,
    wherever it stands as a whole path or a path's beginning inside a JSON string."""
    old, new = os.path.normpath(old), os.path.normpath(new)
    if old == new or old == "/":
        return lines
    escaped_old = orjson.dumps(old).decode()[1:-1]
    escaped_new = orjson.dumps(new).decode()[1:-1]
    pattern = re.compile(re.escape(escaped_old) + r'(?=["/\\])')
    return [pattern.sub(lambda _m: escaped_new, line) for line in lines]
