"""The `groundhog mcp` process as agent hosts treat it: ended by a signal instead of a closed stdin,
or abandoned in the middle of a large write. Driven by hand-written newline-delimited JSON-RPC over
real pipes, so nothing in between can tidy up for it."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest

from groundhog import create_manager
from tests.e2e.harness import Env, run_cli
from tests.e2e.mcp_harness import WireAgent

pytestmark = pytest.mark.one_profile
EXIT_TIMEOUT_S = 20


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
    agent = await WireAgent.start(env)
    await agent.tool("context_update", {"set": {"plan": "before the signal"}})
    assert live_clients(env) == ["wire"]
    agent.process.send_signal(signum)
    assert await agent.exit_code() == 0
    assert live_clients(env) == []
    code, out, err = run_cli(env, "show", "default", "--json")
    assert code == 0 and json.loads(out)["data"] == {"plan": "before the signal"}, err


async def test_an_agent_gone_in_the_middle_of_a_large_write_leaves_no_half_written_state(env: Env) -> None:
    agent = await WireAgent.start(env)
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

    agent = await WireAgent.start(env)
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


async def test_the_first_signal_ends_the_server_every_time(env: Env) -> None:
    """Signals at different moments (during start-up, idle, writes in flight, a subscription
    open): each run ends on its first signal, and every write it acknowledged is stored."""
    signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    acknowledged = -1
    for run in range(12):
        moment = run % 4
        if moment == 0:  # during start-up: nothing is open yet, the process just ends
            agent = await WireAgent.start(env, initialize=False)
            agent.process.send_signal(signals[run % 3])
            await agent.exit_code(timeout=60)
            continue
        agent = await WireAgent.start(env)
        if moment == 3:
            await agent.request("resources/subscribe", {"uri": "groundhog://contexts"})
        ids = []
        for _ in range(40 if moment > 1 else 1):
            acknowledged_next = acknowledged + 1 + len(ids)
            ident = agent.new_id()
            ids.append((ident, acknowledged_next))
            agent.send(
                {
                    "jsonrpc": "2.0",
                    "id": ident,
                    "method": "tools/call",
                    "params": {"name": "context_update", "arguments": {"set": {"n": acknowledged_next}}},
                }
            )
        await agent.reply(ids[0][0])
        agent.process.send_signal(signals[run % 3])
        assert await agent.exit_code(timeout=60) == 0, run
        answered = [n for ident, n in ids if json.dumps(ident) in agent.replies]
        assert answered, run  # what it had received before the signal was answered
        acknowledged = max(answered)
        assert live_clients(env) == [], run
        code, out, err = run_cli(env, "show", "default", "--json")
        assert code == 0 and json.loads(out)["data"]["n"] >= acknowledged, (run, out, err)


async def test_a_cancelled_write_either_never_happens_or_is_answered(env: Env) -> None:
    import random

    rng = random.Random(7)
    agent = await WireAgent.start(env)
    await agent.tool("context_status", {})
    sent: dict[str, int] = {}
    pending_cancels: list[int] = []
    for i in range(300):
        ident = agent.new_id()
        sent[f"k{i:03}"] = ident
        arguments = {"set": {f"k{i:03}": i}}
        agent.send(
            {
                "jsonrpc": "2.0",
                "id": ident,
                "method": "tools/call",
                "params": {"name": "context_update", "arguments": arguments},
            }
        )
        if rng.random() < 0.8:
            pending_cancels.append(ident)
        while pending_cancels and rng.random() < 0.6:  # some at once, some a few requests later
            target = pending_cancels.pop(0)
            agent.send(
                {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": target}}
            )
    await agent.tool("context_get", {})
    data = (await agent.tool("context_get", {}))["data"]  # the worker is in order: all are done
    replies = {
        key: agent.replies[json.dumps(ident)][0]
        for key, ident in sent.items()
        if json.dumps(ident) in agent.replies
    }
    done = {key for key, reply in replies.items() if not reply["result"]["isError"]}
    refused = {key for key, reply in replies.items() if reply["result"]["isError"]}
    for key in refused:  # a call cancelled before it ran may still be told so
        assert replies[key]["result"]["content"][0]["text"].startswith("RequestCancelled (-32800)"), replies[
            key
        ]
    assert done == set(data), (sorted(set(data) - done)[:5], sorted(done - set(data))[:5])
    assert done  # every write it made was answered; none it did not make was answered as made
    await agent.close()
