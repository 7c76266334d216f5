"""Deleting a snapshot on every face of the server (issue 23): `context/deleteSnapshot` and the
`groundhog.deleteSnapshot` command over LSP, the `context_delete_snapshot` tool over MCP (the SDK's
own client), and `groundhog snapshot delete` for people; each answers `{deleted: true, id}`, the
other snapshots still restore exactly, recovery points and unknown ids are refused with their
errors, a read-only session is refused, and every deletion is in the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.harness import Client, Env, assert_error, cli_json, run_cli
from tests.e2e.mcp_harness import open_agent

pytestmark = pytest.mark.one_profile  # the editor's capabilities change nothing here


async def _three_snapshots(client: Client) -> list[dict[str, Any]]:
    """Snapshots of {n: 1}, {n: 2}, {n: 3}: each after the first a delta of the one before."""
    taken = []
    for n in (1, 2, 3):
        await client.request("context/update", {"set": {"n": n, f"only{n}": "x" * 600}})
        taken.append(await client.request("context/snapshot", {"label": f"s{n}"}))
    return taken


async def _restores(client: Client, snapshot_id: str) -> dict[str, Any]:
    """The data a snapshot restores, read through a copy (the head stays as it is)."""
    name = f"copy-{snapshot_id[:8]}"
    await client.request("context/create", {"name": name, "from": {"snapshotId": snapshot_id}})
    data: dict[str, Any] = (await client.request("context/get", {"context": name}))["data"]
    await client.request("context/delete", {"name": name})
    return data


async def test_an_editor_deletes_a_snapshot_and_the_others_restore_exactly(client: Client, env: Env) -> None:
    s1, s2, s3 = await _three_snapshots(client)
    before = {s["id"]: await _restores(client, s["id"]) for s in (s1, s3)}
    assert await client.request("context/deleteSnapshot", {"snapshotId": s2["id"]}) == {
        "deleted": True,
        "id": s2["id"],
    }
    listed = (await client.request("context/snapshots"))["snapshots"]
    assert [s["id"] for s in listed] == [s3["id"], s1["id"]]
    for snapshot_id, data in before.items():
        assert await _restores(client, snapshot_id) == data
    # the command does what the request does
    assert await client.command("deleteSnapshot", {"context": "default", "snapshotId": s1["id"]}) == {
        "deleted": True,
        "id": s1["id"],
    }
    assert await _restores(client, s3["id"]) == before[s3["id"]]
    # refused: gone already, unknown, another context's, a recovery point
    assert_error(
        await client.error("context/deleteSnapshot", {"snapshotId": s1["id"]}), -32003, "SnapshotNotFound"
    )
    assert_error(
        await client.error("context/deleteSnapshot", {"snapshotId": "nope"}), -32003, "SnapshotNotFound"
    )
    await client.request("context/create", {"name": "other"})
    error = await client.error("context/deleteSnapshot", {"context": "other", "snapshotId": s3["id"]})
    assert_error(error, -32003, "SnapshotNotFound", env=env)
    point = (await client.request("context/rollback", {"toVersion": 2}))["recoveryPoint"]
    assert point is not None
    error = await client.error("context/deleteSnapshot", {"snapshotId": point})
    assert_error(error, -32004, "InvalidState", env=env)
    assert "recovery point" in error["message"]
    assert {s["id"] for s in (await client.request("context/snapshots"))["snapshots"]} == {s3["id"], point}
    audited = [r["details"] for r in cli_json(env, "audit")["records"] if r["event"] == "delete-snapshot"]
    assert sorted(d["snapshot"] for d in audited) == sorted([s1["id"], s2["id"]])
    assert cli_json(env, "verify")["ok"] is True


async def test_a_read_only_session_cannot_delete_a_snapshot(
    open_client: Callable[..., Any], env: Env
) -> None:
    writer = await open_client()
    snapshot = await writer.request("context/snapshot", {"label": "keep"})
    reader = await open_client(options={"readOnly": True})
    error = await reader.error("context/deleteSnapshot", {"snapshotId": snapshot["id"]})
    assert_error(error, -32006, "AccessDenied", env=env)
    assert [s["id"] for s in (await writer.request("context/snapshots"))["snapshots"]] == [snapshot["id"]]


async def test_an_agent_deletes_a_snapshot_with_the_tool(client: Client, env: Env) -> None:
    s1, s2, _ = await _three_snapshots(client)
    point = (await client.request("context/rollback", {"toVersion": 2}))["recoveryPoint"]
    async with open_agent(env) as agent:
        assert await agent.ok("context_delete_snapshot", {"snapshotId": s2["id"]}) == {
            "deleted": True,
            "id": s2["id"],
        }
        error = await agent.fail("context_delete_snapshot", {"snapshotId": point})
        assert (error["kind"], error["code"]) == ("InvalidState", -32004)
        error = await agent.fail("context_delete_snapshot", {"snapshotId": s2["id"]})
        assert (error["kind"], error["code"]) == ("SnapshotNotFound", -32003)
        error = await agent.fail("context_delete_snapshot", {})
        assert (error["kind"], error["field"]) == ("InvalidParams", "snapshotId")
        listed = await agent.ok("context_snapshots")
        assert s2["id"] not in {s["id"] for s in listed["snapshots"]}
    async with open_agent(env, "--read-only") as agent:
        error = await agent.fail("context_delete_snapshot", {"snapshotId": s1["id"]})
        assert (error["kind"], error["code"]) == ("AccessDenied", -32006)
    assert await _restores(client, s1["id"]) == {"n": 1, "only1": "x" * 600}


async def test_a_person_lists_and_deletes_a_snapshot_from_the_command_line(client: Client, env: Env) -> None:
    s1, s2, s3 = await _three_snapshots(client)
    await client.request("context/create", {"name": "other"})
    elsewhere = await client.request("context/snapshot", {"context": "other", "label": "o"})
    listed = cli_json(env, "snapshots", "default")
    assert [s["id"] for s in listed["snapshots"]] == [s3["id"], s2["id"], s1["id"]]
    assert {s["kind"] for s in listed["snapshots"]} == {"snapshot"}
    code, out, _ = run_cli(env, "snapshots")
    assert code == 0 and "s2" in out
    # found by its id alone, in whichever context holds it
    assert cli_json(env, "snapshot", "delete", elsewhere["id"]) == {
        "deleted": True,
        "id": elsewhere["id"],
        "context": "other",
    }
    code, out, _ = run_cli(env, "snapshot", "delete", s2["id"], "--context", "default")
    assert code == 0 and s2["id"] in out
    code, _, err = run_cli(env, "snapshot", "delete", s2["id"])
    assert code == 1 and "has the snapshot" in err and "Traceback" not in err
    assert [s["id"] for s in (await client.request("context/snapshots"))["snapshots"]] == [s3["id"], s1["id"]]
    assert await _restores(client, s3["id"]) == {
        "n": 3,
        "only1": "x" * 600,
        "only2": "x" * 600,
        "only3": "x" * 600,
    }
    records = cli_json(env, "audit")["records"]
    mine = [r for r in records if r["event"] == "delete-snapshot" and r["session"] == "cli"]
    assert len(mine) == 2
