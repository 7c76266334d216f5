"""Agent sessions captured into the store: off by default, every line appended as the transcript
grows (pages written once), listed, restored where the agent looks with this checkout's paths,
never over an existing file without --force, never for an id that is a path; and across machines
through a shared PostgreSQL store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from groundhog.agents import capture
from tests.agents.agent_harness import claude_input, claude_transcript, clean_environ, run_hook
from tests.e2e.harness import Env
from tests.pgcluster import PgCluster


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env.make(tmp_path)


def _cli(env: Env, *args: str, home: Path | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    environ = clean_environ(env, **extra, **({"HOME": str(home)} if home else {}))
    return subprocess.run(
        [sys.executable, "-m", "groundhog", "agent-sessions", *args],
        env=environ,
        cwd=env.workspace,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _listed(env: Env, **extra: str) -> list[dict[str, object]]:
    done = _cli(env, "--json", **extra)
    assert done.returncode == 0, done.stderr
    sessions: list[dict[str, object]] = json.loads(done.stdout)["sessions"]
    return sessions


def test_capture_is_off_by_default_and_on_per_workspace(env: Env) -> None:
    transcript = claude_transcript(env.root / "t.jsonl", env.workspace, "s1", [("hello", "hi", [])])
    run_hook(env, "claude-code", "Stop", claude_input(env, "Stop", "s1", transcript))
    assert _listed(env) == []
    assert _cli(env, "capture", "on").returncode == 0
    run_hook(env, "claude-code", "Stop", claude_input(env, "Stop", "s1", transcript))
    (listed,) = _listed(env)
    assert listed["session"] == "s1" and listed["lines"] == 2 and listed["bytes"] == transcript.stat().st_size
    assert listed["cwd"] == str(env.workspace) and listed["lastTurn"] == "2026-12-05T10:00:00.000Z"
    assert _cli(env, "capture", "off").returncode == 0
    claude_transcript(transcript, env.workspace, "s1", [("more", "ok", [])])
    run_hook(env, "claude-code", "Stop", claude_input(env, "Stop", "s1", transcript))
    assert _listed(env)[0]["lines"] == 2


def test_a_long_transcript_is_captured_in_pages_and_restored_byte_for_byte(env: Env, tmp_path: Path) -> None:
    assert _cli(env, "capture", "on").returncode == 0
    transcript = env.root / "t.jsonl"
    for round_ in range(5):  # 5 x ~85 KB: several pages (128 KB), several hooks
        claude_transcript(
            transcript, env.workspace, "s1", [(f"p{round_}-{i} " + "z" * 1200, "a", []) for i in range(50)]
        )
        done = run_hook(env, "claude-code", "Stop", claude_input(env, "Stop", "s1", transcript))
        assert done.returncode == 0 and done.stderr == "", done.stderr
    from groundhog import create_manager

    manager = create_manager(
        env.workspace, store_dir=env.store_dir, config_dir=env.config_dir, read_only=True
    )
    try:
        meta, lines = capture.session_lines(manager, "claude-code", "s1")
        assert meta["pages"] >= 3
        names = {c.name for c in manager.list_contexts()}
        assert f"agent-sessions/claude-code/s1/{meta['pages'] - 1:05d}" in names
    finally:
        manager.close()
    assert "\n".join(lines) + "\n" == transcript.read_text()  # same checkout: nothing rewritten
    home = tmp_path / "home-b"
    done = _cli(env, "restore", "s1", home=home)
    assert done.returncode == 0, done.stderr
    (restored,) = (home / ".claude" / "projects").glob("*/s1.jsonl")
    assert restored.read_bytes() == transcript.read_bytes()


def test_restore_never_overwrites_and_refuses_ids_that_are_paths(env: Env, tmp_path: Path) -> None:
    assert _cli(env, "capture", "on").returncode == 0
    transcript = claude_transcript(env.root / "t.jsonl", env.workspace, "s1", [("x", "y", [])])
    run_hook(env, "claude-code", "Stop", claude_input(env, "Stop", "s1", transcript))
    home = tmp_path / "home"
    assert _cli(env, "restore", "s1", home=home).returncode == 0
    (restored,) = (home / ".claude" / "projects").glob("*/s1.jsonl")
    restored.write_text("the user's own file\n")
    again = _cli(env, "restore", "s1", home=home)
    assert again.returncode == 1 and "--force" in again.stderr
    assert restored.read_text() == "the user's own file\n"
    assert _cli(env, "restore", "s1", "--force", home=home).returncode == 0
    assert restored.read_bytes() == transcript.read_bytes()
    restored.unlink()
    restored.symlink_to(tmp_path / "planted")
    assert _cli(env, "restore", "s1", "--force", home=home).returncode == 1
    assert not (tmp_path / "planted").exists()
    for bad in ("../../etc/passwd", "a/b", "..", ".hidden", "x" * 200, "s1/../s1"):
        done = _cli(env, "restore", bad, home=home)
        assert done.returncode == 1 and "no paths" in done.stderr, (
            bad,
            done.stderr,
        )
    assert _cli(env, "restore", "unknown-id", home=home).returncode == 1


def test_a_hook_with_a_session_id_that_is_a_path_captures_nothing(env: Env) -> None:
    assert _cli(env, "capture", "on").returncode == 0
    transcript = claude_transcript(env.root / "t.jsonl", env.workspace, "x", [("x", "y", [])])
    done = run_hook(env, "claude-code", "Stop", claude_input(env, "Stop", "../../evil", transcript))
    assert done.returncode == 0 and "session id" in done.stderr
    assert _listed(env) == []


def test_restore_rewrites_the_checkout_path(env: Env, tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {"cwd": "/old/proj", "file": "/old/proj/src/a.py", "other": "/old/project2/x", "t": "/old/proj"}
        )
    ]
    assert capture.rewrite_paths(lines, "/old/proj", "/new/place") == [
        json.dumps(
            {
                "cwd": "/new/place",
                "file": "/new/place/src/a.py",
                "other": "/old/project2/x",
                "t": "/new/place",
            }
        )
    ]


def test_a_session_captured_on_one_machine_is_restored_on_another(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    """Two machines: separate homes, config dirs (keys) and checkout paths of one repository, one
    shared PostgreSQL store; the key moves with `groundhog key export | import`."""
    url = pg_cluster.url
    remote = f"git@example.com:team/proj-{tmp_path.name}.git"  # a workspace of this test's own
    machines = []
    for name in ("a", "b"):
        env = Env.make(tmp_path / name, store_url=url)
        (env.workspace / ".git").mkdir()
        (env.workspace / ".git" / "config").write_text(f'[remote "origin"]\n\turl = {remote}\n')
        machines.append(env)
    a, b = machines
    subprocess.run(
        [sys.executable, "-m", "groundhog", "store", "init"], env=a.environ(), check=True, capture_output=True
    )
    assert _cli(a, "capture", "on").returncode == 0, _cli(a, "capture", "on").stderr
    transcript = claude_transcript(
        a.root / "t.jsonl", a.workspace, "s9", [("fix the bug", "fixed", ["src/bug.py"])]
    )
    assert run_hook(a, "claude-code", "Stop", claude_input(a, "Stop", "s9", transcript)).stderr == ""
    # machine B joins as a member: its public key, added by machine A (docs/team.md)
    shown = subprocess.run(
        [sys.executable, "-m", "groundhog", "key", "show-public"],
        env=b.environ(),
        cwd=b.workspace,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [sys.executable, "-m", "groundhog", "members", "add", "machine-b", shown],
        env=a.environ(),
        cwd=a.workspace,
        check=True,
        capture_output=True,
    )
    assert [s["session"] for s in _listed(b)] == ["s9"]
    home = tmp_path / "home-b"
    done = _cli(b, "restore", "s9", home=home)
    assert done.returncode == 0, done.stderr
    (restored,) = (home / ".claude" / "projects").glob("*/s9.jsonl")
    text = restored.read_text()
    assert str(b.workspace / "src" / "bug.py") in text and str(a.workspace) not in text


def test_where_each_agent_looks_for_a_restored_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from groundhog.agents.restore import target_path

    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    meta = {"started": "2026-12-05T10:00:00.000Z", "transcript": "rollout-2026-12-05T10-00-00-abc.jsonl"}
    assert target_path("claude-code", "abc", meta, "/home/me/my_proj.v2") == (
        tmp_path / "claude" / "projects" / "-home-me-my-proj-v2" / "abc.jsonl"
    )
    assert target_path("codex", "abc", meta, "/x") == (
        tmp_path / "codex" / "sessions" / "2026" / "12" / "05" / "rollout-2026-12-05T10-00-00-abc.jsonl"
    )
    planted = {**meta, "transcript": "../../.bashrc"}  # a captured name never leaves the sessions folder
    assert target_path("codex", "abc", planted, "/x").name == "rollout-abc.jsonl"
    for started in ("..-..-..T10:00:00.000Z", "../../../x/y", "2026-12"):  # nor a captured date
        path = target_path("codex", "abc", {**meta, "started": started}, "/x")
        assert path.parent == tmp_path / "codex" / "sessions" / "1970" / "01" / "01"


def test_capture_stops_at_the_workspaces_storage_budget(env: Env) -> None:
    from groundhog import create_manager
    from groundhog.agents.contracts import HookInput, HookProblem

    transcript = env.root / "t.jsonl"
    claude_transcript(transcript, env.workspace, "s", [("q " + "w" * 3000, "a", []) for _ in range(400)])
    assert transcript.stat().st_size > 1 << 20
    hook = HookInput(
        "claude-code", "Stop", "stop", "s", str(env.workspace), str(transcript), None, None, None, None
    )
    manager = create_manager(
        env.workspace, store_dir=env.store_dir, config_dir=env.config_dir, store_budget_bytes=1 << 20
    )
    try:
        manager.set_workspace_setting(capture.CAPTURE_SETTING, True)
        with pytest.raises(HookProblem, match="storage budget"):
            capture.capture(manager, hook, str(env.workspace))
        meta, lines = capture.session_lines(manager, "claude-code", "s")
        assert meta["stopped"] == "the workspace's storage budget" and lines == []
        assert capture.capture(manager, hook, str(env.workspace)).lines == 0  # stays stopped
    finally:
        manager.close()


def test_a_transcript_longer_than_a_hook_reads_is_captured_without_a_gap(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook reads at most a window of the transcript (64 MB; 4 KB here): capture switched on
    late, or a 2 GB transcript, is taken a window per hook from where the last one stopped, never
    by skipping to the newest lines; a single line longer than the window stops the capture."""
    from groundhog import create_manager
    from groundhog.agents import transcript as reading
    from groundhog.agents.contracts import HookInput, HookProblem

    monkeypatch.setattr(reading, "MAX_READ_BYTES", 4096)
    path = claude_transcript(
        env.root / "t.jsonl", env.workspace, "s", [(f"q{i}", "a", []) for i in range(40)]
    )
    hook = HookInput(
        "claude-code", "Stop", "stop", "s", str(env.workspace), str(path), None, None, None, None
    )
    manager = create_manager(env.workspace, store_dir=env.store_dir, config_dir=env.config_dir)
    try:
        manager.set_workspace_setting(capture.CAPTURE_SETTING, True)
        calls = 1
        while capture.capture(manager, hook, str(env.workspace)).lines:
            calls += 1
        _, lines = capture.session_lines(manager, "claude-code", "s")
        assert calls > 2 and "\n".join(lines) + "\n" == path.read_text()
        with path.open("a") as out:
            out.write(json.dumps({"type": "user", "message": {"content": "x" * 5000}}) + "\n")
        with pytest.raises(HookProblem, match="longer than"):
            capture.capture(manager, hook, str(env.workspace))
        assert capture.capture(manager, hook, str(env.workspace)).lines == 0  # stays stopped
    finally:
        manager.close()


def test_a_teammates_planted_meta_cannot_reach_the_terminal(env: Env) -> None:
    """A shared store's captured sessions are written by teammates' machines: the listing shows
    their meta without control characters (terminal escapes) and survives a size that is no number."""
    from groundhog import create_manager

    manager = create_manager(env.workspace, store_dir=env.store_dir, config_dir=env.config_dir)
    try:
        meta = {"machine": "box\x1b]0;owned\x07\x1b[2J", "cwd": "/p\r/x", "bytes": "lots", "updated": "z"}
        manager.create_context("agent-sessions/claude-code/evil", {"meta": meta, "tail": []})
    finally:
        manager.close()
    done = _cli(env)
    assert done.returncode == 0, done.stderr
    assert "evil" in done.stdout and "\x1b" not in done.stdout and "\r" not in done.stdout
