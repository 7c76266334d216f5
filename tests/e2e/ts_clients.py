"""The official TypeScript MCP clients from npm (tests/mcp_clients, ``make mcp-clients-npm``) driving
real ``groundhog mcp`` processes: the SDK 1.x client (what the MCP Inspector and many agents use;
it validates structuredContent against the tool's output schema, even on errors), the 2.x client in
either protocol era, and the MCP Inspector 0.15 CLI (what Node 20 installs), which converts
arguments by the parameter schema's ``type``. A plan of steps goes to tests/mcp_clients/driver.mjs,
which prints one JSON line per step."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.e2e.harness import Env

CLIENTS = Path(__file__).resolve().parents[1] / "mcp_clients"
DRIVER = CLIENTS / "driver.mjs"
INSPECTOR = CLIENTS / "node_modules" / ".bin" / "mcp-inspector"
SDKS = (("v1", "legacy"), ("v2", "legacy"), ("v2", "modern"))
TIMEOUT_S = 120


def node() -> str:
    found = shutil.which("node")
    if found is None or not (CLIENTS / "node_modules" / "@modelcontextprotocol").is_dir():
        raise AssertionError("node or tests/mcp_clients/node_modules is missing: run `make mcp-clients-npm`")
    return found


def server(env: Env, *args: str) -> dict[str, Any]:
    return {
        "command": sys.executable,
        "args": ["-m", "groundhog", "mcp", "--workspace", str(env.workspace), *args],
        "env": env.environ(),
        "cwd": str(env.root),
    }


def run_plan(env: Env, sdk: str, era: str, steps: list[dict[str, Any]], *args: str) -> list[dict[str, Any]]:
    """Run ``steps`` with one client against one server; each step's outcome, in order."""
    plan = env.root / f"plan-{sdk}-{era}.json"
    plan.write_text(json.dumps({"sdk": sdk, "era": era, "server": server(env, *args), "steps": steps}))
    done = subprocess.run(
        [node(), str(DRIVER), str(plan)],
        cwd=CLIENTS,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(outcomes) == len(steps), (done.stdout[-3000:], done.stderr[-3000:])
    return outcomes


class Interactive:
    """A driver run whose ``ready`` steps wait for the test (to act from another process)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), TIMEOUT_S)
        assert raw, "the client driver ended early"
        return dict(json.loads(raw))

    async def until_ready(self) -> list[dict[str, Any]]:
        """The outcomes of the steps before the next ``ready``."""
        seen = []
        while "ready" not in (outcome := await self.line()):
            seen.append(outcome)
        return seen

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")


@asynccontextmanager
async def interactive(
    env: Env, sdk: str, era: str, steps: list[dict[str, Any]], *args: str
) -> AsyncIterator[Interactive]:
    plan = env.root / f"plan-{sdk}-{era}-live.json"
    plan.write_text(json.dumps({"sdk": sdk, "era": era, "server": server(env, *args), "steps": steps}))
    process = await asyncio.create_subprocess_exec(
        node(), str(DRIVER), str(plan), cwd=CLIENTS, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        yield Interactive(process)
        assert await asyncio.wait_for(process.wait(), TIMEOUT_S) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def inspector(env: Env, tool: str, *arguments: str) -> dict[str, Any]:
    """One ``tools/call`` through the MCP Inspector 0.15 CLI (``--tool-arg key=value`` each)."""
    node()
    command = [
        str(INSPECTOR),
        "--cli",
        sys.executable,
        "-m",
        "groundhog",
        "mcp",
        "--workspace",
        str(env.workspace),
    ]
    command += ["--method", "tools/call", "--tool-name", tool]
    for argument in arguments:
        command += ["--tool-arg", argument]
    done = subprocess.run(
        command,
        cwd=env.root,
        env=env.environ(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    return dict(json.loads(done.stdout))


def texts(result: dict[str, Any]) -> list[str]:
    assert all(block["type"] == "text" for block in result["content"]), result
    return [block["text"] for block in result["content"]]


def read_error(outcome: dict[str, Any]) -> dict[str, Any]:
    """The error a client read from a failed call: from the text alone (what every client sees)."""
    assert outcome["ok"], outcome  # callTool returned (the SDK did not replace our answer)
    result = outcome["result"]
    assert result["isError"] is True and "structuredContent" not in result, result
    line, body = texts(result)
    error = json.loads(body)["error"]
    assert line == f"{error['kind']} ({error['code']}): {error['message']}", result
    return dict(error)


def read_result(outcome: dict[str, Any]) -> dict[str, Any]:
    """A successful call's result, checked to be the same in its text copy."""
    assert outcome["ok"], outcome
    result = outcome["result"]
    assert not result.get("isError"), result
    summary, copy = texts(result)
    assert summary and "\n" not in summary, summary
    assert json.loads(copy) == result["structuredContent"], copy[:300]
    return dict(result["structuredContent"])
