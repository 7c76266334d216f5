"""Two editors on one workspace are two server processes sharing one store: both read and write,
each sees the other's versions, and `context/didChange` tells each client about every version,
its own (by its session id) and the other's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.harness import Client, assert_error

# processes sharing a store: the client profile changes nothing
pytestmark = [pytest.mark.one_profile, pytest.mark.postgresql_too]


async def _session(client: Client) -> str:
    status = await client.request("context/status")
    return str(status["session"]["id"])


async def test_two_editors_see_each_others_versions(open_client: Callable[..., Any]) -> None:
    left = await open_client(client_name="left")
    right = await open_client(client_name="right")
    left_id, right_id = await _session(left), await _session(right)
    assert left_id != right_id
    left_pid = left.lsp._server.pid  # type: ignore[union-attr]
    assert left_pid != right.lsp._server.pid  # type: ignore[union-attr]

    await left.request("context/create", {"name": "shared"})
    event = await right.wait_for("context/didChange", lambda e: e["context"] == "shared")
    assert event == {
        "context": "shared",
        "version": 1,
        "kind": "create",
        "session": left_id,
        "changedKeys": [],
    }

    result = await right.request(
        "context/update", {"context": "shared", "set": {"from": "right", "class": 1}}
    )
    assert result["version"] == 2
    event = await left.wait_for("context/didChange", lambda e: e["context"] == "shared" and e["version"] == 2)
    assert event == {
        "context": "shared",
        "version": 2,
        "kind": "update",
        "session": right_id,
        "changedKeys": ["class", "from"],
    }
    own = await right.wait_for("context/didChange", lambda e: e["context"] == "shared" and e["version"] == 2)
    assert own["session"] == right_id
    got = await left.request("context/get", {"context": "shared"})
    assert got["version"] == 2 and got["data"] == {"from": "right", "class": 1}

    # writes from both, interleaved: versions are contiguous and each side reads the other's
    for n in range(5):
        await left.request("context/update", {"context": "shared", "set": {"left": n}})
        await right.request("context/update", {"context": "shared", "set": {"right": n}})
    for client in (left, right):
        got = await client.request("context/get", {"context": "shared"})
        assert got["version"] == 12 and got["data"] == {"from": "right", "class": 1, "left": 4, "right": 4}
    history = await left.request("context/history", {"context": "shared"})
    assert [e["version"] for e in history["entries"]] == list(range(12, 0, -1))
    assert {e["session"] for e in history["entries"][:10]} == {left_id, right_id}
    for client in (left, right):
        await client.wait_for("context/didChange", lambda e: e["context"] == "shared" and e["version"] == 12)
        versions = [
            e["version"] for e in client.notifications["context/didChange"] if e["context"] == "shared"
        ]
        assert versions == list(range(1, 13))

    # the default context too: a write to the active context of the other session
    await right.request("context/update", {"set": {"note": "hi"}})
    event = await left.wait_for("context/didChange", lambda e: e["context"] == "default")
    assert event["session"] == right_id and event["version"] == 2
    assert (await left.request("context/get"))["data"] == {"note": "hi"}


async def test_concurrent_writers_merge_or_conflict_on_their_keys(open_client: Callable[..., Any]) -> None:
    left = await open_client()
    right = await open_client()
    await left.request("context/update", {"set": {"a": 0, "b": 0}})
    base = (await right.request("context/get"))["version"]
    await left.request("context/update", {"baseVersion": base, "set": {"a": 1}})
    merged = await right.request("context/update", {"baseVersion": base, "set": {"b": 1}})
    assert merged["merged"] is True and merged["version"] == base + 2
    error = await right.error("context/update", {"baseVersion": base, "set": {"a": 2}})
    assert_error(error, -32001, "VersionConflict")
    assert error["data"] == {"kind": "VersionConflict", "currentVersion": base + 2, "conflictingKeys": ["a"]}
    assert (await left.request("context/get"))["data"] == {"a": 1, "b": 1}

    # both hammer the same context at once: every update lands, versions stay contiguous
    async def burst(client: Client, key: str) -> list[int]:
        return [(await client.request("context/update", {"set": {key: n}}))["version"] for n in range(15)]

    left_versions, right_versions = await asyncio.gather(burst(left, "l"), burst(right, "r"))
    assert sorted(left_versions + right_versions) == list(range(base + 3, base + 33))
    assert (await right.request("context/get"))["data"] == {"a": 1, "b": 1, "l": 14, "r": 14}


async def test_create_and_delete_in_one_editor_show_in_the_other(open_client: Callable[..., Any]) -> None:
    left = await open_client()
    right = await open_client()
    await left.request("context/create", {"name": "temp"})
    assert (await right.request("context/info", {"name": "temp"}))["status"] == "inactive"
    error = await right.error("context/create", {"name": "temp"})
    assert_error(error, -32009, "AlreadyExists")
    await right.request("context/switch", {"name": "temp"})
    error = await left.error("context/delete", {"name": "missing"})
    assert_error(error, -32002, "ContextNotFound")
    await right.request("context/switch", {"name": "default"})
    assert await left.request("context/delete", {"name": "temp"}) == {"deleted": True}
    assert (await right.request("context/info", {"name": "temp"}))["status"] == "nonexistent"
    assert_error(await right.error("context/get", {"context": "temp"}), -32002, "ContextNotFound")
    await right.request("context/create", {"name": "temp"})
    assert (await left.request("context/get", {"context": "temp"}))["version"] == 1


async def test_a_context_deleted_by_the_other_editor_is_no_longer_active(
    open_client: Callable[..., Any],
) -> None:
    left = await open_client()
    right = await open_client()
    await right.request("context/switch", {"name": "doomed", "create": True})
    await left.request("context/delete", {"name": "doomed"})
    assert_error(await right.error("context/get"), -32002, "ContextNotFound")
    status = await right.request("context/status")
    assert status["active"] is None and status["contexts"] == 1
    assert_error(await right.error("context/get"), -32004, "InvalidState")
    assert (await right.request("context/switch", {"name": "default"}))["version"] == 1
