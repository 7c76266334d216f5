"""States far above the 1 MB default: with snapshotMaxBytes at 64 MB, a 16 MB state goes through
the editors' face (LSP over stdio) and the agents' face (MCP, capped for the agent) end to end:
update, get, snapshot, a small change, rollback, and verify."""

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
        assert (await editor.request("context/update", {"set": {"doc": big, "n": 1}}))["version"] == 2
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
            assert result.structured_content["data"] == {"n": 1}  # what fits; the rest by name
        assert (await editor.request("context/get", {"keys": ["doc"]}))["data"]["doc"] == big
    finally:
        await editor.close()
    code, _out, err = run_cli(env, "verify")
    assert code == 0, err
