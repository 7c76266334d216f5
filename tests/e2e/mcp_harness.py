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


class WireAgent:
    """An agent that writes newline-delimited JSON-RPC by hand to a real ``groundhog mcp`` process
    (any bytes at all), and reads every line the server writes back, parsed strictly (orjson: what
    any client must be able to read) and indexed by id."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.replies: dict[Any, list[dict[str, Any]]] = {}  # id (as JSON text) -> replies
        self.notifications: list[dict[str, Any]] = []
        self.unreadable: list[bytes] = []
        self._next = 10**9
        self._reading = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, env: Env, *args: str, initialize: bool = True) -> WireAgent:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "groundhog",
            "mcp",
            "--workspace",
            str(env.workspace),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env.environ(),
            cwd=env.root,
            limit=1 << 26,
        )
        agent = cls(process)
        if initialize:
            params = {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "wire", "version": "1"},
            }
            answer = await agent.request("initialize", params)
            assert "result" in answer, answer
            agent.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return agent

    async def _read(self) -> None:
        import orjson

        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            try:
                orjson.loads(line)  # strict: what any client must be able to read
            except orjson.JSONDecodeError:
                self.unreadable.append(line)
                continue
            message = json.loads(line)  # exact: an id of 2**70 stays an integer
            if isinstance(message, dict) and "id" in message and "method" not in message:
                self.replies.setdefault(json.dumps(message["id"]), []).append(message)
            else:
                self.notifications.append(message)

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)

    def send(self, message: dict[str, Any]) -> None:
        self.write(json.dumps(message).encode() + b"\n")

    def new_id(self) -> int:
        self._next += 1
        return self._next

    async def reply(self, ident: Any, timeout: float = 30) -> dict[str, Any]:
        """The reply to ``ident`` (as sent), waiting for it."""
        key = json.dumps(ident)
        deadline = asyncio.get_running_loop().time() + timeout
        while key not in self.replies:
            if asyncio.get_running_loop().time() > deadline or self._reading.done():
                raise AssertionError(f"no reply to id {ident!r} within {timeout}s")
            await asyncio.sleep(0.005)
        return self.replies[key][0]

    async def request(self, method: str, params: Any = None, timeout: float = 30) -> dict[str, Any]:
        ident = self.new_id()
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return await self.reply(ident, timeout)

    async def tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        answer = await self.request("tools/call", {"name": name, "arguments": arguments})
        result = answer["result"]
        assert not result.get("isError"), result
        return dict(result["structuredContent"])

    async def exit_code(self, timeout: float = 30) -> int:
        code = await asyncio.wait_for(self.process.wait(), timeout)
        await self._reading
        return code

    async def close(self) -> None:
        if self.process.returncode is None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self._reading.cancel()
