"""What the agent tests share: a hook run as the agent runs it (``groundhog hook`` with the JSON on
stdin), hook inputs built from the agents' documented schemas, a Claude Code transcript written the
way Claude Code writes it, and the real Claude Code CLI (npm, ``make agents-npm``) run headless
against the stand-in model API in a home of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.harness import Env

CLAUDE = Path(__file__).resolve().parent / "node_modules" / ".bin" / "claude"
PLUGIN = Path(__file__).resolve().parents[2] / "clients" / "claude-code"
VENV_BIN = str(Path(sys.executable).parent)
HOOK_TIMEOUT_S = 60


AGENT_ENV_PREFIXES = ("CLAUDE", "ANTHROPIC", "CODEX", "GEMINI", "CURSOR")


def clean_environ(env: Env, **extra: str) -> dict[str, str]:
    """The test's environment without the agents' own variables a developer's shell may carry."""
    environ = {k: v for k, v in env.environ().items() if not k.startswith(AGENT_ENV_PREFIXES)}
    return {**environ, **extra}


def run_hook(
    env: Env, agent: str, event: str, payload: Any, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    data = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return subprocess.run(
        [sys.executable, "-m", "groundhog", "hook", agent, event, *args],
        input=data if isinstance(data, str) else data.decode("latin-1"),
        env=clean_environ(env, **(extra_env or {})),
        cwd=env.root,
        capture_output=True,
        text=True,
        timeout=HOOK_TIMEOUT_S,
    )


def claude_input(
    env: Env, event: str, session: str = "sess-1", transcript: Path | None = None, **extra: Any
) -> dict[str, Any]:
    """A Claude Code hook input (code.claude.com/docs/en/hooks: the common fields plus the event's)."""
    return {
        "session_id": session,
        "transcript_path": str(transcript) if transcript else str(env.root / "missing.jsonl"),
        "cwd": str(env.workspace),
        "hook_event_name": event,
        **extra,
    }


def claude_transcript(path: Path, cwd: Path, session: str, turns: list[tuple[str, str, list[str]]]) -> Path:
    """Append turns (prompt, answer, files written) in Claude Code's JSONL shape."""
    with path.open("a") as out:
        for prompt, answer, files in turns:
            out.write(json.dumps(_line("user", {"role": "user", "content": prompt}, cwd, session)) + "\n")
            blocks: list[dict[str, Any]] = [
                {
                    "type": "tool_use",
                    "id": f"toolu_{i}",
                    "name": "Write",
                    "input": {"file_path": str(cwd / f), "content": "x"},
                }
                for i, f in enumerate(files)
            ]
            blocks.append({"type": "text", "text": answer})
            out.write(
                json.dumps(_line("assistant", {"role": "assistant", "content": blocks}, cwd, session)) + "\n"
            )
    return path


def _line(kind: str, message: dict[str, Any], cwd: Path, session: str) -> dict[str, Any]:
    return {
        "type": kind,
        "message": message,
        "cwd": str(cwd),
        "sessionId": session,
        "timestamp": "2026-12-05T10:00:00.000Z",
        "uuid": os.urandom(8).hex(),
    }


def context_data(env: Env, name: str = "default", workspace: Path | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "groundhog",
            "show",
            name,
            "--json",
            "--workspace",
            str(workspace or env.workspace),
        ],
        env=env.environ(),
        capture_output=True,
        text=True,
        timeout=HOOK_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def claude_env(env: Env, home: Path, api_url: str, **extra: str) -> dict[str, str]:
    """Claude Code's environment: its own home, the stand-in API, this venv's groundhog on PATH."""
    home.mkdir(parents=True, exist_ok=True)
    return clean_environ(
        env,
        HOME=str(home),
        PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
        ANTHROPIC_BASE_URL=api_url,
        ANTHROPIC_API_KEY="sk-test-standin",
        DISABLE_AUTOUPDATER="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        **extra,
    )


def run_claude(environ: dict[str, str], cwd: Path, *args: str) -> dict[str, Any]:
    if not CLAUDE.exists():
        raise AssertionError(f"{CLAUDE} is missing: run `make agents-npm` (npm ci in tests/agents)")
    done = subprocess.run(
        [str(CLAUDE), *args, "--output-format", "json"],
        env=environ,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run_claude_cli(environ: dict[str, str], cwd: Path, *args: str) -> str:
    """``claude`` for a management command (plugin, marketplace): its output."""
    done = subprocess.run(
        [str(CLAUDE), *args], env=environ, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


def request_text(request: dict[str, Any]) -> str:
    """Everything the model was given in one request (system prompt and messages), as text."""
    return json.dumps({"system": request.get("system"), "messages": request.get("messages")})
