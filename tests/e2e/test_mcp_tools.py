"""An agent's story through `groundhog mcp`, driven by the MCP SDK's own client against a real server
process: the tools it finds, what they answer (the same as the editors' LSP requests on the same
store), how bad arguments and failures come back, the result cap, read-only sessions, and how the
session starts and ends."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from groundhog import ContextManager, create_manager
from tests.e2e.harness import VERBS, Env, cli_json, start_client, tool_name
from tests.e2e.mcp_harness import ERAS, LEGACY, MODERN, open_agent

pytestmark = [pytest.mark.one_profile, pytest.mark.postgresql_too]

READ_ONLY_VERBS = {"status", "list", "info", "get", "snapshots", "history", "diff", "editor"}


@contextlib.contextmanager
def reader(env: Env) -> Iterator[ContextManager]:
    """The workspace's store as the test sees it, read-only."""
    manager = create_manager(
        env.workspace,
        store_dir=env.store_dir,
        config_dir=env.config_dir,
        store_url=env.store_url,
        read_only=True,
    )
    try:
        yield manager
    finally:
        manager.close()


def live_sessions(env: Env) -> list[Any]:
    with reader(env) as manager:
        return manager.live_sessions()


@pytest.mark.parametrize("mode", ERAS)
async def test_every_protocol_request_is_a_tool_with_schemas_and_truthful_annotations(
    env: Env, mode: str
) -> None:
    async with open_agent(env, mode=mode) as agent:
        tools = {tool.name: tool for tool in (await agent.client.list_tools()).tools}
    assert set(tools) == {tool_name(verb) for verb in VERBS} | {"editor_state", "resume"}
    for name, tool in tools.items():
        verb = name.removeprefix("context_")
        assert tool.description and tool.input_schema["type"] == "object", name
        assert tool.output_schema is not None and tool.output_schema["type"] == "object", name
        hints = tool.annotations
        assert hints is not None
        read_only = verb in READ_ONLY_VERBS or name in ("editor_state", "resume")
        assert hints.read_only_hint is read_only, name
        assert hints.destructive_hint is (name in ("context_delete", "context_delete_snapshot")), name
    # the arguments are exactly the LSP params: camelCase, nothing else accepted
    update = tools["context_update"].input_schema
    assert {"context", "baseVersion", "set", "remove", "patch", "metadata", "onConflict"} == set(
        update["properties"]
    )
    assert update.get("additionalProperties") is False
    assert "from" in tools["context_create"].input_schema["properties"]
    assert tools["context_rollback"].annotations.destructive_hint is False  # type: ignore[union-attr]


async def test_the_agent_session_is_listed_beside_the_editors(env: Env) -> None:
    editor = await start_client(env, client_name="code")
    try:
        async with open_agent(env, name="claude-code") as agent:
            status = await agent.ok("context_status")
            listed = await editor.request("context/list", {})
            assert {c["name"]: c["sessions"] for c in listed["contexts"]} == {"default": 2}
            sessions = cli_json(env, "sessions")["sessions"]
            kinds = {(s["kind"], s["client"]) for s in sessions}
            assert kinds == {("lsp", "code"), ("mcp", "claude-code")}
            mine = next(s for s in sessions if s["kind"] == "mcp")
            assert mine["session"] == status["session"]["id"] and mine["context"] == "default"
    finally:
        await editor.close()


def _normalize(value: Any, names: dict[str, str]) -> Any:
    """Results of two sessions made comparable: their context names unified, times and ids masked."""
    text = json.dumps(value, sort_keys=True)
    for name, common in names.items():
        text = text.replace(f'"{name}"', f'"{common}"')
    text = re.sub(r'"\d{4}-\d\d-\d\dT[^"]+Z"', '"<time>"', text)
    text = re.sub(r'"(s|snap|rp)-[0-9a-f]+"', '"<id>"', text)
    text = re.sub(r'"[0-9a-f]{32}"', '"<id>"', text)
    return json.loads(text)


