"""The real Claude Code (npm, 2.1.x) headless against the stand-in model API, with Groundhog's
plugin or its installed hooks: what the model is given at start and after compaction, what the
session leaves in the store (progress, a snapshot) and what an editor on the workspace sees, and a
captured session restored into another home and checkout and continued there with --resume."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agents.agent_harness import (
    PLUGIN,
    claude_env,
    context_data,
    request_text,
    run_claude,
    run_claude_cli,
)
from tests.agents.standin import StandIn, text_turn, tool_turn
from tests.e2e.harness import Env, start_client

MARKER = "PLAN-MARKER-pelican-7"


def _seed(env: Env) -> None:
    from groundhog import create_manager
    from groundhog.changes import Change

    manager = create_manager(env.workspace, store_dir=env.store_dir, config_dir=env.config_dir)
    try:
        manager.create_context("default")
        manager.tracker("default").update(Change(set={"plan": [MARKER, "then write the tests"]}))
    finally:
        manager.close()


def _groundhog(environ: dict[str, str], *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "groundhog", *args],
        env=environ,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env.make(tmp_path)


async def test_plugin_session_gets_the_brief_records_progress_and_the_editor_sees_it(env: Env) -> None:
    _seed(env)
    home = env.root / "home"
    with StandIn() as api:
        api.script(
            tool_turn("Write", {"file_path": str(env.workspace / "notes.txt"), "content": "hi\n"}),
            text_turn("Wrote notes.txt."),
        )
        environ = claude_env(env, home, api.url, MCP_CONNECTION_NONBLOCKING="false")
        # installed as docs/agents.md says: the repository is the marketplace
        run_claude_cli(environ, env.root, "plugin", "marketplace", "add", str(PLUGIN.parents[1]))
        run_claude_cli(environ, env.root, "plugin", "install", "groundhog@groundhog")
        result = run_claude(
            environ,
            env.workspace,
            "-p",
            "write the notes",
            "--permission-mode",
            "acceptEdits",
            "--allowedTools",
            "Write",
        )
        session = result["session_id"]
        first = api.main_requests()[0]
        assert MARKER in request_text(first)  # the brief reached the model before its first turn
        # the plugin's MCP server is connected: its tools are offered (deferred: named in the request)
        assert "mcp__plugin_groundhog_groundhog__resume" in json.dumps(first)

        record = context_data(env)["data"]["agentSessions"][f"claude-code/{session}"]
        assert record["filesTouched"] == ["notes.txt"] and record["lastPrompt"] == "write the notes"
        assert record["lastResponse"] == "Wrote notes.txt." and record["ended"]

        # compaction in a resumed session: PreCompact records, SessionStart (compact) hands the brief again
        api.requests.clear()
        run_claude(environ, env.workspace, "-p", "/compact", "--resume", session)
    transcript = Path(record["transcript"]["path"])
    after_compact = [
        entry["attachment"]
        for entry in map(json.loads, transcript.read_text().splitlines())
        if entry.get("type") == "attachment" and entry["attachment"].get("hookName") == "SessionStart:compact"
    ]
    assert after_compact and MARKER in after_compact[-1]["stdout"]

    editor = await start_client(env)
    try:
        got = await editor.request("context/get", {"context": "default"})
        assert session in json.dumps(got["data"]["agentSessions"])
        snapshots = await editor.request("context/snapshots", {"context": "default"})
        assert any(s["label"] == f"after claude-code session {session[:8]}" for s in snapshots["snapshots"])
    finally:
        await editor.close()


def test_a_captured_session_is_resumed_in_another_home_and_checkout(env: Env) -> None:
    home_a, home_b = env.root / "home-a", env.root / "home-b"
    checkout_b = env.root / "checkout-b"
    checkout_b.mkdir()
    with StandIn() as api:
        environ_a = claude_env(env, home_a, api.url)
        assert "added the Stop hook" in _groundhog(
            environ_a, "hook", "install", "claude-code", cwd=env.workspace
        )
        _groundhog(environ_a, "agent-sessions", "capture", "on", cwd=env.workspace)
        api.script(
            tool_turn("Write", {"file_path": str(env.workspace / "word.txt"), "content": "pelican\n"}),
            text_turn("I will remember the word pelican."),
        )
        session = run_claude(
            environ_a,
            env.workspace,
            "-p",
            "remember the word pelican",
            "--permission-mode",
            "acceptEdits",
            "--allowedTools",
            "Write",
        )["session_id"]
        listed = json.loads(_groundhog(environ_a, "agent-sessions", "--json", cwd=env.workspace))["sessions"]
        assert [s["session"] for s in listed] == [session] and listed[0]["lines"] > 5

        environ_b = claude_env(env, home_b, api.url)
        out = _groundhog(
            environ_b,
            "agent-sessions",
            "restore",
            session,
            "--workspace",
            str(env.workspace),
            "--to",
            str(checkout_b),
            cwd=checkout_b,
        )
        # Claude Code's own escaping of a project path (home A's folder for the workspace) is ours
        (made,) = (home_a / ".claude" / "projects").iterdir()
        assert made.name == re.sub("[^A-Za-z0-9]", "-", str(env.workspace))
        restored = (
            home_b
            / ".claude"
            / "projects"
            / re.sub("[^A-Za-z0-9]", "-", str(checkout_b))
            / f"{session}.jsonl"
        )
        assert str(restored) in out and restored.exists()
        text = restored.read_text()
        assert str(checkout_b / "word.txt") in text and str(env.workspace) not in text

        api.requests.clear()
        run_claude(environ_b, checkout_b, "-p", "which word?", "--resume", session)
    history = request_text(api.main_requests()[0])
    assert "remember the word pelican" in history and "which word?" in history
