"""Going back in time: snapshots, rollback to a version or a snapshot (with its recovery point),
dry runs, history paging and diffs."""

from __future__ import annotations

import re

from tests.e2e.harness import RFC3339_MS, Client, Env, assert_error, compact_size


async def test_snapshots_are_listed_newest_first_and_counted(client: Client, env: Env) -> None:
    await client.request("context/update", {"set": {"task": "login"}})
    first = await client.request("context/snapshot", {"label": "before refactor", "metadata": {"why": "x"}})
    assert first["context"] == "default" and first["version"] == 2
    assert first["label"] == "before refactor"
    assert first["sizeBytes"] == compact_size({"task": "login"})
    assert re.match(RFC3339_MS, first["timestamp"]) and isinstance(first["id"], str)
    await client.request("context/update", {"set": {"task": "logout"}})
    second = await client.request("context/snapshot", {})
    assert second["version"] == 3 and second["label"] is None
    listed = (await client.request("context/snapshots"))["snapshots"]
    assert listed == [second, first]
    assert (await client.request("context/info", {"name": "default"}))["snapshots"] == 2
    # a snapshot makes no version
    assert (await client.request("context/get"))["version"] == 3
    await client.request("context/create", {"name": "other"})
    other = await client.request("context/snapshot", {"context": "other", "label": "o"})
    assert other["context"] == "other" and other["version"] == 1
    assert (await client.request("context/snapshots", {"context": "other"}))["snapshots"] == [other]
    assert (await client.request("context/snapshots", {"context": None}))["snapshots"] == [second, first]
    assert_error(await client.error("context/snapshots", {"context": "missing"}), -32002, "ContextNotFound")
    assert_error(await client.error("context/snapshot", {"context": "missing"}), -32002, "ContextNotFound")
    for params in ({"label": 1}, {"metadata": "m"}, {"id": "x"}):
        assert_error(await client.error("context/snapshot", params), -32602, "InvalidParams", env=env)
    assert_error(await client.error("context/snapshots", {"label": "x"}), -32602, "InvalidParams")


async def test_rollback_to_a_version_keeps_a_recovery_point(client: Client, env: Env) -> None:
    me = (await client.request("context/status"))["session"]["id"]
    await client.request("context/update", {"set": {"a": 1, "b": 1}})  # v2
    await client.request("context/update", {"set": {"a": 2, "c": 3}, "remove": ["b"]})  # v3
    dry = await client.request("context/rollback", {"toVersion": 2, "dryRun": True})
    assert dry == {
        "context": "default",
        "version": 3,
        "restoredFrom": {"version": 2},
        "changedKeys": ["a", "b", "c"],
        "recoveryPoint": None,
    }
    assert (await client.request("context/get"))["version"] == 3
    assert (await client.request("context/snapshots"))["snapshots"] == []

    rolled = await client.request("context/rollback", {"toVersion": 2})
    assert rolled["version"] == 4 and rolled["restoredFrom"] == {"version": 2}
    assert rolled["changedKeys"] == ["a", "b", "c"]
    assert (await client.request("context/get"))["data"] == {"a": 1, "b": 1}
    points = (await client.request("context/snapshots"))["snapshots"]
    assert [(s["id"], s["label"], s["version"]) for s in points] == [
        (rolled["recoveryPoint"], "recovery point", 3)
    ]
    assert (await client.request("context/info", {"name": "default"}))["snapshots"] == 1
    entry = (await client.request("context/history", {"limit": 1}))["entries"][0]
    assert (entry["version"], entry["kind"], entry["changedKeys"], entry["session"]) == (
        4,
        "rollback",
        ["a", "b", "c"],
        me,
    )
    await client.wait_for("context/didChange", lambda e: e["version"] == 4 and e["kind"] == "rollback")
    # the recovery point brings the rolled-back state back
    back = await client.request("context/rollback", {"snapshotId": rolled["recoveryPoint"]})
    assert back["version"] == 5 and back["restoredFrom"] == {"snapshotId": rolled["recoveryPoint"]}
    assert (await client.request("context/get"))["data"] == {"a": 2, "c": 3}
    assert (await client.request("context/history", {"limit": 1}))["entries"][0]["kind"] == "restore"
    # rolling back to the head's own data changes nothing
    same = await client.request("context/rollback", {"toVersion": 3})
    assert same["version"] == 5 and same["changedKeys"] == [] and same["recoveryPoint"] is None


async def test_rollback_to_a_snapshot_restores_data_and_metadata(client: Client, env: Env) -> None:
    await client.request("context/update", {"set": {"plan": ["a"]}, "metadata": {"stage": 1}})
    snap = await client.request("context/snapshot", {"label": "good"})
    await client.request(
        "context/update", {"set": {"plan": ["a", "b"], "junk": True}, "metadata": {"stage": 2}}
    )
    dry = await client.request("context/rollback", {"snapshotId": snap["id"], "dryRun": True})
    assert dry["version"] == 3 and dry["changedKeys"] == ["junk", "plan"] and dry["recoveryPoint"] is None
    rolled = await client.request("context/rollback", {"snapshotId": snap["id"]})
    assert rolled["version"] == 4 and rolled["restoredFrom"] == {"snapshotId": snap["id"]}
    got = await client.request("context/get")
    assert got["data"] == {"plan": ["a"]} and got["metadata"] == {"stage": 1}
    listed = (await client.request("context/snapshots"))["snapshots"]
    assert [s["label"] for s in listed] == ["recovery point", "good"]
    await client.request("context/create", {"name": "other"})
    error = await client.error("context/rollback", {"context": "other", "snapshotId": snap["id"]})
    assert_error(error, -32003, "SnapshotNotFound", env=env)


