"""The real Claude Code (npm, 2.1.x) headless against the stand-in model API, with Groundhog's
plugin or its installed hooks: what the model is given at start and after compaction, what the
session leaves in the store (progress, a snapshot) and what an editor on the workspace sees, and a
captured session restored on "another machine" (another home, config dir and checkout path, one
shared PostgreSQL store) and continued there with --resume."""

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
from tests.pgcluster import PgCluster

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
        # installed twice: the settings' hooks too (docs/agents.md's other way); each event runs once
        _groundhog(environ, "hook", "install", "claude-code", cwd=env.workspace)
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
        assert request_text(first).count("Groundhog: the saved context") == 1
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


def _machine(tmp_path: Path, name: str, url: str, checkout: str = "workspace") -> Env:
    """One machine: its own home, config dir (keys) and checkout path of the same repository."""
    root = tmp_path / name
    env = Env(root, root / "store", root / "config", root / checkout, url)
    (env.workspace / ".git").mkdir(parents=True)
    remote = f"git@example.com:team/{tmp_path.name}.git"  # a workspace of this test's own
    (env.workspace / ".git" / "config").write_text(f'[remote "origin"]\n\turl = {remote}\n')
    return env


def test_a_captured_session_is_resumed_on_another_machine_through_the_shared_store(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    # machine B's checkout: a path Claude Code names its folder of sessions for by a hash (over 200
    # characters escaped), with a character outside the BMP, reached by the user through a symlink
    deep = "/".join(["a-long-folder-name-of-a-team-checkout"] * 6) + "/caf\u00e9-\U0001f600/proj"
    a, b = _machine(tmp_path, "a", pg_cluster.url), _machine(tmp_path, "b", pg_cluster.url, deep)
    link = b.root / "link"
    link.symlink_to(b.workspace)
    with StandIn() as api:
        environ_a = claude_env(a, a.root / "home", api.url)
        assert "added the Stop hook" in _groundhog(
            environ_a, "hook", "install", "claude-code", cwd=a.workspace
        )
        _groundhog(environ_a, "agent-sessions", "capture", "on", cwd=a.workspace)
        api.script(
            tool_turn("Write", {"file_path": str(a.workspace / "word.txt"), "content": "pelican\n"}),
            text_turn("I will remember the word pelican."),
        )
        prompt = (
            "-p",
            "remember the word pelican",
            "--permission-mode",
            "acceptEdits",
            "--allowedTools",
            "Write",
        )
        session = run_claude(environ_a, a.workspace, *prompt)["session_id"]
        environ_b = claude_env(b, b.root / "home", api.url)
        # machine B joins as a member: its public key, added by machine A (docs/team.md)
        public = _groundhog(environ_b, "key", "show-public", cwd=b.workspace).strip()
        _groundhog(environ_a, "members", "add", "machine-b", public, cwd=a.workspace)
        listed = json.loads(_groundhog(environ_b, "agent-sessions", "--json", cwd=b.workspace))["sessions"]
        assert [s["session"] for s in listed] == [session] and listed[0]["lines"] > 5
        assert str(listed[0]["lastTurn"]).startswith("20")  # Claude Code's last lines carry no timestamp
        out = _groundhog(environ_b, "agent-sessions", "restore", session, "--to", str(link), cwd=b.workspace)
        # Claude Code's own escaping of a project path (machine A's folder for its checkout) is ours
        (made,) = (a.root / "home" / ".claude" / "projects").iterdir()
        assert made.name == re.sub("[^A-Za-z0-9]", "-", str(a.workspace))
        (restored,) = (b.root / "home" / ".claude" / "projects").glob(f"*/{session}.jsonl")
        assert str(restored) in out and len(restored.parent.name) > 200
        text = restored.read_text()
        assert str(b.workspace / "word.txt") in text and str(a.workspace) not in text

        api.requests.clear()
        run_claude(environ_b, b.workspace, "-p", "which word?", "--resume", session)
    history = request_text(api.main_requests()[0])
    assert "remember the word pelican" in history and "which word?" in history
