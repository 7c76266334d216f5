"""A real agent for end-to-end tests: the MCP SDK's own client (``mcp.Client``) driving a real
``groundhog mcp`` process over stdio, in either protocol era, collecting every notification the
server sent (handshake era) for the change-event tests."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult, Implementation, ListRootsResult, Root

from tests.e2e.harness import SERVER_DIR, Env

MODERN = "2026-07-28"
LEGACY = "legacy"
ERAS = (LEGACY, MODERN)


@dataclass
class Agent:
    """One connected agent session and the notifications it received."""

    client: Client
    notifications: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def call(self, tool: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        return await self.client.call_tool(tool, arguments or {})

    async def ok(self, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """A tool call that must succeed: its structured result, which its text copy repeats."""
        result = await self.call(tool, arguments)
        assert not result.is_error, result.content
        assert isinstance(result.structured_content, dict), result
        summary, copy = result.content
        assert summary.type == "text" and copy.type == "text", result.content
        assert "\n" not in summary.text, summary.text
        assert json.loads(copy.text) == result.structured_content, copy.text[:200]
        return result.structured_content

    async def fail(self, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """A tool call that must fail: ``{kind, code, message, ...}`` read from the text alone (no
        structuredContent, checked for leaks)."""
        result = await self.call(tool, arguments)
        assert result.is_error and result.structured_content is None, result
        line, body = result.content
        assert line.type == "text" and body.type == "text", result.content
        error = json.loads(body.text)["error"]
        assert line.text == f"{error['kind']} ({error['code']}): {error['message']}", result
        for leak in ("Traceback", 'File "', SERVER_DIR, sys.prefix, "site-packages"):
            assert leak not in line.text + body.text, result
        return dict(error)

    async def wait_for(
        self, method: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10
    ) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not any(m == method and predicate(p) for m, p in self.notifications):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {method} within {timeout}s: {self.notifications}")
            await asyncio.sleep(0.01)


def server_params(
    env: Env, *args: str, workspace: Path | None = None, cwd: Path | None = None
) -> StdioServerParameters:
    chosen = [] if workspace is None else ["--workspace", str(workspace)]
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "groundhog", "mcp", *chosen, *args],
        env=env.environ(),
        cwd=str(cwd or env.root),
    )


@asynccontextmanager
async def open_agent(
    env: Env,
    *args: str,
    mode: str = LEGACY,
    name: str = "agent-tests",
    workspace: Path | bool | None = True,
    roots: list[str] | None = None,
    cwd: Path | None = None,
) -> AsyncIterator[Agent]:
    """An agent on ``env``'s workspace (``--workspace``), or with ``workspace=False`` one that
    lets the server find it (the client's ``roots``, else ``cwd``)."""
    where = env.workspace if workspace is True else (workspace or None)
    agent = Agent(client=None)  # type: ignore[arg-type]

    async def on_message(message: Any) -> None:
        method = getattr(message, "method", None)
        if isinstance(method, str):
            params = getattr(message, "params", None)
            dumped = params.model_dump(by_alias=True, mode="json") if params is not None else {}
            agent.notifications.append((method, dumped))

    async def list_roots(_context: Any) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=uri) for uri in roots or ()])  # type: ignore[arg-type]

    client = Client(
        server_params(env, *args, workspace=where, cwd=cwd),  # type: ignore[arg-type]
        mode=mode,
        client_info=Implementation(name=name, version="9.9"),
        message_handler=on_message,
        list_roots_callback=list_roots if roots is not None else None,
        read_timeout_seconds=30,
    )
    async with client:
        agent.client = client
        yield agent