async def test_rollback_errors(client: Client, env: Env) -> None:
    await client.request("context/update", {"set": {"a": 1}})
    for params in (
        {},
        {"toVersion": 1, "snapshotId": "x"},
        {"toVersion": "1"},
        {"snapshotId": 5},
        {"toVersion": 1, "dryRun": "yes"},
        {"toVersion": 1, "version": 1},
    ):
        assert_error(await client.error("context/rollback", params), -32602, "InvalidParams", env=env)
    for version in (0, 3, 99):
        error = await client.error("context/rollback", {"toVersion": version})
        assert_error(error, -32003, "SnapshotNotFound", env=env)
        assert (error["data"]["oldestVersion"], error["data"]["headVersion"]) == (1, 2)
    error = await client.error("context/rollback", {"snapshotId": "no-such-snapshot"})
    assert_error(error, -32003, "SnapshotNotFound")
    assert_error(await client.error("context/rollback", {"context": "zz", "toVersion": 1}), -32002)
    assert (await client.request("context/get"))["version"] == 2


async def test_history_pages_backwards_and_names_every_kind(client: Client, env: Env) -> None:
    await client.request("context/update", {"set": {"a": 1}})  # 2 update
    await client.request("context/update", {"set": {"b": 1}})  # 3 update
    await client.request("context/update", {"baseVersion": 2, "set": {"c": 1}})  # 4 merge
    snap = await client.request("context/snapshot")
    await client.request("context/rollback", {"toVersion": 2})  # 5 rollback
    await client.request("context/rollback", {"snapshotId": snap["id"]})  # 6 restore
    history = await client.request("context/history", {})
    assert history["oldestVersion"] == 1
    assert [(e["version"], e["kind"]) for e in history["entries"]] == [
        (6, "restore"),
        (5, "rollback"),
        (4, "merge"),
        (3, "update"),
        (2, "update"),
        (1, "create"),
    ]
    for entry in history["entries"]:
        assert re.match(RFC3339_MS, entry["timestamp"]) and isinstance(entry["session"], str)
    assert [e["changedKeys"] for e in history["entries"]] == [["b", "c"], ["b", "c"], ["c"], ["b"], ["a"], []]
    page = await client.request("context/history", {"limit": 2})
    assert [e["version"] for e in page["entries"]] == [6, 5] and page["oldestVersion"] == 1
    page = await client.request("context/history", {"limit": 2, "beforeVersion": 5})
    assert [e["version"] for e in page["entries"]] == [4, 3]
    page = await client.request("context/history", {"beforeVersion": 2})
    assert [e["version"] for e in page["entries"]] == [1]
    assert (await client.request("context/history", {"beforeVersion": 1}))["entries"] == []
    for params in (
        {"limit": 0},
        {"limit": -1},
        {"limit": "2"},
        {"beforeVersion": "3"},
        {"kinds": ["update"]},
    ):
        assert_error(await client.error("context/history", params), -32602, "InvalidParams", env=env)


async def test_diff_has_one_op_per_changed_key(client: Client, env: Env) -> None:
    await client.request("context/update", {"set": {"keep": 1, "change": {"x": 1}, "drop": [1]}})  # 2
    await client.request("context/update", {"set": {"change": {"x": 2}, "new": "n"}, "remove": ["drop"]})  # 3
    diff = await client.request("context/diff", {"fromVersion": 2})
    assert diff == {
        "fromVersion": 2,
        "toVersion": 3,
        "patch": [
            {"op": "replace", "path": "/change", "value": {"x": 2}},
            {"op": "remove", "path": "/drop"},
            {"op": "add", "path": "/new", "value": "n"},
        ],
    }
    backwards = await client.request("context/diff", {"fromVersion": 3, "toVersion": 2})
    assert backwards["fromVersion"] == 3 and backwards["toVersion"] == 2
    assert sorted(op["op"] for op in backwards["patch"]) == ["add", "remove", "replace"]
    from_empty = await client.request("context/diff", {"fromVersion": 1, "toVersion": 2})
    assert [op["op"] for op in from_empty["patch"]] == ["add", "add", "add"]
    assert (await client.request("context/diff", {"fromVersion": 3}))["patch"] == []
    for params in (
        {},
        {"fromVersion": "1"},
        {"fromVersion": 1, "toVersion": []},
        {"fromVersion": 1, "to": 2},
    ):
        assert_error(await client.error("context/diff", params), -32602, "InvalidParams", env=env)
    for params in ({"fromVersion": 0}, {"fromVersion": 1, "toVersion": 4}, {"fromVersion": 9}):
        error = await client.error("context/diff", params)
        assert_error(error, -32003, "SnapshotNotFound")
        assert (error["data"]["oldestVersion"], error["data"]["headVersion"]) == (1, 3)
