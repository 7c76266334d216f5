"""Every request refuses what the protocol does not allow with InvalidParams naming the field (unknown
fields, wrong types, non-object params), and a bad `initializationOptions` gives one message and the
defaults instead of a dead server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lsprotocol import types

from tests.e2e.harness import VERBS, Client, Env, assert_error

# params that would be valid apart from what each case adds
VALID = {
    "info": {"name": "default"},
    "create": {"name": "fresh"},
    "delete": {"name": "other"},
    "switch": {"name": "default"},
    "rollback": {"toVersion": 1},
    "diff": {"fromVersion": 1},
    "deleteSnapshot": {"snapshotId": "x"},
}
WRONG_TYPES: dict[str, list[dict[str, Any]]] = {
    "info": [{"name": 1}, {"name": ["default"]}, {"name": {"x": 1}}, {"name": True}],
    "create": [
        {"name": "n", "activate": "true"},
        {"name": "n", "activate": 1},
        {"name": "n", "metadata": [1]},
        {"name": "n", "metadata": "m"},
        {"name": "n", "from": {"version": 1.0}},
        {"name": "n", "from": {"snapshotId": 1}},
        {"name": "n", "from": {"context": 5}},
    ],
    "delete": [{"name": None}, {"name": 0}],
    "deleteSnapshot": [{}, {"snapshotId": None}, {"snapshotId": 1}, {"snapshotId": ["x"]}],
    "switch": [{"name": "default", "create": "false"}, {"name": "default", "create": 0}],
    "get": [{"version": "1"}, {"version": 1.5}, {"version": False}, {"keys": [None]}, {"keys": {"a": 1}}],
    "update": [
        {"set": [["a", 1]]},
        {"set": 1},
        {"remove": {"a": 1}},
        {"patch": {"op": "add"}},
        {"metadata": 1},
        {"onConflict": 1},
        {"onConflict": "MERGE"},
        {"baseVersion": "2"},
    ],
    "snapshot": [{"label": 5}, {"label": ["x"]}, {"metadata": [1]}],
    "snapshots": [{"context": 5}],
    "rollback": [
        {"toVersion": "1"},
        {"toVersion": 1.0},
        {"snapshotId": ["a"]},
        {"toVersion": 1, "dryRun": 1},
    ],
    "history": [{"limit": "5"}, {"limit": 1.5}, {"beforeVersion": []}, {"limit": True}],
    "diff": [{"fromVersion": None}, {"fromVersion": "1"}, {"fromVersion": 1, "toVersion": "2"}],
}


async def test_unknown_fields_are_invalid_params_in_every_request(client: Client, env: Env) -> None:
    await client.request("context/create", {"name": "other"})
    for verb in VERBS:
        params = {**VALID.get(verb, {}), "unexpectedField": 1}
        error = await client.error(f"context/{verb}", params)
        assert_error(error, -32602, "InvalidParams", env=env)
        assert "unexpectedField" in error["message"], error
        # null for an unknown field does not make it known
        error = await client.error(f"context/{verb}", {**VALID.get(verb, {}), "unexpectedField": None})
        assert_error(error, -32602, "InvalidParams")
        # camelCase only: the Python spelling of a field is unknown too
        for snake in ("base_version", "snapshot_id", "to_version", "dry_run", "from_"):
            error = await client.error(f"context/{verb}", {**VALID.get(verb, {}), snake: 1})
            assert_error(error, -32602, "InvalidParams")
    assert (await client.request("context/get"))["version"] == 1
    assert (await client.request("context/status"))["contexts"] == 2


async def test_params_that_are_not_objects_are_invalid_params(client: Client, env: Env) -> None:
    for verb in VERBS:
        for params in ([], [1, 2], [{"name": "default"}]):
            error = await client.error(f"context/{verb}", params)
            assert_error(error, -32602, "InvalidParams", env=env)


async def test_wrong_types_are_invalid_params(client: Client, env: Env) -> None:
    await client.request("context/create", {"name": "other"})
    for verb, cases in WRONG_TYPES.items():
        for params in cases:
            error = await client.error(f"context/{verb}", params)
            assert_error(error, -32602, "InvalidParams", env=env)
            assert error["data"].get("field"), (verb, params, error)
    for verb in ("get", "update", "snapshot", "snapshots", "history", "diff", "rollback", "deleteSnapshot"):
        for context in ("", ".x", "a//b", "a/../b", "x" * 129, 7, ["default"]):
            params = {**VALID.get(verb, {}), "context": context}
            assert_error(await client.error(f"context/{verb}", params), -32602, "InvalidParams")
    assert (await client.request("context/get"))["version"] == 1
    assert (await client.request("context/status"))["contexts"] == 2


async def test_bad_initialization_options_give_one_message_and_the_defaults(
    open_client: Callable[..., Any], env: Env
) -> None:
    client = await open_client(
        options={
            "readOnly": "yes",
            "historyLimit": "ten",
            "snapshotMaxBytes": 1,
            "editorFlushMs": -5,
            "editorTracking": 1,
            "noSuchOption": True,
            "storeDir": "relative/dir",
        }
    )
    status = await client.request("context/status")
    messages = client.messages
    assert len(messages) == 1, messages
    text = messages[0].message
    assert messages[0].type in (types.MessageType.Warning, types.MessageType.Error)
    for name in (
        "readOnly",
        "historyLimit",
        "snapshotMaxBytes",
        "editorFlushMs",
        "editorTracking",
        "noSuchOption",
        "storeDir",
    ):
        assert name in text, text
    assert status["store"]["path"].startswith(str(env.store_dir))
    # the defaults: writable, 1 MiB states, editor tracking on
    assert status["session"]["readOnly"] is False
    result = await client.request("context/update", {"set": {"big": "x" * 100_000}})
    assert result["version"] == 2
    client.notify("context/didChangeEditor", {"activeUri": "file:///x.py"})
    assert (await client.request("context/editor"))["activeUri"] == "file:///x.py"


@pytest.mark.one_profile
async def test_options_that_are_not_an_object_give_one_message(open_client: Callable[..., Any]) -> None:
    for options in (["readOnly"], "readOnly", 5):
        client = await open_client(options=options)
        status = await client.request("context/status")
        assert len(client.messages) == 1 and status["session"]["readOnly"] is False
        await client.close()


@pytest.mark.one_profile
async def test_valid_options_give_no_message(open_client: Callable[..., Any], env: Env) -> None:
    store = env.root / "elsewhere"
    client = await open_client(
        options={
            "storeDir": str(store),
            "readOnly": False,
            "historyLimit": 10,
            "snapshotMaxBytes": 4096,
            "editorTracking": True,
            "editorFlushMs": 100,
            "token": None,
        }
    )
    status = await client.request("context/status")
    assert client.messages == []
    assert status["store"]["path"].startswith(str(store))
    assert not env.store_dir.exists() or not any(env.store_dir.rglob("store.db"))
    error = await client.error("context/update", {"set": {"big": "x" * 5000}})
    assert_error(error, -32008, "TooLarge")
    assert error["data"]["limit"] == 4096


@pytest.mark.one_profile
async def test_extreme_numbers_and_nesting_get_answers(client: Client, env: Env) -> None:
    await client.request("context/update", {"set": {"a": 1}})
    for before in (2**63 - 1, 2**63, 2**64 - 1):
        history = await client.request("context/history", {"beforeVersion": before})
        assert [e["version"] for e in history["entries"]] == [2, 1]
    for version in (2**63 - 1, 2**63, 2**64 - 1, -(2**63)):
        error = await client.error("context/get", {"version": version})
        assert_error(error, -32003, "SnapshotNotFound")
        error = await client.error("context/update", {"baseVersion": version, "set": {"b": 1}})
        assert_error(error, -32001, "VersionConflict")
    deep: Any = 1
    for _ in range(300):
        deep = {"d": deep}
    for method, params in (
        ("context/update", {"set": {"deep": deep}}),
        ("context/update", {"metadata": {"deep": deep}}),
        ("context/update", {"patch": [{"op": "add", "path": "/deep", "value": deep}]}),
        ("context/create", {"name": "deep", "metadata": deep}),
        ("context/snapshot", {"metadata": deep}),
    ):
        error = await client.error(method, params)
        assert_error(error, -32602, "InvalidParams", env=env)
    # what nests less deep is stored, and every answer that carries it back can be sent
    shallow: Any = 1
    for _ in range(150):
        shallow = [shallow]
    await client.request("context/update", {"set": {"deep": shallow}, "metadata": {"deep": shallow}})
    assert (await client.request("context/get"))["data"]["deep"] == shallow
    assert (await client.request("context/diff", {"fromVersion": 2}))["patch"][0]["value"] == shallow
    assert (await client.request("context/get"))["version"] == 3
