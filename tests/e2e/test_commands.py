"""Any LSP editor can drive Groundhog through `workspace/executeCommand`: each `groundhog.<verb>`
does what `context/<verb>` does and answers the same (results and errors)."""

from __future__ import annotations

import json
from typing import Any

from lsprotocol import types

from tests.e2e.harness import VERBS, Client, Env, assert_error


def _comparable(value: Any) -> Any:
    """Drop what differs between two otherwise equal answers (times, snapshot ids)."""
    if isinstance(value, dict):
        return {
            k: _comparable(v)
            for k, v in value.items()
            if k not in ("lastModified", "timestamp", "id", "recoveryPoint", "snapshotId")
        }
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


async def test_the_server_lists_every_command(client: Client) -> None:
    provider = client.init.capabilities.execute_command_provider
    assert provider is not None
    assert sorted(provider.commands) == sorted(f"groundhog.{verb}" for verb in VERBS)


async def test_each_command_answers_like_its_request(client: Client, env: Env) -> None:
    async def both(verb: str, request_params: dict[str, Any], command_params: dict[str, Any]) -> Any:
        by_request = await client.request(f"context/{verb}", request_params)
        by_command = await client.command(verb, command_params)
        renamed = json.loads(json.dumps(by_command).replace('"c"', '"r"'))
        assert _comparable(renamed) == _comparable(by_request), verb
        return by_request

    async def same(verb: str, params: dict[str, Any] | None = None) -> Any:
        by_request = await client.request(f"context/{verb}", params)
        assert await client.command(verb, params) == by_request, verb
        return by_request

    # writes, each on its own context so the two answers can be compared
    created = await both("create", {"name": "r"}, {"name": "c"})
    assert created["version"] == 1
    await both("update", {"context": "r", "set": {"class": 1}}, {"context": "c", "set": {"class": 1}})
    await both("update", {"context": "r", "remove": ["class"]}, {"context": "c", "remove": ["class"]})
    patch = [{"op": "add", "path": "/from", "value": {"/src/a.py": 1}}]
    await both("update", {"context": "r", "patch": patch}, {"context": "c", "patch": patch})
    await both("snapshot", {"context": "r", "label": "s"}, {"context": "c", "label": "s"})
    await both("rollback", {"context": "r", "toVersion": 2}, {"context": "c", "toVersion": 2})
    await both("switch", {"name": "r"}, {"name": "c"})
    await client.command("switch", {"name": "default"})
    await both("delete", {"name": "r"}, {"name": "c"})
    assert [c["name"] for c in (await client.request("context/list"))["contexts"]] == ["default"]
    await client.request("context/create", {"name": "r", "from": {}})
    await client.command("create", {"name": "c", "from": {}})

    # reads of the same state answer the same
    await client.request("context/update", {"set": {"k": "v"}})
    await same("status", {})
    await same("status")
    await same("list")
    await same("info", {"name": "default"})
    await same("info", {"name": "missing"})
    await same("get", {})
    await same("get", {"version": 1, "keys": ["k"]})
    await same("snapshots", {})
    await same("history", {"limit": 5})
    await same("diff", {"fromVersion": 1})
    await same("editor", {})
    await same("rollback", {"toVersion": 1, "dryRun": True})
    assert await client.command("deactivate", {}) == {"deactivated": "default"}
    assert (await client.request("context/status"))["active"] is None


async def test_commands_fail_like_their_requests(client: Client, env: Env) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("delete", {"name": "default"}),
        ("switch", {"name": "missing"}),
        ("get", {"context": "missing"}),
        ("get", {"version": 5}),
        ("create", {"name": "default"}),
        ("update", {"set": {"a": 1}, "patch": []}),
        ("update", {"baseVersion": 9, "set": {"a": 1}}),
        ("info", {"name": "../x"}),
        ("status", {"extra": 1}),
        ("rollback", {"snapshotId": "nope"}),
    ]
    for verb, params in cases:
        by_request = await client.error(f"context/{verb}", params)
        by_command = await _command_error(client, verb, [params])
        assert by_command == by_request, verb
        assert_error(by_command, by_request["code"], by_request["data"]["kind"], env=env)
    # a command takes one argument, the params object
    error = await _command_error(client, "status", [{}, {}])
    assert_error(error, -32602, "InvalidParams")
    for arguments in (["default"], [1], [[]]):
        assert_error(await _command_error(client, "info", arguments), -32602, "InvalidParams")
    error = await _command_error(client, "nosuchverb", [])
    assert error["code"] in (-32601, -32602), error
    assert "Traceback" not in error["message"]


async def _command_error(client: Client, verb: str, arguments: list[Any]) -> dict[str, Any]:
    from pygls.exceptions import JsonRpcException

    try:
        result = await client.lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command=f"groundhog.{verb}", arguments=arguments)
        )
    except JsonRpcException as error:
        return {"code": error.code, "message": error.message, "data": error.data}
    raise AssertionError(f"groundhog.{verb} succeeded with {result!r}")
