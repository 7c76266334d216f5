"""``groundhog agent-sessions``: the captured agent sessions of a workspace (``list``), one written
back where its agent looks for it on this machine with this checkout's paths (``restore ID``), and
the workspace's capture switch (``capture on|off``; off by default)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any

import orjson

from groundhog.agents import capture
from groundhog.errors import ContextNotFound, InvalidParams, PersistenceError
from groundhog.manager import ContextManager
from groundhog.opening import create_manager, locate_store
from groundhog.userconfig import resolve

AGENTS_WITH_SESSIONS = ("claude-code", "codex", "cursor", "gemini")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def run(args: argparse.Namespace) -> int:
    root = os.path.abspath(args.workspace)
    if args.action == "capture":
        return _switch(args, root)
    if args.action == "restore":
        if not args.target:
            raise InvalidParams("Give the session id: groundhog agent-sessions restore ID.", field="id")
        capture.plain_id(args.target)
    chosen = resolve(root).settings
    if not chosen.store_url and not locate_store(root, chosen.store_dir).exists:
        raise PersistenceError(f"No Groundhog store exists for the workspace {root}.")
    manager = create_manager(root, settings=chosen, read_only=True, session="cli", create_key=False)
    try:
        if args.action == "restore":
            return _restore(manager, args, root)
        return _list(manager, args)
    finally:
        manager.close()


def _switch(args: argparse.Namespace, root: str) -> int:
    if args.target not in ("on", "off"):
        raise InvalidParams("Say 'capture on' or 'capture off'.", field="capture")
    manager = create_manager(root, session="cli")
    try:
        manager.set_workspace_setting(capture.CAPTURE_SETTING, args.target == "on")
    finally:
        manager.close()
    state = "captured into" if args.target == "on" else "no longer captured into"
    print(f"Agent session transcripts of {root} are {state} its Groundhog store.")
    return 0


def _list(manager: ContextManager, args: argparse.Namespace) -> int:
    found = capture.list_sessions(manager)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps({"sessions": found}, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    if not found:
        enabled = "on" if capture.capture_enabled(manager) else "off (groundhog agent-sessions capture on)"
        print(f"No captured agent sessions. Capture is {enabled}.")
        return 0
    rows = [
        [
            _cell(m.get("agent")),
            _cell(m.get("session")),
            _cell(m.get("cwd")),
            _cell(m.get("started")),
            _cell(m.get("lastTurn") or "-"),
            f"{_size(m.get('bytes')) / 1e3:.1f} KB",
            _cell(m.get("machine")),
        ]
        for m in found
    ]
    _table(["agent", "id", "workspace", "started", "last turn", "size", "machine"], rows)
    return 0


def _restore(manager: ContextManager, args: argparse.Namespace, root: str) -> int:
    from groundhog.agents import restore

    checkout = os.path.realpath(args.to or root)  # the agent runs in the real path (symlinks resolved)
    agent = args.agent or _agent_of(manager, args.target)
    meta, lines = capture.session_lines(manager, agent, args.target)
    lines = capture.rewrite_paths(lines, str(meta.get("cwd") or checkout), checkout)
    path = restore.target_path(agent, args.target, meta, checkout)
    restore.write_session(path, lines, force=args.force)
    print(f"Restored {agent} session {args.target} ({len(lines)} lines) to {path}.")
    if agent == "claude-code":
        print(f"Continue it from {checkout} with: claude --resume {args.target}")
    return 0


def _agent_of(manager: ContextManager, session_id: str) -> str:
    for agent in AGENTS_WITH_SESSIONS:
        if manager.exists(capture.context_name(agent, session_id)):
            return agent
    raise ContextNotFound(f"No captured session {session_id!r} in this workspace.", context=session_id)


def _cell(value: Any) -> str:
    """A value of a captured session's meta, as a table cell: a shared store's meta is written by
    teammates' machines, so no control character (a terminal escape) reaches the terminal."""
    text = str(value)[:200]
    return _CONTROL.sub("?", text)


def _size(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


__all__: list[Any] = ["run"]
