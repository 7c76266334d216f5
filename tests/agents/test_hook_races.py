"""Hooks cut short, crowded or doubled: a SessionEnd hook whose process group the agent kills
(Claude Code gives a plugin's SessionEnd hooks 1.5 s, then kills the group) still records the
session's end and its snapshot; ten sessions stopping at once next to an editor that keeps
writing, on a store another process holds locked for a while, lose nothing and every hook exits
0; copies of one hook run side by side for one event (installed twice) record it once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from groundhog.opening import locate_store
from tests.agents.agent_harness import claude_input, claude_transcript, clean_environ, context_data, run_hook
from tests.e2e.harness import Env, start_client

HANG_GUARD_S = 60.0


@pytest.fixture
def env(tmp_path: Path) -> Env:
    env = Env.make(tmp_path)
    from groundhog import create_manager
    from groundhog.changes import Change

    manager = create_manager(env.workspace, store_dir=env.store_dir, config_dir=env.config_dir)
    try:
        manager.create_context("default")
        manager.tracker("default").update(Change(set={"plan": "p"}))
    finally:
        manager.close()
    return env


def _hold_lock(env: Env) -> sqlite3.Connection:
    """Another process's long write: the store's write lock, held until released."""
    holder = sqlite3.connect(locate_store(env.workspace, env.store_dir).path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def _spawn_hook(env: Env, event: str, payload: dict[str, Any]) -> subprocess.Popen[bytes]:
    """As the agents start a hook: a shell's process group of its own, the JSON on stdin."""
    given = env.root / f"input-{os.urandom(4).hex()}.json"
    given.write_text(json.dumps(payload))
    with given.open("rb") as stdin:
        return subprocess.Popen(
            [sys.executable, "-m", "groundhog", "hook", "claude-code", event],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=clean_environ(env),
            cwd=env.root,
            start_new_session=True,
        )


def _busy(hook: subprocess.Popen[bytes]) -> None:
    """Wait until the hook has handed its work to a worker in a session of its own (out of the
    reach of a kill aimed at the hook's group), or has finished."""
    deadline = time.monotonic() + HANG_GUARD_S
    while hook.poll() is None and time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{hook.pid}/task/{hook.pid}/children").read_text().split()
            sessions = [Path(f"/proc/{c}/stat").read_text().rsplit(")", 1)[1].split()[3] for c in children]
        except (OSError, IndexError):
            continue
        if any(session == child for session, child in zip(sessions, children, strict=True)):
            return
        time.sleep(0.02)


def _record(env: Env, session: str, until: str) -> dict[str, Any]:
    """The session's record once it has ``until`` (a hang guard, not a timing check)."""
    deadline = time.monotonic() + HANG_GUARD_S
    while True:
        record: dict[str, Any] = (
            context_data(env)["data"].get("agentSessions", {}).get(f"claude-code/{session}", {})
        )
        if record.get(until) or time.monotonic() > deadline:
            return record
        time.sleep(0.1)


def test_a_session_end_hook_killed_with_its_process_group_still_records_the_end(env: Env) -> None:
    transcript = claude_transcript(env.root / "t.jsonl", env.workspace, "s", [("p", "a", ["x.py"])])
    holder = _hold_lock(env)  # the hook is still at work when the agent's patience ends
    try:
        hook = _spawn_hook(env, "SessionEnd", claude_input(env, "SessionEnd", "s", transcript, reason="exit"))
        _busy(hook)
        os.killpg(hook.pid, signal.SIGKILL)  # what Claude Code does once a SessionEnd hook outlives 1.5 s
        hook.communicate(timeout=HANG_GUARD_S)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    record = _record(env, "s", until="ended")
    assert record.get("ended") and record["endReason"] == "exit" and record["filesTouched"] == ["x.py"]
    from groundhog import create_manager

    manager = create_manager(env.workspace, store_dir=env.store_dir, config_dir=env.config_dir)
    try:
        assert [s.label for s in manager.tracker("default").snapshots()] == ["after claude-code session s"]
    finally:
        manager.close()


