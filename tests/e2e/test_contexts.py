"""Named contexts from an editor's point of view: status, list, info, create, delete, switch and
deactivate, with every documented error."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.harness import RFC3339_MS, Client, Env, assert_error


async def test_a_new_workspace_starts_in_default_at_version_1(client: Client, env: Env) -> None:
    status = await client.request("context/status", {})
    assert status["workspace"]["uri"] == env.workspace.as_uri()
    assert isinstance(status["workspace"]["id"], str) and status["workspace"]["id"]
    assert isinstance(status["session"]["id"], str) and status["session"]["id"]
    assert status["session"]["readOnly"] is False
    assert status["active"] == {"name": "default", "version": 1}
    assert status["store"]["encrypted"] is True
    assert isinstance(status["store"]["schemaVersion"], int)
    assert isinstance(status["store"]["path"], str)
    assert status["contexts"] == 1
    assert str(env.workspace) not in status["store"]["path"]  # stores are named by hash, not path

    listed = await client.request("context/list")
    assert [c["name"] for c in listed["contexts"]] == ["default"]
    entry = listed["contexts"][0]
    assert entry["version"] == 1 and entry["status"] == "active" and entry["sessions"] == 1
    assert re.match(RFC3339_MS, entry["lastModified"]), entry
    got = await client.request("context/get", {})
    assert got["context"] == "default" and got["version"] == 1 and got["data"] == {}
    assert got["metadata"] == {}
    assert got["editor"] == {"openDocuments": [], "activeUri": None, "selections": []}


async def test_info_tells_active_inactive_and_nonexistent_apart(client: Client, env: Env) -> None:
    info = await client.request("context/info", {"name": "default"})
    assert info["name"] == "default" and info["status"] == "active" and info["version"] == 1
    assert info["snapshots"] == 0 and re.match(RFC3339_MS, info["lastModified"])
    await client.request("context/create", {"name": "notes"})
    await client.request("context/snapshot", {"context": "notes"})
    info = await client.request("context/info", {"name": "notes"})
    assert (info["status"], info["version"], info["snapshots"]) == ("inactive", 1, 1)
    assert await client.request("context/info", {"name": "nowhere"}) == {
        "name": "nowhere",
        "status": "nonexistent",
    }
    for bad in ("", ".hidden", "/abs", "a//b", "a/", "a/../b", "a/./b", "x" * 129, "sp ace"):
        assert_error(await client.error("context/info", {"name": bad}), -32602, "InvalidParams", env=env)
    assert_error(await client.error("context/info", {}), -32602, "InvalidParams")


async def test_create_starts_a_named_context_at_version_1(client: Client, env: Env) -> None:
    me = (await client.request("context/status"))["session"]["id"]
    for name in ("feature/login-page", "a", "x" * 128, "v1.2_final-3"):
        created = await client.request("context/create", {"name": name})
        assert created["name"] == name and created["version"] == 1
        assert re.match(RFC3339_MS, created["lastModified"])
    event = await client.wait_for("context/didChange", lambda e: e["context"] == "feature/login-page")
    assert event == {
        "context": "feature/login-page",
        "version": 1,
        "kind": "create",
        "session": me,
        "changedKeys": [],
    }
    history = await client.request("context/history", {"context": "feature/login-page"})
    assert [(e["version"], e["kind"], e["session"]) for e in history["entries"]] == [(1, "create", me)]
    # creating does not switch unless asked
    assert (await client.request("context/status"))["active"]["name"] == "default"
    assert (await client.request("context/status"))["contexts"] == 5

    error = await client.error("context/create", {"name": "a"})
    assert_error(error, -32009, "AlreadyExists", env=env)
    assert "'a'" in error["message"]
    assert_error(await client.error("context/create", {"name": "default"}), -32009, "AlreadyExists")
    assert_error(await client.error("context/create", {"name": "x" * 129}), -32602, "InvalidParams")
    assert_error(await client.error("context/create", {}), -32602, "InvalidParams")


async def test_create_with_activate_and_metadata(client: Client) -> None:
    created = await client.request(
        "context/create", {"name": "task", "activate": True, "metadata": {"owner": "ana", "n": [1]}}
    )
    assert created["version"] == 1
    switched = await client.wait_for("context/didSwitch", lambda e: e["context"] == "task")
    assert switched == {"context": "task", "version": 1}
    status = await client.request("context/status")
    assert status["active"] == {"name": "task", "version": 1}
    got = await client.request("context/get")
    assert got["context"] == "task" and got["metadata"] == {"owner": "ana", "n": [1]}
    # null for an optional field means the same as leaving it out
    created = await client.request(
        "context/create", {"name": "plain", "activate": None, "metadata": None, "from": None}
    )
    assert created["version"] == 1
    assert (await client.request("context/status"))["active"]["name"] == "task"


async def test_create_from_copies_the_active_head_a_version_or_a_snapshot(client: Client, env: Env) -> None:
    await client.request("context/update", {"set": {"plan": "v2"}, "metadata": {"m": 1}})
    await client.request("context/update", {"set": {"plan": "v3", "extra": True}})
    snap = await client.request("context/snapshot", {"label": "before v4"})
    await client.request("context/update", {"set": {"plan": "v4"}})

    await client.request("context/create", {"name": "copy-head", "from": {}})
    got = await client.request("context/get", {"context": "copy-head"})
    assert got["version"] == 1 and got["data"] == {"plan": "v4", "extra": True}
    assert got["metadata"] == {"m": 1}

    await client.request("context/create", {"name": "copy-v2", "from": {"context": "default", "version": 2}})
    got = await client.request("context/get", {"context": "copy-v2"})
    assert (got["version"], got["data"]) == (1, {"plan": "v2"})

    await client.request("context/create", {"name": "copy-snap", "from": {"snapshotId": snap["id"]}})
    got = await client.request("context/get", {"context": "copy-snap"})
    assert (got["version"], got["data"]) == (1, {"plan": "v3", "extra": True})

    await client.request(
        "context/create",
        {"name": "copy-other", "from": {"context": "copy-v2"}, "metadata": {"note": "n"}},
    )
    got = await client.request("context/get", {"context": "copy-other"})
    assert got["data"] == {"plan": "v2"} and got["metadata"] == {"m": 1, "note": "n"}
    history = await client.request("context/history", {"context": "copy-other"})
    assert [e["kind"] for e in history["entries"]] == ["create"]

    both = {"name": "bad", "from": {"version": 1, "snapshotId": snap["id"]}}
    assert_error(await client.error("context/create", both), -32602, "InvalidParams", env=env)
    error = await client.error("context/create", {"name": "bad", "from": {"version": 99}})
    assert_error(error, -32003, "SnapshotNotFound", env=env)
    assert error["data"]["oldestVersion"] == 1 and error["data"]["headVersion"] == 4
    error = await client.error("context/create", {"name": "bad", "from": {"version": 0}})
    assert_error(error, -32003, "SnapshotNotFound")
    error = await client.error("context/create", {"name": "bad", "from": {"snapshotId": "nope"}})
    assert_error(error, -32003, "SnapshotNotFound")
    error = await client.error("context/create", {"name": "bad", "from": {"context": "missing"}})
    assert_error(error, -32002, "ContextNotFound", env=env)
    # a snapshot of another context is not found in this one
    error = await client.error(
        "context/create", {"name": "bad", "from": {"context": "copy-v2", "snapshotId": snap["id"]}}
    )
    assert_error(error, -32003, "SnapshotNotFound")
    for bad_from in ({"unknown": 1}, {"version": "2"}, [], "default", {"context": "../x"}):
        error = await client.error("context/create", {"name": "bad", "from": bad_from})
        assert_error(error, -32602, "InvalidParams")
    assert (await client.request("context/info", {"name": "bad"}))["status"] == "nonexistent"


async def test_create_from_nothing_active_is_invalid_state(client: Client) -> None:
    await client.request("context/deactivate")
    assert_error(await client.error("context/create", {"name": "x", "from": {}}), -32004, "InvalidState")
    created = await client.request("context/create", {"name": "x", "from": {"context": "default"}})
    assert created["version"] == 1


async def test_delete_removes_a_context_with_its_snapshots(client: Client, env: Env) -> None:
    await client.request("context/create", {"name": "scratch"})
    await client.request("context/update", {"context": "scratch", "set": {"a": 1}})
    await client.request("context/snapshot", {"context": "scratch"})
    assert await client.request("context/delete", {"name": "scratch"}) == {"deleted": True}
    assert (await client.request("context/info", {"name": "scratch"}))["status"] == "nonexistent"
    assert [c["name"] for c in (await client.request("context/list"))["contexts"]] == ["default"]
    error = await client.error("context/get", {"context": "scratch"})
    assert_error(error, -32002, "ContextNotFound", env=env)
    assert "scratch" in error["message"]

    # the same name starts again at 1, without the old snapshots
    created = await client.request("context/create", {"name": "scratch"})
    assert created["version"] == 1
    assert (await client.request("context/get", {"context": "scratch"}))["data"] == {}
    assert (await client.request("context/snapshots", {"context": "scratch"})) == {"snapshots": []}
    history = await client.request("context/history", {"context": "scratch"})
    assert [e["version"] for e in history["entries"]] == [1]

    assert_error(await client.error("context/delete", {"name": "default"}), -32004, "InvalidState")
    assert_error(await client.error("context/delete", {"name": "missing"}), -32002, "ContextNotFound")
    await client.request("context/switch", {"name": "scratch"})
    error = await client.error("context/delete", {"name": "scratch"})
    assert_error(error, -32004, "InvalidState", env=env)
    assert_error(await client.error("context/delete", {}), -32602, "InvalidParams")
    assert_error(await client.error("context/delete", {"name": "a//b"}), -32602, "InvalidParams")


async def test_switch_moves_the_session_and_says_so(client: Client, env: Env) -> None:
    await client.request("context/create", {"name": "other"})
    await client.request("context/update", {"context": "other", "set": {"k": "v", "class": 1}})
    switched = await client.request("context/switch", {"name": "other"})
    assert switched == {"name": "other", "version": 2, "data": {"k": "v", "class": 1}}
    assert await client.wait_for("context/didSwitch") == {"context": "other", "version": 2}
    assert (await client.request("context/status"))["active"] == {"name": "other", "version": 2}
    listed = {c["name"]: c for c in (await client.request("context/list"))["contexts"]}
    assert listed["other"]["status"] == "active" and listed["other"]["sessions"] == 1
    assert listed["default"]["status"] == "inactive" and listed["default"]["sessions"] == 0
    assert (await client.request("context/info", {"name": "default"}))["status"] == "inactive"

    error = await client.error("context/switch", {"name": "missing"})
    assert_error(error, -32004, "InvalidState", env=env)
    assert "missing" in error["message"]
    error = await client.error("context/switch", {"name": "missing", "create": False})
    assert_error(error, -32004, "InvalidState")
    assert (await client.request("context/status"))["active"]["name"] == "other"

    made = await client.request("context/switch", {"name": "missing", "create": True})
    assert made == {"name": "missing", "version": 1, "data": {}}
    await client.wait_for("context/didSwitch", lambda e: e["context"] == "missing")
    await client.wait_for("context/didChange", lambda e: e["context"] == "missing" and e["kind"] == "create")
    # switching to an existing context with create: true just switches
    again = await client.request("context/switch", {"name": "other", "create": True})
    assert again["version"] == 2
    assert_error(await client.error("context/switch", {"name": "x", "create": "yes"}), -32602)
    assert_error(await client.error("context/switch", {}), -32602, "InvalidParams")


async def test_deactivate_leaves_the_session_without_a_context(client: Client, env: Env) -> None:
    assert await client.request("context/deactivate", {}) == {"deactivated": "default"}
    status = await client.request("context/status")
    assert status["active"] is None
    listed = (await client.request("context/list"))["contexts"]
    assert listed[0]["status"] == "inactive" and listed[0]["sessions"] == 0
    for method, params in (
        ("context/get", {}),
        ("context/update", {"set": {"a": 1}}),
        ("context/snapshot", {}),
        ("context/snapshots", {}),
        ("context/history", {}),
        ("context/diff", {"fromVersion": 1}),
        ("context/rollback", {"toVersion": 1}),
    ):
        assert_error(await client.error(method, params), -32004, "InvalidState", env=env)
    # naming the context still works
    assert (await client.request("context/get", {"context": "default"}))["version"] == 1
    assert_error(await client.error("context/deactivate"), -32004, "InvalidState")
    assert_error(await client.error("context/deactivate", {"name": "default"}), -32602, "InvalidParams")
    await client.request("context/switch", {"name": "default"})
    assert (await client.request("context/status"))["active"] == {"name": "default", "version": 1}


@pytest.mark.one_profile
async def test_list_counts_the_live_sessions_of_every_process(
    open_client: Callable[..., Any], env: Env
) -> None:
    first = await open_client()
    second = await open_client()
    await second.request("context/switch", {"name": "shared", "create": True})
    await first.request("context/switch", {"name": "shared"})
    listed = {c["name"]: c for c in (await first.request("context/list"))["contexts"]}
    assert listed["shared"]["sessions"] == 2 and listed["default"]["sessions"] == 0
    await second.request("context/switch", {"name": "default"})
    listed = {c["name"]: c for c in (await first.request("context/list"))["contexts"]}
    assert listed["shared"]["sessions"] == 1 and listed["default"]["sessions"] == 1
    assert listed["shared"]["status"] == "active" and listed["default"]["status"] == "inactive"
    # info is from this session's point of view: active elsewhere is inactive here
    assert (await second.request("context/info", {"name": "shared"}))["status"] == "inactive"
    await second.close()
    listed = {c["name"]: c for c in (await first.request("context/list"))["contexts"]}
    assert listed["default"]["sessions"] == 0
