"""What an assistant stores: get and update with set, remove, patch and metadata, optimistic
concurrency on baseVersion, the nothing-changes rule, keys that are not identifiers, size limits and
read-only sessions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lsprotocol import types

from tests.e2e.harness import Client, Env, assert_error, compact_size

pytestmark = pytest.mark.postgresql_too  # every request, on the shared store too

ODD_KEYS = {
    "/src/a.py": {"class": "Foo", "from": "bar", "type_name": "T"},
    "class": 1,
    "from": [1, 2],
    "type_name": "kept",
    "def": None,
    "_0": "not a renamed key",
    "with space": True,
    "ünïcödé ✓": "ok",
    "": "empty key",
    "a~b/c": 1.5,
    "message": {"jsonrpc": "2.0", "method": "x", "id": 1},
    "response": {"jsonrpc": "2.0", "id": 7, "result": {"jsonrpc": "2.0", "method": "y", "params": {}}},
    "error": {"jsonrpc": "2.0", "id": 3, "error": {"code": -32600, "message": "m"}},
    "deep": {"a": [{"b": [{"c": {"jsonrpc": "2.0", "method": "initialize", "id": 0}}]}]},
}


async def test_keys_that_are_paths_or_keywords_round_trip_unchanged(client: Client) -> None:
    result = await client.request("context/update", {"set": ODD_KEYS})
    assert result == {"context": "default", "version": 2, "merged": False}
    got = await client.request("context/get")
    assert got["data"] == ODD_KEYS
    assert (await client.request("context/get", {"version": 2}))["data"] == ODD_KEYS
    history = await client.request("context/history")
    assert history["entries"][0]["changedKeys"] == sorted(ODD_KEYS)
    partial = await client.request("context/get", {"keys": ["/src/a.py", "message", "absent"]})
    assert partial["data"] == {"/src/a.py": ODD_KEYS["/src/a.py"], "message": ODD_KEYS["message"]}
    assert (await client.request("context/get", {"keys": []}))["data"] == {}
    diff = await client.request("context/diff", {"fromVersion": 1})
    assert {op["path"] for op in diff["patch"]} == {
        "/" + k.replace("~", "~0").replace("/", "~1") for k in ODD_KEYS
    }
    # the same data as metadata, a snapshot label and a snapshot round trip too
    await client.request(
        "context/update", {"metadata": {"class": {"jsonrpc": "2.0", "method": "m", "id": 2}}}
    )
    snap = await client.request("context/snapshot", {"label": "from/class", "metadata": ODD_KEYS})
    assert snap["label"] == "from/class"
    got = await client.request("context/get")
    assert got["metadata"] == {"class": {"jsonrpc": "2.0", "method": "m", "id": 2}}
    await client.request("context/update", {"remove": ["message", "/src/a.py"]})
    rolled = await client.request("context/rollback", {"snapshotId": snap["id"]})
    assert rolled["changedKeys"] == ["/src/a.py", "message"]
    assert (await client.request("context/get"))["data"] == ODD_KEYS


async def test_set_remove_and_metadata_make_versions(client: Client) -> None:
    me = (await client.request("context/status"))["session"]["id"]
    await client.request("context/update", {"set": {"task": "login", "plan": ["a", "b"], "n": 1}})
    result = await client.request("context/update", {"set": {"n": 2}, "remove": ["plan", "never-there"]})
    assert result == {"context": "default", "version": 3, "merged": False}
    assert (await client.request("context/get"))["data"] == {"task": "login", "n": 2}
    # metadata is shallow-merged and versioned: a metadata-only change has no changed keys
    result = await client.request("context/update", {"metadata": {"owner": "ana", "tags": ["x"]}})
    assert result["version"] == 4
    result = await client.request("context/update", {"metadata": {"tags": ["y"]}})
    assert result["version"] == 5
    got = await client.request("context/get")
    assert got["metadata"] == {"owner": "ana", "tags": ["y"]}
    assert (await client.request("context/get", {"version": 4}))["metadata"] == {
        "owner": "ana",
        "tags": ["x"],
    }
    assert (await client.request("context/get", {"version": 2}))["data"] == {
        "task": "login",
        "plan": ["a", "b"],
        "n": 1,
    }
    entries = (await client.request("context/history"))["entries"]
    assert [(e["version"], e["kind"], e["changedKeys"]) for e in entries] == [
        (5, "update", []),
        (4, "update", []),
        (3, "update", ["n", "plan"]),
        (2, "update", ["n", "plan", "task"]),
        (1, "create", []),
    ]
    assert all(e["session"] == me for e in entries)
    event = await client.wait_for("context/didChange", lambda e: e["version"] == 3)
    assert event == {
        "context": "default",
        "version": 3,
        "kind": "update",
        "session": me,
        "changedKeys": ["n", "plan"],
    }
    # an update may name a context other than the active one
    await client.request("context/create", {"name": "side"})
    result = await client.request("context/update", {"context": "side", "set": {"x": 1}})
    assert result == {"context": "side", "version": 2, "merged": False}
    assert (await client.request("context/get"))["version"] == 5
    assert_error(
        await client.error("context/update", {"context": "nope", "set": {}}), -32002, "ContextNotFound"
    )


async def test_an_update_that_changes_nothing_makes_no_version(client: Client) -> None:
    await client.request(
        "context/update", {"set": {"a": 1, "f": 1.0, "o": {"x": [1, 2]}}, "metadata": {"m": 1}}
    )
    for params in (
        {},
        {"set": {}},
        {"set": {"a": 1}},
        {"set": {"f": 1}},  # 1 and 1.0 are the same JSON number
        {"set": {"o": {"x": [1, 2]}}},
        {"remove": ["not-there"]},
        {"remove": []},
        {"patch": []},
        {"patch": [{"op": "test", "path": "/a", "value": 1}]},
        {"patch": [{"op": "replace", "path": "/a", "value": 1}]},
        {"metadata": {}},
        {"metadata": {"m": 1}},
        {"baseVersion": 1, "remove": ["zzz"]},
        {"baseVersion": 2, "set": {"a": 1}, "onConflict": "fail"},
    ):
        result = await client.request("context/update", params)
        assert result["version"] == 2, params
    rolled = await client.request("context/rollback", {"toVersion": 2})
    assert rolled["version"] == 2 and rolled["changedKeys"] == [] and rolled["recoveryPoint"] is None
    assert (await client.request("context/snapshots"))["snapshots"] == []
    await client.request("context/update", {"set": {"a": 2}})
    await client.wait_for("context/didChange", lambda e: e["version"] == 3)
    versions = [e["version"] for e in client.notifications["context/didChange"] if e["context"] == "default"]
    assert versions == [2, 3]
    assert [e["version"] for e in (await client.request("context/history"))["entries"]] == [3, 2, 1]


async def test_json_patch_applies_all_or_nothing(client: Client, env: Env) -> None:
    await client.request("context/update", {"set": {"list": [1, 2], "obj": {"a": 1}, "gone": 0, "/k": 1}})
    ops = [
        {"op": "add", "path": "/list/-", "value": 3},
        {"op": "replace", "path": "/obj/a", "value": 2},
        {"op": "remove", "path": "/gone"},
        {"op": "copy", "from": "/obj", "path": "/copied"},
        {"op": "move", "from": "/~1k", "path": "/moved"},
        {"op": "test", "path": "/list/0", "value": 1},
    ]
    result = await client.request("context/update", {"patch": ops})
    assert result["version"] == 3
    got = await client.request("context/get")
    assert got["data"] == {"list": [1, 2, 3], "obj": {"a": 2}, "copied": {"a": 2}, "moved": 1}
    entry = (await client.request("context/history", {"limit": 1}))["entries"][0]
    assert entry["changedKeys"] == ["/k", "copied", "gone", "list", "moved", "obj"]

    # a failing test op: VersionConflict naming the key, and nothing applied
    failing = [{"op": "add", "path": "/new", "value": 1}, {"op": "test", "path": "/obj/a", "value": 99}]
    error = await client.error("context/update", {"patch": failing})
    assert_error(error, -32001, "VersionConflict", env=env)
    assert error["data"]["conflictingKeys"] == ["obj"] and error["data"]["currentVersion"] == 3
    # malformed ops: InvalidParams, and nothing applied
    for bad in (
        [{"op": "add", "path": "/new", "value": 1}, {"op": "remove", "path": "/missing"}],
        [{"op": "jump", "path": "/a"}],
        [{"op": "add", "path": "no-slash", "value": 1}],
        [{"op": "add", "path": "/a"}],
        [{"op": "move", "path": "/a"}],
        [{"op": "add", "path": "/list/9", "value": 1}],
        [{"op": "add", "path": "/list/01", "value": 1}],
        [{"op": "replace", "path": "", "value": [1]}],
        [{"op": "add", "path": "/a~2b", "value": 1}],
        ["op"],
        {"op": "add"},
        "patch",
    ):
        error = await client.error("context/update", {"patch": bad})
        assert_error(error, -32602, "InvalidParams", env=env)
    assert (await client.request("context/get"))["version"] == 3
    assert (await client.request("context/get"))["data"] == got["data"]
    # path "" replaces the whole document
    result = await client.request(
        "context/update", {"patch": [{"op": "replace", "path": "", "value": {"z": 0}}]}
    )
    assert result["version"] == 4
    assert (await client.request("context/get"))["data"] == {"z": 0}


async def test_set_with_patch_or_set_and_remove_of_one_key_is_invalid(client: Client, env: Env) -> None:
    for params in (
        {"set": {"a": 1}, "patch": []},
        {"remove": ["a"], "patch": [{"op": "add", "path": "/a", "value": 1}]},
        {"set": {"a": 1}, "remove": ["a"]},
        {"set": {"class": 1, "b": 2}, "remove": ["class"]},
        {"set": []},
        {"set": "a"},
        {"remove": "a"},
        {"remove": [1]},
        {"metadata": []},
        {"baseVersion": "1", "set": {}},
        {"baseVersion": 1.5, "set": {}},
        {"baseVersion": True, "set": {}},
        {"onConflict": "rebase", "set": {}},
        {"context": 1, "set": {}},
        {"context": "..", "set": {}},
        {"sett": {"a": 1}},
    ):
        error = await client.error("context/update", params)
        assert_error(error, -32602, "InvalidParams", env=env)
    assert (await client.request("context/get"))["version"] == 1


async def test_a_stale_base_version_merges_or_conflicts(client: Client, env: Env) -> None:
    await client.request("context/update", {"set": {"a": 1, "b": 1, "c": 1}})  # v2
    await client.request("context/update", {"set": {"a": 2}})  # v3: a changed since 2
    # merge (the default): keys untouched since the base merge
    result = await client.request("context/update", {"baseVersion": 2, "set": {"b": 2}})
    assert result == {"context": "default", "version": 4, "merged": True}
    entry = (await client.request("context/history", {"limit": 1}))["entries"][0]
    assert (entry["kind"], entry["changedKeys"]) == ("merge", ["b"])
    await client.wait_for("context/didChange", lambda e: e["version"] == 4 and e["kind"] == "merge")
    # a key changed since the base: VersionConflict with details
    error = await client.error("context/update", {"baseVersion": 2, "set": {"a": 9, "c": 9}})
    assert_error(error, -32001, "VersionConflict", env=env)
    assert error["data"]["currentVersion"] == 4 and error["data"]["conflictingKeys"] == ["a"]
    error = await client.error("context/update", {"baseVersion": 3, "remove": ["b"], "onConflict": "merge"})
    assert error["data"]["conflictingKeys"] == ["b"]
    # fail: always a conflict on a stale base, with the overlapping keys (possibly none)
    error = await client.error("context/update", {"baseVersion": 3, "set": {"c": 3}, "onConflict": "fail"})
    assert_error(error, -32001, "VersionConflict")
    assert error["data"] == {"kind": "VersionConflict", "currentVersion": 4, "conflictingKeys": []}
    error = await client.error("context/update", {"baseVersion": 2, "set": {"a": 3}, "onConflict": "fail"})
    assert error["data"]["conflictingKeys"] == ["a"]
    # overwrite: applied to the head, merged false
    result = await client.request(
        "context/update", {"baseVersion": 2, "set": {"a": 5}, "onConflict": "overwrite"}
    )
    assert result == {"context": "default", "version": 5, "merged": False}
    # a base above the head is a conflict
    error = await client.error("context/update", {"baseVersion": 6, "set": {"a": 6}})
    assert_error(error, -32001, "VersionConflict")
    assert error["data"]["currentVersion"] == 5
    error = await client.error(
        "context/update", {"baseVersion": 6, "set": {"a": 6}, "onConflict": "overwrite"}
    )
    assert_error(error, -32001, "VersionConflict")
    # patches touch the top-level key of each path
    patch = [{"op": "replace", "path": "/a", "value": 0}]
    error = await client.error("context/update", {"baseVersion": 2, "patch": patch})
    assert error["data"]["conflictingKeys"] == ["a"]
    patch = [{"op": "replace", "path": "/c", "value": 0}]
    assert (await client.request("context/update", {"baseVersion": 2, "patch": patch}))["merged"] is True
    error = await client.error(
        "context/update", {"baseVersion": 2, "patch": [{"op": "replace", "path": "", "value": {}}]}
    )
    assert sorted(error["data"]["conflictingKeys"]) == ["a", "b", "c"]
    # the head as base: no merge needed
    head = (await client.request("context/get"))["version"]
    assert (await client.request("context/update", {"baseVersion": head, "set": {"d": 1}}))["merged"] is False
    assert (await client.request("context/get"))["data"] == {"a": 5, "b": 2, "c": 0, "d": 1}


@pytest.mark.one_profile
async def test_a_base_older_than_the_kept_history_conflicts_on_the_touched_keys(
    open_client: Callable[..., Any],
) -> None:
    client = await open_client(options={"historyLimit": 3})
    for n in range(2, 8):
        await client.request("context/update", {"set": {"n": n}})
    history = await client.request("context/history")
    assert history["oldestVersion"] == 5
    assert [e["version"] for e in history["entries"]] == [7, 6, 5]
    error = await client.error("context/update", {"baseVersion": 1, "set": {"x": 1, "y": 2}})
    assert_error(error, -32001, "VersionConflict")
    assert error["data"]["currentVersion"] == 7
    assert sorted(error["data"]["conflictingKeys"]) == ["x", "y"]
    result = await client.request(
        "context/update", {"baseVersion": 1, "set": {"x": 1}, "onConflict": "overwrite"}
    )
    assert result["version"] == 8
    for method, params in (
        ("context/get", {"version": 5}),
        ("context/diff", {"fromVersion": 5}),
        ("context/rollback", {"toVersion": 5}),
        ("context/create", {"name": "old", "from": {"version": 5}}),
    ):
        error = await client.error(method, params)
        assert_error(error, -32003, "SnapshotNotFound")
        assert (error["data"]["oldestVersion"], error["data"]["headVersion"]) == (6, 8), method
    assert (await client.request("context/get", {"version": 6}))["data"] == {"n": 6}


async def test_get_reads_old_versions_and_chosen_keys(client: Client, env: Env) -> None:
    for n in range(2, 6):
        await client.request("context/update", {"set": {f"k{n}": n, "n": n}})
    got = await client.request("context/get", {"version": 3, "keys": ["k2", "n", "k5"]})
    assert (got["context"], got["version"], got["data"]) == ("default", 3, {"k2": 2, "n": 3})
    for version in (0, 6, -1, 10**6):
        error = await client.error("context/get", {"version": version})
        assert_error(error, -32003, "SnapshotNotFound", env=env)
        assert (error["data"]["oldestVersion"], error["data"]["headVersion"]) == (1, 5)
    for params in ({"version": "3"}, {"keys": "n"}, {"keys": [1]}, {"version": 2**70}, {"context": ""}):
        assert_error(await client.error("context/get", params), -32602, "InvalidParams")
    assert (await client.request("context/get", {"version": None, "keys": None}))["version"] == 5


@pytest.mark.one_profile
async def test_a_state_over_snapshot_max_bytes_is_too_large(
    open_client: Callable[..., Any], env: Env
) -> None:
    client = await open_client(options={"snapshotMaxBytes": 200})
    fits = {"ü": "x" * 150}
    await client.request("context/update", {"set": fits})
    error = await client.error("context/update", {"set": {"more": "é" * 40}})
    assert_error(error, -32008, "TooLarge", env=env)
    expected = {**fits, "more": "é" * 40}
    assert error["data"]["limit"] == 200
    assert error["data"]["size"] == compact_size(expected)
    error = await client.error("context/update", {"patch": [{"op": "add", "path": "/p", "value": "y" * 300}]})
    assert_error(error, -32008, "TooLarge")
    assert error["data"]["size"] == compact_size({**fits, "p": "y" * 300})
    assert (await client.request("context/get"))["data"] == fits
    assert (await client.request("context/get"))["version"] == 2


async def test_a_read_only_session_reads_but_never_writes(open_client: Callable[..., Any], env: Env) -> None:
    writer = await open_client()
    await writer.request("context/update", {"set": {"a": 1}})
    snap = await writer.request("context/snapshot", {"label": "s"})
    await writer.request("context/create", {"name": "other"})
    await writer.close()

    reader = await open_client(options={"readOnly": True})
    status = await reader.request("context/status")
    assert status["session"]["readOnly"] is True
    assert status["active"] == {"name": "default", "version": 2}
    assert (await reader.request("context/get"))["data"] == {"a": 1}
    for method, params in (
        ("context/update", {"set": {"b": 1}}),
        ("context/update", {"metadata": {"m": 1}}),
        ("context/create", {"name": "new"}),
        ("context/delete", {"name": "other"}),
        ("context/snapshot", {}),
        ("context/rollback", {"toVersion": 1}),
        ("context/rollback", {"snapshotId": snap["id"]}),
        ("context/switch", {"name": "fresh", "create": True}),
    ):
        error = await reader.error(method, params)
        assert_error(error, -32006, "AccessDenied", env=env)
    dry = await reader.request("context/rollback", {"toVersion": 1, "dryRun": True})
    assert dry["version"] == 2 and dry["changedKeys"] == ["a"] and dry["recoveryPoint"] is None
    assert (await reader.request("context/switch", {"name": "other"}))["version"] == 1
    assert (await reader.request("context/deactivate")) == {"deactivated": "other"}
    await reader.request("context/history", {"context": "default"})
    await reader.request("context/snapshots", {"context": "default"})
    await reader.request("context/diff", {"context": "default", "fromVersion": 1})
    await reader.request("context/list")
    # editor state is kept live but never persisted
    await reader.request("context/switch", {"name": "default"})
    uri = (env.workspace / "r.py").as_uri()
    reader.lsp.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, "x"))
    )
    reader.lsp.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
    reader.notify("context/didChangeEditor", {"activeUri": uri})
    assert (await reader.request("context/editor"))["activeUri"] == uri
    await reader.close()

    # nothing the read-only session did was persisted: the last switch is still the writer's
    again = await open_client()
    assert (await again.request("context/status"))["active"]["name"] == "default"
    assert (await again.request("context/get"))["version"] == 2
    assert (await again.request("context/info", {"name": "fresh"}))["status"] == "nonexistent"
    assert (await again.request("context/get"))["editor"]["openDocuments"] == []


@pytest.mark.one_profile
async def test_read_only_on_an_empty_store_creates_nothing(open_client: Callable[..., Any], env: Env) -> None:
    reader = await open_client(options={"readOnly": True})
    status = await reader.request("context/status")
    assert status["active"] is None and status["contexts"] == 0
    assert (await reader.request("context/list")) == {"contexts": []}
    assert (await reader.request("context/info", {"name": "default"}))["status"] == "nonexistent"
    assert_error(await reader.error("context/get"), -32004, "InvalidState")
    assert_error(await reader.error("context/get", {"context": "default"}), -32002, "ContextNotFound")
    await reader.close()
    writer = await open_client()
    assert (await writer.request("context/status"))["active"] == {"name": "default", "version": 1}
    assert writer.notifications["context/didRestore"] == []