async def test_each_tool_answers_what_the_lsp_request_answers_on_the_same_store(env: Env) -> None:
    editor = await start_client(env)
    try:
        async with open_agent(env) as agent:
            names = {"by-lsp": "ctx", "by-mcp": "ctx"}

            async def both(verb: str, params: dict[str, Any]) -> None:
                lsp_params = json.loads(json.dumps(params).replace("<ctx>", "by-lsp"))
                mcp_params = json.loads(json.dumps(params).replace("<ctx>", "by-mcp"))
                lsp = await editor.request(f"context/{verb}", lsp_params)
                mcp = await agent.ok(f"context_{verb}", mcp_params)
                assert _normalize(mcp, names) == _normalize(lsp, names), verb

            await both("create", {"name": "<ctx>", "metadata": {"owner": "tests"}})
            await both("update", {"context": "<ctx>", "set": {"plan": ["read", "write"], "class": 1}})
            await both(
                "update", {"context": "<ctx>", "patch": [{"op": "add", "path": "/plan/-", "value": "ship"}]}
            )
            await both("update", {"context": "<ctx>", "baseVersion": 2, "set": {"notes": "n"}})
            await both("snapshot", {"context": "<ctx>", "label": "before"})
            await both("update", {"context": "<ctx>", "remove": ["class"]})
            await both("get", {"context": "<ctx>"})
            await both("get", {"context": "<ctx>", "version": 2, "keys": ["plan"]})
            await both("info", {"name": "<ctx>"})
            await both("history", {"context": "<ctx>", "limit": 3})
            await both("diff", {"context": "<ctx>", "fromVersion": 1})
            await both("rollback", {"context": "<ctx>", "toVersion": 2, "dryRun": True})
            await both("rollback", {"context": "<ctx>", "toVersion": 2})
            await both("snapshots", {"context": "<ctx>"})
            await both("switch", {"name": "<ctx>"})
            await both("editor", {})
            await both("deactivate", {})
            await both("switch", {"name": "default"})
            await both("delete", {"name": "<ctx>"})
            # the same store: what one face wrote, the other reads
            for verb in ("list", "status"):
                lsp = await editor.request(f"context/{verb}", {})
                mcp = await agent.ok(f"context_{verb}")
                if verb == "status":
                    assert lsp["session"]["id"] != mcp["session"]["id"]
                    lsp.pop("session"), mcp.pop("session")
                assert mcp == lsp, verb
    finally:
        await editor.close()


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("context_get", {"bogus": 1}, "bogus"),
        ("context_get", {"version": "3"}, "version"),
        ("context_get", {"context": "../up"}, "context"),
        ("context_switch", {}, "name"),
        ("context_create", {"name": "a//b"}, "name"),
        ("context_update", {"set": {"a": 1}, "patch": []}, None),
        ("context_update", {"onConflict": "sometimes"}, "onConflict"),
        ("context_history", {"limit": 0}, "limit"),
        ("resume", {"sinceVersion": "x"}, "sinceVersion"),
        ("context_nothing", {}, "name"),
    ],
)
async def test_bad_arguments_answer_invalid_params_naming_the_field(
    env: Env, tool: str, arguments: dict[str, Any], field: str | None
) -> None:
    async with open_agent(env) as agent:
        before = await agent.ok("context_get")
        error = await agent.fail(tool, arguments)
        assert (error["kind"], error["code"]) == ("InvalidParams", -32602), error
        if field is not None:
            assert error.get("field") == field and field in error["message"], error
        assert await agent.ok("context_get") == before  # nothing changed, the server still serves


