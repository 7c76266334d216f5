"""``groundhog hook install | uninstall claude-code [--project]``: idempotent, says what it changed,
removes exactly what it added, keeps the user's other settings and the file's mode, refuses a
settings file it cannot read as JSON without touching it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agents.agent_harness import VENV_BIN, clean_environ
from tests.e2e.harness import Env


def _groundhog(
    env: Env, home: Path, *args: str, cwd: Path | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groundhog", *args],
        env=clean_environ(env, HOME=str(home), **extra),
        cwd=cwd or env.root,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env.make(tmp_path)


USER_SETTINGS = {
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {
        "Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "notify-send done"}]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./check.sh"}]}],
    },
    "unknownFutureKey": {"kept": True},
}


def test_install_is_idempotent_and_uninstall_removes_exactly_what_it_added(env: Env) -> None:
    home = env.root / "home"
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps(USER_SETTINGS, indent=4))
    os.chmod(settings, 0o640)

    first = _groundhog(env, home, "hook", "install", "claude-code")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("added the") == 4
    installed = json.loads(settings.read_text())
    for event in ("SessionStart", "PreCompact", "Stop", "SessionEnd"):
        commands = [h["command"] for g in installed["hooks"][event] for h in g["hooks"]]
        assert any(c.endswith(f"hook claude-code {event}") for c in commands), commands
    assert installed["hooks"]["Stop"][0]["hooks"][0]["command"] == "notify-send done"
    assert installed["unknownFutureKey"] == {"kept": True} and installed["model"] == "opus"
    assert stat.S_IMODE(settings.stat().st_mode) == 0o640

    again = _groundhog(env, home, "hook", "install", "claude-code")
    assert again.returncode == 0 and "nothing to change" in again.stdout
    assert json.loads(settings.read_text()) == installed

    removed = _groundhog(env, home, "hook", "uninstall", "claude-code")
    assert removed.returncode == 0 and removed.stdout.count("removed the") == 4
    assert json.loads(settings.read_text()) == USER_SETTINGS
    assert stat.S_IMODE(settings.stat().st_mode) == 0o640
    assert "nothing to change" in _groundhog(env, home, "hook", "uninstall", "claude-code").stdout


def test_install_into_a_project_and_into_a_home_without_settings(env: Env) -> None:
    home = env.root / "home"
    path = VENV_BIN + os.pathsep + os.environ.get("PATH", "")  # this groundhog is the one on PATH
    done = _groundhog(env, home, "hook", "install", "claude-code", "--project", cwd=env.workspace, PATH=path)
    assert done.returncode == 0, done.stderr
    project = env.workspace / ".claude" / "settings.json"
    hooks = json.loads(project.read_text())["hooks"]
    assert set(hooks) == {"SessionStart", "PreCompact", "Stop", "SessionEnd"}
    # the project's file goes to teammates: no path of this machine's in it
    assert {event: groups[0]["hooks"][0]["command"] for event, groups in hooks.items()} == {
        event: f"groundhog hook claude-code {event}" for event in hooks
    }
    assert not (home / ".claude" / "settings.json").exists()
    assert _groundhog(env, home, "hook", "install", "claude-code").returncode == 0
    assert (home / ".claude" / "settings.json").exists()
    assert (
        _groundhog(env, home, "hook", "uninstall", "claude-code", "--project", str(env.workspace)).returncode
        == 0
    )
    assert json.loads(project.read_text()) == {}


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"hooks": []}'])
def test_a_settings_file_it_cannot_read_is_left_alone(env: Env, content: str) -> None:
    home = env.root / "home"
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(content)
    done = _groundhog(env, home, "hook", "install", "claude-code")
    assert done.returncode == 1 and "nothing was changed" in done.stderr
    assert settings.read_text() == content
    assert [p.name for p in settings.parent.iterdir()] == ["settings.json"]  # no temporary left


@pytest.mark.parametrize("kind", ["a FIFO", "a directory", "20 MB", "deeply nested"])
def test_a_settings_file_that_is_no_settings_file_is_refused_at_once(env: Env, kind: str) -> None:
    """Never waits on a FIFO, never reads a huge file into memory, never a traceback."""
    home = env.root / "home"
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    if kind == "a FIFO":
        os.mkfifo(settings)
    elif kind == "a directory":
        settings.mkdir()
    elif kind == "20 MB":
        settings.write_text('{"pad": "' + "x" * (20 << 20) + '"}')
    else:
        settings.write_text("[" * 100_000 + "]" * 100_000)
    done = _groundhog(env, home, "hook", "install", "claude-code")
    assert done.returncode == 1 and "nothing was changed" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert sorted(p.name for p in settings.parent.iterdir()) == ["settings.json"]


def test_a_symlinked_settings_file_is_refused(env: Env) -> None:
    home = env.root / "home"
    (home / ".claude").mkdir(parents=True)
    target = env.root / "elsewhere.json"
    target.write_text("{}")
    (home / ".claude" / "settings.json").symlink_to(target)
    done = _groundhog(env, home, "hook", "install", "claude-code")
    assert done.returncode == 1 and "symlink" in done.stderr
    assert target.read_text() == "{}"


def test_the_plugin_and_the_marketplace_validate_with_claude_code() -> None:
    from tests.agents.agent_harness import CLAUDE, PLUGIN

    for path in (PLUGIN, PLUGIN.parents[1]):
        done = subprocess.run(
            [str(CLAUDE), "plugin", "validate", str(path)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and "Validation passed" in done.stdout, done.stdout + done.stderr
