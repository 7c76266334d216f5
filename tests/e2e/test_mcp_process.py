"""The `groundhog mcp` process as agent hosts treat it: ended by a signal instead of a closed stdin,
or abandoned in the middle of a large write. Driven by hand-written newline-delimited JSON-RPC over
real pipes, so nothing in between can tidy up for it."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

import pytest

from groundhog import create_manager
from tests.e2e.harness import Env, run_cli

pytestmark = pytest.mark.one_profile
EXIT_TIMEOUT_S = 20


class RawAgent:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._next = 10**9  # far from the ids a test sends by hand

    @classmethod
    async def start(cls, env: Env) -> RawAgent:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "groundhog",
            "mcp",
            "--workspace",
            str(env.workspace),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env.environ(),
            cwd=env.root,
            limit=1 << 24,
        )
        agent = cls(process)
        await agent.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "raw-agent", "version": "1"},
            },
        )
        agent.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return agent

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next += 1
        self.send({"jsonrpc": "2.0", "id": self._next, "method": method, "params": params})
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), 30)
            assert line, "the server closed stdout"
            message = json.loads(line)
            if message.get("id") == self._next:
                assert "result" in message, message
                return dict(message["result"])

    async def tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.request("tools/call", {"name": name, "arguments": arguments})
        assert not result.get("isError"), result
        return dict(result["structuredContent"])

    async def exit_code(self) -> int:
        return await asyncio.wait_for(self.process.wait(), EXIT_TIMEOUT_S)


def live_clients(env: Env) -> list[str]:
    manager = create_manager(
        env.workspace, store_dir=env.store_dir, config_dir=env.config_dir, read_only=True
    )
    try:
        return [session.client for session in manager.live_sessions()]
    finally:
        manager.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
async def test_a_signal_ends_the_session_like_a_closed_stdin(env: Env, signum: int) -> None:
    agent = await RawAgent.start(env)
    await agent.tool("context_update", {"set": {"plan": "before the signal"}})
    assert live_clients(env) == ["raw-agent"]
    agent.process.send_signal(signum)
    assert await agent.exit_code() == 0
    assert live_clients(env) == []
    code, out, err = run_cli(env, "show", "default", "--json")
    assert code == 0 and json.loads(out)["data"] == {"plan": "before the signal"}, err


async def test_an_agent_gone_in_the_middle_of_a_large_write_leaves_no_half_written_state(env: Env) -> None:
    agent = await RawAgent.start(env)
    await agent.tool("context_status", {})
    value = "z" * 900_000
    agent.send(
        {
            "jsonrpc": "2.0",
            "id": 99,
            "method": "tools/call",
            "params": {"name": "context_update", "arguments": {"set": {"big": value, "small": 1}}},
        }
    )
    assert agent.process.stdin is not None
    agent.process.stdin.close()  # gone before any answer
    assert await agent.exit_code() == 0
    assert live_clients(env) == []
    code, _out, err = run_cli(env, "verify")
    assert code == 0, err
    code, out, err = run_cli(env, "show", "default", "--json")
    data = json.loads(out)["data"]
    assert data in ({}, {"big": value, "small": 1})  # all of it or none of it


async def test_a_seeded_storm_of_malformed_lines_never_stops_the_agent_server(env: Env) -> None:
    import random

    agent = await RawAgent.start(env)
    await agent.tool("context_update", {"set": {"keep": "me"}})
    rng = random.Random(20261130)
    values: list[Any] = [None, True, 1.5, -1, 2**70, "", [], {}, {"a": 1}, [1]]
    assert agent.process.stdin is not None and agent.process.stdout is not None
    for burst in range(10):
        for _ in range(200):
            kind = rng.randrange(5)
            if kind == 0:
                junk = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 40))).replace(b"\n", b"")
                agent.process.stdin.write(junk + b"\n")
                continue
            message: dict[str, Any] = {"jsonrpc": "2.0"}
            if kind == 1:
                message.update(
                    id=rng.choice([*values, rng.randrange(1000)]),
                    method=rng.choice(["tools/call", "resources/read", "x", None, 5]),
                    params=rng.choice([*values, {"name": "context_update", "arguments": rng.choice(values)}]),
                )
            elif kind == 2:
                message.update(id=rng.choice(values), result=rng.choice(values))
            elif kind == 3:
                message.update(method="notifications/cancelled", params={"requestId": rng.choice(values)})
            else:
                arguments = {"context": rng.choice(values)}
                message.update(
                    id=10**6 + rng.randrange(10**6),
                    method="tools/call",
                    params={"name": "context_get", "arguments": arguments},
                )
            agent.send(message)
        probe = await agent.tool("context_get", {})  # answered after the burst, data as it was
        assert probe["data"] == {"keep": "me"}, burst
    assert agent.process.returncode is None
    agent.process.stdin.close()
    assert await agent.exit_code() == 0