async def test_failures_carry_the_protocols_kind_code_and_details(env: Env) -> None:
    async with open_agent(env) as agent:
        await agent.ok("context_update", {"set": {"a": 1}})
        await agent.ok("context_update", {"set": {"a": 2}})
        conflict = await agent.fail("context_update", {"baseVersion": 2, "set": {"a": 3}})
        assert (conflict["kind"], conflict["code"]) == ("VersionConflict", -32001)
        assert conflict["currentVersion"] == 3 and conflict["conflictingKeys"] == ["a"]
        missing = await agent.fail("context_get", {"context": "nope"})
        assert (missing["kind"], missing["code"]) == ("ContextNotFound", -32002)
        assert "nope" in missing["message"]
        old = await agent.fail("context_get", {"version": 99})
        assert (old["kind"], old["code"], old["headVersion"]) == ("SnapshotNotFound", -32003, 3)
        default = await agent.fail("context_delete", {"name": "default"})
        assert (default["kind"], default["code"]) == ("InvalidState", -32004)
        twice = await agent.fail("context_create", {"name": "default"})
        assert (twice["kind"], twice["code"]) == ("AlreadyExists", -32009)


async def test_a_state_over_the_result_cap_returns_the_keys_that_fit_and_names_the_rest(env: Env) -> None:
    cap = 4096
    values = {f"k{i:02}": "x" * 1000 for i in range(20)}
    async with open_agent(env, "--max-result-bytes", str(cap)) as agent:
        await agent.ok("context_update", {"set": values})
        result = await agent.call("context_get")
        got = result.structured_content
        assert got is not None and not result.is_error
        assert len(json.dumps(got, separators=(",", ":"))) <= cap
        truncated = got["truncated"]
        assert truncated["totalBytes"] > 20_000
        assert got["data"] and set(got["data"]) | set(truncated["omittedKeys"]) == set(values)
        assert "left out" in result.content[0].text  # type: ignore[union-attr]
        rest = dict(got["data"])
        pending = list(truncated["omittedKeys"])
        while pending:  # the agent asks for the rest with `keys`
            part = await agent.ok("context_get", {"keys": pending})
            assert part["data"], part
            rest.update(part["data"])
            pending = part.get("truncated", {}).get("omittedKeys", [])
        assert rest == values


async def test_a_megabyte_state_never_floods_the_agent(env: Env) -> None:
    chunk = "y" * 60_000
    async with open_agent(env) as agent:
        for i in range(17):
            await agent.ok("context_update", {"set": {f"part{i}": chunk}})
        for tool, arguments in (("context_get", {}), ("context_switch", {"name": "default"})):
            result = await agent.call(tool, arguments)
            assert len(json.dumps(result.structured_content, separators=(",", ":"))) <= 65536, tool
            assert result.structured_content["truncated"]["totalBytes"] > 1_000_000  # type: ignore[index]
        history = await agent.ok("context_history", {"limit": 50})
        assert len(json.dumps(history)) <= 65536
        brief = await agent.ok("resume", {"sinceVersion": 1})
        assert len(json.dumps(brief, separators=(",", ":"))) <= 65536


async def test_listings_over_the_cap_keep_the_newest_and_count_the_rest(env: Env) -> None:
    async with open_agent(env, "--max-result-bytes", "2048") as agent:
        for i in range(40):
            await agent.ok("context_update", {"set": {"n": i}})
        history = await agent.ok("context_history", {"limit": 40})
        assert len(json.dumps(history, separators=(",", ":"))) <= 2048
        assert history["entries"][0]["version"] == 41  # newest first, the oldest are left out
        assert history["truncated"]["omittedItems"] == 40 - len(history["entries"]) > 0