async def test_ten_sessions_stopping_at_once_beside_an_editor_lose_nothing(env: Env) -> None:
    sessions = [f"s{i}" for i in range(10)]
    transcripts = {
        s: claude_transcript(env.root / f"{s}.jsonl", env.workspace, s, [(f"prompt {s}", "a", [f"{s}.py"])])
        for s in sessions
    }
    editor = await start_client(env, client_name="the-editor")
    writes = 0
    stopping = asyncio.Event()

    async def keep_writing() -> None:
        nonlocal writes
        while not stopping.is_set():
            await editor.request("context/update", {"context": "default", "set": {"typed": writes}})
            writes += 1

    holder = _hold_lock(env)
    try:
        hooks = [_spawn_hook(env, "Stop", claude_input(env, "Stop", s, transcripts[s])) for s in sessions]
        for hook in hooks:
            await asyncio.to_thread(_busy, hook)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    writer = asyncio.create_task(keep_writing())
    try:
        done = [await asyncio.to_thread(hook.communicate, None, HANG_GUARD_S) for hook in hooks]
    finally:
        stopping.set()
        await writer
        await editor.close()
    assert [hook.returncode for hook in hooks] == [0] * len(hooks), [err for _, err in done]
    data = context_data(env)["data"]
    assert {k for k in data["agentSessions"]} == {f"claude-code/{s}" for s in sessions}
    assert all(data["agentSessions"][f"claude-code/{s}"]["lastPrompt"] == f"prompt {s}" for s in sessions)
    assert data["typed"] == writes - 1


def test_copies_of_a_hook_installed_twice_record_the_event_once(env: Env) -> None:
    """Claude Code starts every copy of a hook at once with the same JSON (the plugin beside the
    settings' entry, two marketplaces): the copies that find the first at work answer nothing; a
    later run of the same input, once the first has ended, is not a copy."""
    transcript = claude_transcript(env.root / "t.jsonl", env.workspace, "s", [("one", "first", [])])
    stop = claude_input(env, "Stop", "s", transcript)
    holder = _hold_lock(env)  # keeps the first copy at work while the others start
    try:
        first = _spawn_hook(env, "Stop", stop)
        _busy(first)
        copies = [_spawn_hook(env, "Stop", stop) for _ in range(2)]
        said = [copy.communicate(timeout=HANG_GUARD_S) for copy in copies]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    first.communicate(timeout=HANG_GUARD_S)
    assert [c.returncode for c in copies] == [0, 0] and said == [(b"", b"")] * 2
    recorded = context_data(env)
    assert recorded["data"]["agentSessions"]["claude-code/s"]["turns"] == 1
    again = _spawn_hook(env, "Stop", stop)
    assert again.communicate(timeout=HANG_GUARD_S) == (b"", b"") and again.returncode == 0
    assert context_data(env)["version"] == recorded["version"] + 1


def test_a_copy_of_a_session_start_that_begins_late_gives_no_second_brief(env: Env) -> None:
    """On a loaded machine the agent's copies of a SessionStart hook can begin after the first has
    already answered: within START_COPIES_S of the first claim they are still copies (the model
    would read the brief twice). The same start claimed longer ago is a new one and gets it."""
    start = claude_input(env, "SessionStart", "late", source="startup")
    first = run_hook(env, "claude-code", "SessionStart", start)
    assert first.returncode == 0 and "Groundhog" in first.stdout
    late_copy = run_hook(env, "claude-code", "SessionStart", start)
    assert (late_copy.returncode, late_copy.stdout, late_copy.stderr) == (0, "", "")
    (claim,) = (env.config_dir / "hook-claims").iterdir()
    claim.write_text(repr(time.time() - 60))  # the first claim, as if a minute ago
    again = run_hook(env, "claude-code", "SessionStart", start)
    assert again.returncode == 0 and "Groundhog" in again.stdout
