"""Agents built on clients nobody here wrote: the official TypeScript SDK's 1.x client (which
validates structuredContent against the output schema even on errors, and used to replace every
error of ours with its own -32602), its 2.x client in both protocol eras, and the MCP Inspector 0.15
CLI (which sends objects and arrays as strings when a schema has no ``type``). Each reads every
tool's success, every error kind with its details, and the data from the text alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from groundhog import create_manager
from groundhog.changes import Change
from tests.e2e.harness import Env, cli_json
from tests.e2e.ts_clients import SDKS, inspector, interactive, read_error, read_result, run_plan, texts

pytestmark = pytest.mark.one_profile

SUCCESSES: list[tuple[str, dict[str, Any]]] = [
    ("context_status", {}),
    ("context_list", {}),
    ("context_info", {"name": "default"}),
    ("context_create", {"name": "work", "metadata": {"owner": "ts"}, "from": {}}),
    ("context_update", {"context": "work", "set": {"plan": ["read"], "class": {"from": 1}}}),
    ("context_update", {"context": "work", "patch": [{"op": "add", "path": "/plan/-", "value": "write"}]}),
    ("context_update", {"context": "work", "baseVersion": 2, "set": {"notes": "n"}, "metadata": {"t": 1}}),
    ("context_snapshot", {"context": "work", "label": "before"}),
    ("context_snapshots", {"context": "work"}),
    ("context_get", {"context": "work"}),
    ("context_get", {"context": "work", "version": 2, "keys": ["plan"]}),
    ("context_history", {"context": "work", "limit": 3}),
    ("context_diff", {"context": "work", "fromVersion": 1}),
    ("context_rollback", {"context": "work", "toVersion": 2, "dryRun": True}),
    ("context_rollback", {"context": "work", "toVersion": 2}),
    ("context_switch", {"name": "work"}),
    ("context_editor", {}),
    ("editor_state", {}),
    ("resume", {}),
    ("resume", {"sinceVersion": 1}),
    ("context_deactivate", {}),
    ("context_switch", {"name": "default"}),
    ("context_delete", {"name": "work"}),
]

# (tool, arguments, kind, details that must be readable)
FAILURES: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    (
        "context_update",
        {"baseVersion": 2, "set": {"a": 3}},
        "VersionConflict",
        {"currentVersion": 3, "conflictingKeys": ["a"]},
    ),
    ("context_get", {"context": None}, "InvalidParams", {"field": "context"}),
    ("context_history", {"limit": None}, "InvalidParams", {"field": "limit"}),
    ("context_get", {"bogus": 1}, "InvalidParams", {"field": "bogus"}),
    ("context_snapshot", {"label": "x" * 70_000}, "InvalidParams", {"field": "label"}),
    ("context_get", {"context": "nope"}, "ContextNotFound", {"context": "nope"}),
    ("context_get", {"version": 99}, "SnapshotNotFound", {"headVersion": 3}),
    ("context_delete", {"name": "default"}, "InvalidState", {}),
    ("context_create", {"name": "default"}, "AlreadyExists", {}),
    ("context_update", {"set": {"big": "y" * 5000}}, "TooLarge", {"limit": 4096}),
    ("context_nothing", {}, "InvalidParams", {"field": "name"}),
]


@pytest.mark.parametrize(("sdk", "era"), SDKS)
def test_every_tool_answers_the_typescript_clients(env: Env, sdk: str, era: str) -> None:
    # a plan cannot carry one answer into a later call: the snapshot to delete is made beforehand
    manager = create_manager(env.workspace, store_dir=env.store_dir, config_dir=env.config_dir)
    manager.create_context("default")  # as the first session would
    doomed = manager.tracker("default").take_snapshot("doomed").id
    manager.close()
    calls = [*SUCCESSES[:-1], ("context_delete_snapshot", {"snapshotId": doomed}), SUCCESSES[-1]]
    steps = [{"op": "listTools"}] + [{"op": "call", "name": n, "arguments": a} for n, a in calls]
    outcomes = run_plan(env, sdk, era, steps)
    listed = {tool["name"] for tool in outcomes[0]["result"]["tools"]}
    assert listed == {name for name, _ in calls}  # every tool was called
    results = [read_result(outcome) for outcome in outcomes[1:]]
    assert results[3] == {"name": "work", "version": 1, "lastModified": results[3]["lastModified"]}
    assert results[9]["data"] == {"plan": ["read", "write"], "class": {"from": 1}, "notes": "n"}
    assert results[9]["metadata"] == {"owner": "ts", "t": 1}
    assert results[10]["data"] == {"plan": ["read"]}
    assert results[-2] == {"deleted": True, "id": doomed}
    assert results[-1] == {"deleted": True}


@pytest.mark.parametrize(("sdk", "era"), SDKS)
def test_every_error_kind_reaches_the_typescript_clients_with_its_details(
    env: Env, sdk: str, era: str
) -> None:
    setup = [("context_update", {"set": {"a": 1}}), ("context_update", {"set": {"a": 2}})]
    steps = [{"op": "listTools"}]  # the 1.x client validates answers against the listed schemas
    steps += [{"op": "call", "name": n, "arguments": a} for n, a in setup]
    steps += [{"op": "call", "name": n, "arguments": a} for n, a, _, _ in FAILURES]
    outcomes = run_plan(env, sdk, era, steps, "--snapshot-max-bytes", "4096")
    for (tool, _, kind, details), outcome in zip(FAILURES, outcomes[3:], strict=True):
        error = read_error(outcome)
        assert error["kind"] == kind, (tool, error)
        assert error["code"] == CODES[kind], (tool, error)
        for key, value in details.items():
            assert error[key] == value, (tool, key, error)
    # nothing the failures tried was written: the 70,000-character label made no snapshot
    assert cli_json(env, "log", "default")["entries"][0]["version"] == 3
    show = cli_json(env, "show", "default")
    assert show["data"] == {"a": 2}


CODES = {
    "InvalidParams": -32602,
    "VersionConflict": -32001,
    "ContextNotFound": -32002,
    "SnapshotNotFound": -32003,
    "InvalidState": -32004,
    "AccessDenied": -32006,
    "TooLarge": -32008,
    "AlreadyExists": -32009,
}


def test_a_read_only_server_refuses_writes_readably(env: Env) -> None:
    run_plan(env, "v1", "legacy", [{"op": "call", "name": "context_update", "arguments": {"set": {"a": 0}}}])
    outcomes = run_plan(
        env,
        "v1",
        "legacy",
        [
            {"op": "listTools"},
            {"op": "call", "name": "context_update", "arguments": {"set": {"a": 1}}},
            {"op": "call", "name": "context_status", "arguments": {}},
        ],
        "--read-only",
    )
    error = read_error(outcomes[1])
    assert (error["kind"], error["code"]) == ("AccessDenied", -32006)
    assert read_result(outcomes[2])["session"]["readOnly"] is True


def test_the_inspector_cli_sends_object_and_array_parameters_as_json(env: Env) -> None:
    """MCP Inspector 0.15 converts each ``--tool-arg key=value`` by the parameter's schema
    ``type``: with plain types, objects and arrays arrive as JSON, not as strings."""
    created = inspector(env, "context_create", "name=notes", 'metadata={"owner": "cli"}', "from={}")
    assert created["isError"] is False and created["structuredContent"]["name"] == "notes"
    updated = inspector(env, "context_update", "context=notes", 'set={"plan": ["a"], "n": 1}')
    assert updated["structuredContent"]["version"] == 2, updated
    patched = inspector(
        env, "context_update", "context=notes", 'patch=[{"op": "add", "path": "/plan/-", "value": "b"}]'
    )
    assert patched["structuredContent"]["version"] == 3, patched
    removed = inspector(env, "context_update", "context=notes", 'remove=["n"]', 'metadata={"k": 2}')
    assert removed["structuredContent"]["version"] == 4, removed
    got = inspector(env, "context_get", "context=notes", 'keys=["plan"]', "version=3")
    assert got["structuredContent"]["data"] == {"plan": ["a", "b"]}
    assert json.loads(texts(got)[1]) == got["structuredContent"]
    show = cli_json(env, "show", "notes")
    assert show["data"] == {"plan": ["a", "b"]}
    assert show["metadata"] == {"owner": "cli", "k": 2}


@pytest.mark.parametrize(("sdk", "era"), SDKS)
async def test_a_subscription_opened_first_hears_another_process_and_every_create_and_delete(
    env: Env, sdk: str, era: str
) -> None:
    """The first request after the handshake (or the first of a 2026-07-28 client) opens the
    subscription; an update made by another process reaches it, and a context created and deleted
    within a few milliseconds by another process is two list-changed events."""
    writer = create_manager(env.workspace, store_dir=env.store_dir, config_dir=env.config_dir)
    try:
        writer.create_context("default")
        uri = "groundhog://context/default"
        if era == "modern":
            first: dict[str, Any] = {
                "op": "listen",
                "filter": {"resourceSubscriptions": [uri], "resourcesListChanged": True},
            }
        else:
            first = {"op": "subscribe", "uri": uri}
        updated, changed = "notifications/resources/updated", "notifications/resources/list_changed"
        steps = [
            first,
            {"op": "ready"},
            {"op": "waitEvents", "method": updated, "count": 1},
            {"op": "ready"},
            {"op": "waitEvents", "method": changed, "count": 2, "settleMs": 500},
        ]
        async with interactive(env, sdk, era, steps) as driver:
            opened = await driver.until_ready()
            assert opened[0]["ok"], opened
            writer.tracker("default").update(Change(set={"by": "another process"}))
            driver.go()
            heard = await driver.until_ready()
            assert [event["params"]["uri"] for event in heard[-1]["result"]] == [uri], heard
            writer.create_context("blink")
            writer.delete_context("blink")
            driver.go()
            outcome = await driver.line()
            while outcome.get("op") != "waitEvents":
                outcome = await driver.line()
            assert len(outcome["result"]) == 2, outcome
    finally:
        writer.close()