async def test_a_read_only_agent_reads_but_every_write_is_refused_and_audited(env: Env) -> None:
    async with open_agent(env) as writer:
        await writer.ok("context_update", {"set": {"plan": "p"}})
    async with open_agent(env, "--read-only") as agent:
        assert (await agent.ok("context_get"))["data"] == {"plan": "p"}
        assert (await agent.ok("context_status"))["session"]["readOnly"] is True
        for tool, arguments in (
            ("context_update", {"set": {"plan": "q"}}),
            ("context_create", {"name": "new"}),
            ("context_snapshot", {}),
            ("context_rollback", {"toVersion": 1}),
            ("context_delete", {"name": "other"}),
        ):
            error = await agent.fail(tool, arguments)
            assert (error["kind"], error["code"]) == ("AccessDenied", -32006), (tool, error)
        assert (await agent.ok("context_get"))["data"] == {"plan": "p"}
    records = cli_json(env, "audit")["records"]
    denied = [r for r in records if r["event"] == "error" and r["details"].get("kind") == "AccessDenied"]
    assert len(denied) >= 5


async def test_closing_stdin_ends_the_process_and_its_session(env: Env) -> None:
    async with open_agent(env, name="short-lived") as agent:
        await agent.ok("context_status")
        assert [s.client for s in live_sessions(env)] == ["short-lived"]
    assert live_sessions(env) == []  # no row left behind; the data stays
    async with open_agent(env) as agent:
        assert (await agent.ok("context_get"))["version"] == 1


async def test_the_workspace_comes_from_the_clients_roots_else_the_current_directory(
    env: Env, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    async with open_agent(env, workspace=False, roots=[elsewhere.as_uri()]) as agent:
        assert (await agent.ok("context_status"))["workspace"]["uri"] == elsewhere.as_uri()
    async with open_agent(env, workspace=False, cwd=env.workspace) as agent:
        assert (await agent.ok("context_status"))["workspace"]["uri"] == env.workspace.as_uri()


async def test_the_agent_starts_in_the_context_it_is_told(env: Env) -> None:
    async with open_agent(env, "--context", "agent/plan") as agent:
        status = await agent.ok("context_status")
        assert status["active"] == {"name": "agent/plan", "version": 1}


async def test_the_modern_era_serves_the_same_tools(env: Env) -> None:
    async with open_agent(env, mode=MODERN) as agent:
        assert agent.client.protocol_version == MODERN
        await agent.ok("context_update", {"set": {"a": 1}})
        assert (await agent.ok("context_get"))["data"] == {"a": 1}
        assert (await agent.fail("context_get", {"nope": 1}))["field"] == "nope"
    async with open_agent(env, mode=LEGACY) as agent:
        assert agent.client.protocol_version != MODERN
        assert (await agent.ok("context_get"))["data"] == {"a": 1}


def test_mcp_rejects_a_bad_context_name_before_starting(env: Env) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "groundhog", "mcp", "--context", "../x"],
        env=env.environ(),
        cwd=env.root,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2 and done.stdout == ""  # a usage error, as for every flag's bad value
    assert "--context" in done.stderr and "Traceback" not in done.stderr


async def test_input_schemas_declare_plain_types_and_describe_every_parameter(env: Env) -> None:
    """Clients that convert arguments by the schema's ``type`` (MCP Inspector 0.15) need a type on
    every parameter: no ``anyOf`` with null, no ``$ref``; the model reads every description."""
    async with open_agent(env) as agent:
        tools = (await agent.client.list_tools()).tools

    def walk(schema: Any, path: str) -> None:
        assert isinstance(schema, dict), path
        assert "anyOf" not in schema and "$ref" not in schema and schema.get("type") != "null", (path, schema)
        assert "title" not in schema, path
        for name, sub in schema.get("properties", {}).items():
            assert "type" in sub, (path, name)
            assert len(sub.get("description", "")) > 20, (path, name)
            walk(sub, f"{path}.{name}")

    for tool in tools:
        assert tool.description and len(tool.description) > 40 and "``" not in tool.description, tool.name
        walk(tool.input_schema, tool.name)


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("context_get", {"context": None}, "context"),
        ("context_history", {"limit": None}, "limit"),
        ("context_update", {"set": None}, "set"),
        ("context_create", {"name": "x", "from": {"version": None}}, "from.version"),
        ("resume", {"sinceVersion": None}, "sinceVersion"),
    ],
)
async def test_null_is_refused_naming_the_field_on_the_agents_face(
    env: Env, tool: str, arguments: dict[str, Any], field: str
) -> None:
    async with open_agent(env) as agent:
        error = await agent.fail(tool, arguments)
        assert (error["kind"], error.get("field")) == ("InvalidParams", field), error
        assert "null" in error["message"]
        assert (await agent.ok("context_list"))["contexts"] == [
            {"name": "default", "version": 1, "lastModified": ANY_TIME, "status": "active", "sessions": 1}
        ]


