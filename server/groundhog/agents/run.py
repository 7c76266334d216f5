"""One hook run: read the agent's JSON on stdin, open the workspace's store (the same one the
editors and ``groundhog mcp`` open for that folder), do the event's work, answer in the agent's
format. Fails open: whatever goes wrong (bad JSON, an unknown event, a missing or foreign
transcript, a locked or unreachable store, a hook that runs out of time) answers nothing useful,
exits 0 and says why in one line on stderr; a failed write leaves the store as it was."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from groundhog.agents import background, once
from groundhog.agents.contracts import (
    COMPACT,
    END,
    PROMPT,
    START,
    STOP,
    Contract,
    HookInput,
    HookProblem,
    answer,
    contract,
    parse_input,
)
from groundhog.agents.transcript import read_lines, summarize
from groundhog.errors import ContextError, LockError
from groundhog.limits import HOOK_LOCK_TIMEOUT_S, HOOK_WORKER_LOCK_TIMEOUT_S, HOOK_WORKER_TIMEOUT_S
from groundhog.settings import Settings
from groundhog.userconfig import resolve

if TYPE_CHECKING:
    from groundhog.manager import ContextManager

MAX_INPUT_BYTES = 16 << 20
HOOK_SNAPSHOT_MAX_BYTES = 64 << 20  # a captured transcript line can be large (a file's contents)
PROJECT_DIR_ENV = ("CLAUDE_PROJECT_DIR", "GEMINI_PROJECT_DIR", "CURSOR_PROJECT_DIR")
RECORDED = (COMPACT, STOP, END)  # the events whose work is finished by a worker (background.py)
T = TypeVar("T")


def main(
    agent_name: str, event: str, flags: dict[str, Any], timeout_s: float, argument: str | None = None
) -> int:
    """Run one hook; ``flags``: settings given on its command line (settings.py); ``argument``: the
    hook JSON given as an argument (Codex's notify) instead of stdin. ``timeout_s`` runs from the
    process's start, as the agent's own timeout does."""
    try:
        agent, kind = contract(agent_name, event)
    except HookProblem as problem:
        _warn(str(problem))
        return 0
    fallback = answer(agent, kind, None)
    left = max(0.5, timeout_s - background.process_age())
    answered = threading.Event()
    lock = threading.Lock()

    def say(text: str | None) -> None:
        with lock:
            if answered.is_set():
                return
            answered.set()
            if text is not None:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()

    def give_up() -> None:  # on the timer's thread: an unfinished write is rolled back by the store
        _warn(f"gave up after {timeout_s:g} s (the store did not answer); nothing more was recorded")
        say(fallback)
        os._exit(0)

    timer = threading.Timer(left, give_up)
    timer.daemon = True
    timer.start()
    began = time.monotonic()
    hook = _guarded(lambda: _first_input(agent, event, kind, argument))
    if hook is not None and hook.kind in RECORDED and background.can_detach():
        timer.cancel()
        timer.join()  # no thread of ours runs while the worker is forked
        background.finish(
            lambda: _guarded(lambda: _run(hook, agent, flags, say, HOOK_WORKER_LOCK_TIMEOUT_S)),
            wait_s=left - (time.monotonic() - began),
            worker_s=HOOK_WORKER_TIMEOUT_S,
            warn=_warn,
        )
    elif hook is not None:
        _guarded(lambda: _run(hook, agent, flags, say, HOOK_LOCK_TIMEOUT_S))
    timer.cancel()
    say(fallback)
    return 0


def _guarded(work: Callable[[], T]) -> T | None:
    """``work``'s result, or None with one line on stderr: a hook fails open, never a traceback."""
    try:
        return work()
    except HookProblem as problem:
        _warn(str(problem))
    except ContextError as error:
        _warn(error.message)
    except Exception as error:
        _warn(f"failed ({type(error).__name__}); nothing was recorded")
    return None


def _warn(text: str) -> None:
    with suppress(OSError):  # a background worker whose hook has gone: nobody is listening
        print(f"groundhog hook: {text}", file=sys.stderr)


def _first_input(agent: Contract, event: str, kind: str, argument: str | None) -> HookInput | None:
    """The hook's input, or None (and nothing said) when another copy of this hook, installed
    twice, already runs for the same event (once.py)."""
    data = argument.encode() if argument is not None else sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    hook = parse_input(agent, event, kind, _decode(data))
    settle_s = once.START_COPIES_S if hook.kind == START else 0.0
    # the command line is part of the event: a start asked again with other flags is not a copy
    claimed = data + b"\0" + "\0".join(sys.argv[1:]).encode(errors="surrogateescape")
    if hook.kind != PROMPT and not once.first(agent.name, event, claimed, settle_s=settle_s):
        return None
    return hook


def _decode(data: bytes) -> object:
    if len(data) > MAX_INPUT_BYTES:
        raise HookProblem("the hook input is larger than 16 MB")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:  # JSON may escape a lone surrogate ("\\ud800"), which orjson refuses; the fields read clean it
        return json.loads(data)
    except (ValueError, RecursionError):
        raise HookProblem("the hook input is not JSON") from None


def workspace_root(hook: HookInput) -> str:
    """The project folder: the agent's project directory when the hook's cwd is inside it (the
    model may have cd'ed into a subfolder), else the hook's cwd."""
    for name in PROJECT_DIR_ENV:
        project = os.environ.get(name)
        if project and os.path.isabs(project):
            project = os.path.normpath(project)
            if hook.cwd == project or hook.cwd.startswith(project.rstrip("/") + "/"):
                return project
    return hook.cwd


def _check_folder(cwd: str) -> None:
    """The hook's folder names the workspace whose store is opened (and created): it must be a
    directory, and not another user's one reached through a symlink (the agents give the real
    path). The message never names the folder."""
    try:
        info = os.stat(cwd)
    except OSError:
        raise HookProblem("the hook's working directory ('cwd') does not exist") from None
    if not stat.S_ISDIR(info.st_mode):
        raise HookProblem("the hook's working directory ('cwd') is not a directory")
    if info.st_uid != os.geteuid() and os.path.realpath(cwd) != cwd:
        raise HookProblem("the hook's working directory ('cwd') is a symlink to another user's folder")


def open_store(
    root: str, settings: Settings, *, read_only: bool = False, lock_timeout_s: float = HOOK_LOCK_TIMEOUT_S
) -> ContextManager:
    from groundhog.opening import create_manager

    return create_manager(
        root,
        settings=settings,
        lock_timeout_s=lock_timeout_s,
        snapshot_max_bytes=HOOK_SNAPSHOT_MAX_BYTES,
        session="hook",
        read_only=read_only,
        create_key=not read_only,
    )


def _start(
    hook: HookInput, agent: Contract, root: str, settings: Settings, say: Callable[[str | None], None]
) -> None:
    """The brief first (a store another process holds locked is still read), then the record."""
    from groundhog.agents import progress

    brief_bytes = settings.hook_brief_bytes
    try:
        manager = open_store(root, settings)
    except LockError:
        manager = open_store(root, settings, read_only=True)
    try:
        tracker = progress.active_tracker(manager, hook, create=False)
        say(answer(agent, START, progress.start_brief(manager, tracker, root, hook, brief_bytes)))
        if not manager.read_only:
            progress.record(manager, hook, None, None, tracker)
        else:
            _warn("the store is locked by another process; this session start was not recorded")
    finally:
        manager.close()


def _run(
    hook: HookInput,
    agent: Contract,
    flags: dict[str, Any],
    say: Callable[[str | None], None],
    lock_timeout_s: float,
) -> None:
    if hook.kind == PROMPT:  # nothing to add per prompt: Stop records the turn
        return
    from groundhog.agents import progress

    _check_folder(hook.cwd)
    root = workspace_root(hook)
    settings = resolve(root, flags).settings  # the user's configuration file and environment too
    if hook.kind == START:
        _start(hook, agent, root, settings, say)
        return
    recorded = hook.kind in RECORDED and hook.event != "notify"  # notify has no transcript
    fmt = agent.transcript_format if recorded else None
    if fmt is not None:  # a missing or foreign transcript changes nothing: checked before opening
        _check_transcript(hook, fmt, root)
    manager = open_store(root, settings, lock_timeout_s=lock_timeout_s)
    try:
        summary, offset = None, None
        tracker = progress.active_tracker(manager, hook, create=False)
        if fmt is not None:
            chunk = read_lines(str(hook.transcript), progress.transcript_offset(tracker, hook))
            summary, offset = summarize(chunk.lines, fmt, root), chunk.end
        tracker, entry = progress.record(manager, hook, summary, offset, tracker)
        if hook.kind == END:
            progress.end_snapshot(tracker, hook, entry)
            progress.prune_session_snapshots(tracker, settings.agent_snapshots_keep)
        _capture(manager, hook, root)
    finally:
        manager.close()


def _check_transcript(hook: HookInput, fmt: str, root: str) -> None:
    if hook.transcript is None:
        raise HookProblem("the hook input names no transcript")
    head = read_lines(hook.transcript, 0, limit=64 * 1024)
    summarize(head.lines, fmt, root)  # HookProblem when it is not the agent's format


def _capture(manager: ContextManager, hook: HookInput, root: str) -> None:
    from groundhog.agents import capture

    if hook.kind in RECORDED and hook.transcript and capture.capture_enabled(manager):
        try:
            capture.capture(manager, hook, root)
        except HookProblem as problem:
            _warn(f"transcript not captured: {problem}")


__all__ = ["END", "START", "STOP", "main"]
