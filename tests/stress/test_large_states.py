"""States far above the 1 MB default: with snapshotMaxBytes at 64 MB, a 16 MB state and one at the
64 MB limit go through the editors' face (LSP over stdio) and the agents' face (MCP, capped for the
agent) end to end: update, get, snapshot, a small change, rollback, and verify."""

from __future__ import annotations

import pytest

from tests.e2e.harness import Env, run_cli, start_client
from tests.e2e.mcp_harness import open_agent

SIXTEEN_MB = 16 * 1024 * 1024


@pytest.mark.slow
async def test_a_sixteen_megabyte_state_works_through_both_faces(tmp_path: object) -> None:
    env = Env.make(tmp_path)  # type: ignore[arg-type]
    editor = await start_client(env, options={"snapshotMaxBytes": 64 * 1024 * 1024})
    try:
        big = "x" * SIXTEEN_MB
        assert (await editor.request("context/update", {"set": {"doc": big, "n": 1, "log": []}}))[
            "version"
        ] == 2
        got = await editor.request("context/get", {})
        assert got["data"]["doc"] == big
        snapshot = await editor.request("context/snapshot", {"label": "16 MB"})
        assert snapshot["sizeBytes"] > SIXTEEN_MB
        edited = big[:1000] + "EDIT" + big[1004:]
        await editor.request("context/update", {"set": {"doc": edited}})
        rolled = await editor.request("context/rollback", {"snapshotId": snapshot["id"]})
        assert rolled["changedKeys"] == ["doc"]
        async with open_agent(env) as agent:
            result = await agent.call("context_get")
            assert result.structured_content is not None
            assert result.structured_content["truncated"]["totalBytes"] > SIXTEEN_MB
            assert result.structured_content["data"] == {"log": [], "n": 1}  # what fits; the rest by name
            # the agent's own limit is its default 1 MB: a write that keeps the state at 16 MB is too large
            refused = await agent.fail("context_update", {"set": {"n": 2}})
            assert refused["kind"] == "TooLarge"
        async with open_agent(env, "--snapshot-max-bytes", str(64 * 1024 * 1024)) as agent:
            appended = await agent.ok(
                "context_update", {"patch": [{"op": "add", "path": "/log/-", "value": "x"}]}
            )
            assert appended["version"] == rolled["version"] + 1
            grown = await agent.ok("context_update", {"set": {"doc": big + "y" * 1024}})
            assert grown["version"] == rolled["version"] + 2
        got = await editor.request("context/get", {"keys": ["doc", "log", "n"]})
        assert got["data"] == {"doc": big + "y" * 1024, "log": ["x"], "n": 1}
    finally:
        await editor.close()
    code, _out, err = run_cli(env, "verify")
    assert code == 0, err


@pytest.mark.slow
async def test_a_state_at_the_sixty_four_megabyte_limit_works_and_a_bigger_one_is_refused(
    tmp_path: object,
) -> None:
    """snapshotMaxBytes at its maximum: a state just under 64 MiB, written in four updates (each
    message under the 64 MiB frame limit), read whole, snapshotted, changed, rolled back, verified;
    an update that would pass the limit answers TooLarge and changes nothing."""
    env = Env.make(tmp_path)  # type: ignore[arg-type]
    limit = 64 * 1024 * 1024
    part = "y" * (limit // 4 - 1024)
    editor = await start_client(env, options={"snapshotMaxBytes": limit})
    try:
        for index in range(4):
            await editor.request("context/update", {"set": {f"part{index}": part}})
        got = await editor.request("context/get", {})
        assert [len(got["data"][f"part{i}"]) for i in range(4)] == [len(part)] * 4
        snapshot = await editor.request("context/snapshot", {"label": "64 MB"})
        assert limit - 8192 < snapshot["sizeBytes"] <= limit
        too_big = await editor.error("context/update", {"set": {"more": "z" * 8192}})
        assert (too_big["code"], too_big["data"]["kind"]) == (-32008, "TooLarge")
        await editor.request("context/update", {"set": {"part0": "changed"}})
        rolled = await editor.request("context/rollback", {"snapshotId": snapshot["id"]})
        assert rolled["changedKeys"] == ["part0"]
        again = await editor.request("context/get", {"keys": ["part0"]})
        assert again["data"]["part0"] == part and again["version"] == rolled["version"]
        async with open_agent(env) as agent:
            result = await agent.call("context_get")
            assert result.structured_content is not None
            assert result.structured_content["truncated"]["totalBytes"] > limit - 8192
    finally:
        await editor.close()
    code, _out, err = run_cli(env, "verify")
    assert code == 0, err