class _AnyTime(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and re.match(r"^\d{4}-\d\d-\d\dT", other) is not None

    __hash__ = str.__hash__


ANY_TIME = _AnyTime("<time>")


@pytest.mark.parametrize("mode", ERAS)
async def test_the_whole_answer_stays_within_the_cap_with_its_text_copy(env: Env, mode: str) -> None:
    cap = 8192
    values = {f"k{i:02}": 'say "hi"\n' * 120 for i in range(30)}  # quotes and newlines: costly as text
    async with open_agent(env, "--max-result-bytes", str(cap), mode=mode) as agent:
        await agent.ok("context_update", {"set": values})
        for tool, arguments in (
            ("context_get", {}),
            ("context_switch", {"name": "default"}),
            ("context_history", {"limit": 100}),
            ("resume", {"sinceVersion": 1}),
        ):
            result = await agent.call(tool, arguments)
            assert not result.is_error, result.content
            wire = result.model_dump_json(by_alias=True, exclude_none=True)
            assert len(wire.encode()) <= cap, (tool, len(wire))
            assert json.loads(result.content[1].text) == result.structured_content  # type: ignore[union-attr]
        got = await agent.ok("context_get")
        assert got["data"] and set(got["data"]) | set(got["truncated"]["omittedKeys"]) == set(values)


async def test_a_label_or_metadata_over_its_limit_is_refused_before_anything_is_written(env: Env) -> None:
    editor = await start_client(env)
    try:
        async with open_agent(env) as agent:
            await agent.ok("context_update", {"set": {"a": 1}})
            error = await agent.fail("context_snapshot", {"label": "x" * 70_000})
            assert (error["kind"], error["field"], error["limit"]) == ("InvalidParams", "label", 1024), error
            error = await agent.fail("context_snapshot", {"metadata": {"m": "y" * 5000}})
            assert (error["kind"], error["field"]) == ("InvalidParams", "metadata"), error
            error = await agent.fail("context_create", {"name": "n", "metadata": {"m": "y" * 5000}})
            assert (error["kind"], error["field"]) == ("InvalidParams", "metadata"), error
            await agent.ok("context_update", {"metadata": {"m1": "z" * 3000}})
            error = await agent.fail("context_update", {"metadata": {"m2": "z" * 3000}})  # merged: 6 KB
            assert (error["kind"], error["field"], error["limit"]) == ("TooLarge", "metadata", 4096), error
            # the editors' face has the same limits
            lsp = await editor.error("context/snapshot", {"label": "x" * 70_000})
            assert (lsp["code"], lsp["data"]["field"]) == (-32602, "label"), lsp
            assert (await agent.ok("context_snapshots"))["snapshots"] == []
            assert (await agent.ok("context_get"))["version"] == 3
            assert [c["name"] for c in (await agent.ok("context_list"))["contexts"]] == ["default"]
    finally:
        await editor.close()


async def test_writes_answer_their_result_shaped_to_the_cap_never_an_error(env: Env) -> None:
    async with open_agent(env, "--max-result-bytes", "1024") as agent:
        await agent.ok("context_update", {"set": {f"key-{i:04}": i for i in range(2000)}})
        rolled = await agent.ok("context_rollback", {"toVersion": 1})  # 2,000 keys change
        assert rolled["version"] == 3 and rolled["truncated"]["omittedItems"] == 2000 - len(
            rolled["changedKeys"]
        )
        label = '"\u0001' * 512  # 1,024 characters, ~4 KB of JSON (and more as text)
        made = await agent.ok("context_snapshot", {"label": label})
        assert made["label"].endswith("…") and label.startswith(made["label"][:-1])
        switched = await agent.ok("context_switch", {"name": "default"})
        assert switched["version"] == 3
        snapshots = await agent.ok("context_snapshots")
        assert snapshots["snapshots"][0]["id"] == made["id"]
    assert cli_json(env, "show", "default")["data"] == {}  # the rollback happened, once
    with reader(env) as manager:  # the snapshot keeps its whole label; only the answer was cut
        assert label in [s.label for s in manager.tracker("default").snapshots()]


async def test_an_oversized_newest_snapshot_never_hides_the_older_ones(env: Env) -> None:
    async with open_agent(env, "--max-result-bytes", "4096") as agent:
        for i in range(3):
            await agent.ok("context_snapshot", {"label": f"old {i}"})
        newest = await agent.ok("context_snapshot", {"label": "\u0002" * 1024})
        listed = (await agent.ok("context_snapshots"))["snapshots"]
        assert [s["id"] for s in listed][:1] == [newest["id"]]
        assert [s["label"] for s in listed[1:]] == ["old 2", "old 1", "old 0"]


async def test_a_read_only_agent_started_in_a_missing_context_reads_everything_else(env: Env) -> None:
    async with open_agent(env) as writer:
        await writer.ok("context_update", {"set": {"plan": "p"}})
    async with open_agent(env, "--read-only", "--context", "nowhere") as agent:
        status = await agent.ok("context_status")
        assert status["active"] is None and status["session"]["readOnly"] is True
        missing = await agent.fail("context_get")
        assert (missing["kind"], missing["context"]) == ("InvalidState", "nowhere") and "nowhere" in missing[
            "message"
        ]
        assert (await agent.ok("context_get", {"context": "default"}))["data"] == {"plan": "p"}
        assert [c["name"] for c in (await agent.ok("context_list"))["contexts"]] == ["default"]
        brief = await agent.call("resume")
        assert brief.structured_content["missingContext"] == "nowhere"  # type: ignore[index]
        assert "nowhere" in brief.content[0].text  # type: ignore[union-attr]
        denied = await agent.fail("context_update", {"context": "default", "set": {"plan": "q"}})
        assert denied["kind"] == "AccessDenied"
        assert (await agent.ok("context_switch", {"name": "default"}))["name"] == "default"
        assert (await agent.ok("context_get"))["data"] == {"plan": "p"}  # now it has one
    assert [c["name"] for c in cli_json(env, "contexts")["contexts"]] == ["default"]  # nothing created


async def test_a_read_only_agent_switches_and_deactivates_in_memory_only(env: Env) -> None:
    async with open_agent(env) as writer:
        await writer.ok("context_create", {"name": "plans"})
        await writer.ok("context_create", {"name": "notes"})
        await writer.ok("context_switch", {"name": "plans"})  # the last switch: where sessions start
    async with open_agent(env, "--read-only", name="reader") as agent:
        assert (await agent.ok("context_status"))["active"]["name"] == "plans"
        assert live_sessions(env) == []  # a read-only session persists nothing, not even its row
        assert (await agent.ok("context_switch", {"name": "notes"}))["name"] == "notes"
        assert (await agent.ok("context_status"))["active"]["name"] == "notes"
        assert (await agent.ok("context_deactivate"))["deactivated"] == "notes"
        dry = await agent.ok("context_rollback", {"context": "plans", "toVersion": 1, "dryRun": True})
        assert dry["recoveryPoint"] is None
        denied = await agent.fail("context_rollback", {"context": "plans", "toVersion": 1})
        assert denied["kind"] == "AccessDenied"
    async with open_agent(env) as later:  # the read-only switch left no last-active record
        assert (await later.ok("context_status"))["active"]["name"] == "plans"
