"""An agent live with the editors: resources and their change events in both MCP protocol eras
(``resources/subscribe`` + ``notifications/resources/updated`` for clients on handshake-era versions,
``subscriptions/listen`` streams from 2026-07-28), the ``resume`` prompt, and the cross-face stories
(an agent's update reaching an editor, an editor's state reaching an agent in another process, an
agent's rollback undone from an editor, two agents racing on one context)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from lsprotocol import types
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated

from groundhog import create_manager
from groundhog.changes import Change
from tests.e2e.harness import Client, Env, start_client
from tests.e2e.mcp_harness import ERAS, LEGACY, MODERN, Agent, open_agent

pytestmark = [
    pytest.mark.one_profile,
    pytest.mark.postgresql_too,
    # the handshake era's resources/subscribe is what most agents still send: test it on purpose
    pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed"),
]

EVENT_TIMEOUT_S = 10  # the contract is 200 ms (measured in the bench); tests only wait for it


def open_document(editor: Client, uri: str, version: int) -> None:
    editor.lsp.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", version, "x = 1\n"))
    )


async def read_json(agent: Agent, uri: str) -> Any:
    result = await agent.client.read_resource(uri)
    (content,) = result.contents
    assert content.mime_type == "application/json"
    return json.loads(content.text)  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ERAS)
async def test_resources_are_listed_templated_and_read_as_the_tools_answer(env: Env, mode: str) -> None:
    async with open_agent(env, mode=mode) as agent:
        await agent.ok("context_create", {"name": "team/plan"})
        await agent.ok("context_update", {"context": "team/plan", "set": {"goal": "ship"}})
        listed = {str(r.uri) for r in (await agent.client.list_resources()).resources}
        assert listed == {
            "groundhog://contexts",
            "groundhog://editor",
            "groundhog://context/default",
            "groundhog://context/team%2Fplan",
        }
        templates = {
            t.uri_template for t in (await agent.client.list_resource_templates()).resource_templates
        }
        assert templates == {"groundhog://context/{name}", "groundhog://context/{name}/history"}
        head = await read_json(agent, "groundhog://context/team%2Fplan")
        assert head == await agent.ok("context_get", {"context": "team/plan"})
        history = await read_json(agent, "groundhog://context/team%2Fplan/history")
        assert history == await agent.ok("context_history", {"context": "team/plan"})
        assert await read_json(agent, "groundhog://contexts") == await agent.ok("context_list")
        assert await read_json(agent, "groundhog://editor") == await agent.ok("editor_state")


@pytest.mark.parametrize("uri", ["groundhog://nothing", "groundhog://context/..%2Fx", "file:///etc/passwd"])
async def test_reading_an_unknown_resource_is_an_error_not_a_crash(env: Env, uri: str) -> None:
    async with open_agent(env) as agent:
        with pytest.raises(Exception) as raised:
            await agent.client.read_resource(uri)
        assert "Traceback" not in str(raised.value)
        assert (await agent.ok("context_status"))["active"]["name"] == "default"


async def test_a_missing_context_resource_answers_context_not_found(env: Env) -> None:
    async with open_agent(env) as agent:
        with pytest.raises(Exception) as raised:
            await agent.client.read_resource("groundhog://context/ghost")
        assert "ghost" in str(raised.value) and "does not exist" in str(raised.value)


async def test_handshake_era_subscriptions_hear_every_sessions_changes(env: Env) -> None:
    editor = await start_client(env)
    try:
        async with open_agent(env, mode=LEGACY) as agent:
            uri = "groundhog://context/default"
            await agent.client.subscribe_resource(uri)
            await editor.request("context/update", {"set": {"from": "editor"}})  # another process
            await agent.wait_for(
                "notifications/resources/updated", lambda p: p["uri"] == uri, EVENT_TIMEOUT_S
            )
            await agent.ok("context_update", {"set": {"from": "agent"}})  # this session
            await agent.wait_for(
                "notifications/resources/updated",
                lambda p: p["uri"] == uri,
                EVENT_TIMEOUT_S,
            )
            updates = [p for m, p in agent.notifications if m == "notifications/resources/updated"]
            assert all(p["uri"] == uri for p in updates)  # nothing it did not subscribe to
            await editor.request("context/create", {"name": "second"})
            await agent.wait_for("notifications/resources/list_changed", lambda _: True, EVENT_TIMEOUT_S)
            count = sum(m == "notifications/resources/list_changed" for m, _ in agent.notifications)
            await editor.request("context/delete", {"name": "second"})
            await agent.wait_for(
                "notifications/resources/list_changed",
                lambda _: (
                    sum(m == "notifications/resources/list_changed" for m, _ in agent.notifications) > count
                ),
                EVENT_TIMEOUT_S,
            )
            history = uri + "/history"
            await agent.client.subscribe_resource(history)
            await agent.client.unsubscribe_resource(uri)
            before = len(agent.notifications)
            await editor.request("context/update", {"set": {"from": "editor again"}})
            # a barrier instead of a sleep: the same change, on the URI still subscribed
            await agent.wait_for(
                "notifications/resources/updated", lambda p: p["uri"] == history, EVENT_TIMEOUT_S
            )
            later = [
                p["uri"] for m, p in agent.notifications[before:] if m == "notifications/resources/updated"
            ]
            assert uri not in later
    finally:
        await editor.close()


async def test_modern_listen_streams_hear_every_sessions_changes(env: Env) -> None:
    editor = await start_client(env)
    try:
        async with open_agent(env, mode=MODERN) as agent, open_agent(env, mode=LEGACY, name="other") as other:
            uri = "groundhog://context/default"
            await agent.ok("context_status")
            async with agent.client.listen(
                resource_subscriptions=[uri], resources_list_changed=True
            ) as stream:
                events: list[Any] = []

                async def next_event() -> Any:
                    event = await asyncio.wait_for(stream.__anext__(), EVENT_TIMEOUT_S)
                    events.append(event)
                    return event

                await editor.request("context/update", {"set": {"by": "editor"}})
                assert await next_event() == ResourceUpdated(uri=uri)
                await other.ok("context_update", {"set": {"by": "another agent"}})
                assert await next_event() == ResourceUpdated(uri=uri)
                await other.ok("context_create", {"name": "fresh"})
                assert await next_event() == ResourcesListChanged()
                assert all(isinstance(e, ResourceUpdated | ResourcesListChanged) for e in events)
    finally:
        await editor.close()


async def test_the_editor_resource_changes_when_an_editor_persists_its_state(env: Env) -> None:
    editor = await start_client(env, options={"editorFlushMs": 0})
    try:
        async with open_agent(env, mode=LEGACY) as agent:
            await agent.client.subscribe_resource("groundhog://editor")
            open_document(editor, "file:///w/a.py", 1)
            await agent.wait_for(
                "notifications/resources/updated", lambda p: p["uri"] == "groundhog://editor", EVENT_TIMEOUT_S
            )
            state = await read_json(agent, "groundhog://editor")
            (live,) = state["sessions"]
            assert [d["uri"] for d in live["editor"]["openDocuments"]] == ["file:///w/a.py"]
    finally:
        await editor.close()


async def test_the_resume_prompt_renders_the_brief(env: Env) -> None:
    async with open_agent(env) as agent:
        await agent.ok("context_update", {"set": {"plan": ["one"]}})
        await agent.ok("context_snapshot", {"label": "checkpoint"})
        prompts = {p.name: p for p in (await agent.client.list_prompts()).prompts}
        assert set(prompts) == {"resume"}
        assert [a.name for a in prompts["resume"].arguments or ()] == ["sinceVersion"]
        rendered = await agent.client.get_prompt("resume", {"sinceVersion": "1"})
        (message,) = rendered.messages
        text = message.content.text  # type: ignore[union-attr]
        assert message.role == "user"
        assert "'default' at version 2" in text and "plan" in text and "checkpoint" in text
        with pytest.raises(Exception, match="sinceVersion"):
            await agent.client.get_prompt("resume", {"sinceVersion": "soon"})


# -- cross-face ----------------------------------------------------------------------------------


async def test_an_agents_update_reaches_the_editor_with_the_agents_session_id(env: Env) -> None:
    editor = await start_client(env)
    try:
        async with open_agent(env) as agent:
            session = (await agent.ok("context_status"))["session"]["id"]
            result = await agent.ok("context_update", {"set": {"plan": "from the agent"}})
            change = await editor.wait_for(
                "context/didChange", lambda p: p["version"] == result["version"], EVENT_TIMEOUT_S
            )
            assert change == {
                "context": "default",
                "version": result["version"],
                "kind": "update",
                "session": session,
                "changedKeys": ["plan"],
            }
    finally:
        await editor.close()


async def test_the_editors_tracked_state_shows_in_editor_state_and_resume(env: Env) -> None:
    editor = await start_client(env, client_name="vscode", options={"editorFlushMs": 50})
    try:
        editor_session = (await editor.request("context/status", {}))["session"]["id"]
        open_document(editor, "file:///w/main.py", 3)
        selection = {"start": {"line": 4, "character": 2}, "end": {"line": 4, "character": 9}}
        editor.notify(
            "context/didChangeEditor",
            {
                "activeUri": "file:///w/main.py",
                "selections": [{"uri": "file:///w/main.py", "ranges": [selection]}],
            },
        )
        async with open_agent(env) as agent:
            for _ in range(200):  # persisted within editorFlushMs, read from another process
                state = await agent.ok("editor_state")
                if state["sessions"] and state["sessions"][0]["editor"]["activeUri"]:
                    break
                await asyncio.sleep(0.05)
            (live,) = state["sessions"]
            assert live["session"] == editor_session and live["client"] == "vscode"
            assert live["editor"]["activeUri"] == "file:///w/main.py"
            assert live["editor"]["selections"] == [{"uri": "file:///w/main.py", "ranges": [selection]}]
            assert live["context"] == "default" and isinstance(live["ageMs"], int) and live["savedAt"]
            assert state["last"]["context"] == "default"
            assert state["last"]["editor"]["activeUri"] == "file:///w/main.py"
            brief = await agent.ok("resume")
            assert brief["editor"]["sessions"][0]["editor"]["activeUri"] == "file:///w/main.py"
            assert brief["context"]["name"] == "default"
    finally:
        await editor.close()


async def test_an_agents_rollback_is_undone_from_an_editor(env: Env) -> None:
    editor = await start_client(env)
    try:
        async with open_agent(env) as agent:
            await agent.ok("context_update", {"set": {"plan": "v1"}})
            await agent.ok("context_update", {"set": {"plan": "v2", "notes": "keep me"}})
            rolled = await agent.ok("context_rollback", {"toVersion": 2})
            assert rolled["recoveryPoint"] and rolled["changedKeys"] == ["notes", "plan"]
            assert (await editor.request("context/get", {}))["data"] == {"plan": "v1"}
            undone = await editor.request("context/rollback", {"snapshotId": rolled["recoveryPoint"]})
            assert undone["restoredFrom"] == {"snapshotId": rolled["recoveryPoint"]}
            assert (await agent.ok("context_get"))["data"] == {"plan": "v2", "notes": "keep me"}
            kinds = [e["kind"] for e in (await agent.ok("context_history"))["entries"]]
            assert kinds[:2] == ["restore", "rollback"]
    finally:
        await editor.close()


async def test_two_agents_with_stale_base_versions_merge_or_conflict_like_two_editors(env: Env) -> None:
    async with open_agent(env, name="a") as first, open_agent(env, name="b") as second:
        base = (await first.ok("context_update", {"set": {"plan": "p", "notes": "n"}}))["version"]
        await first.ok("context_update", {"baseVersion": base, "set": {"plan": "first"}})
        merged = await second.ok("context_update", {"baseVersion": base, "set": {"notes": "second"}})
        assert merged["merged"] is True
        conflict = await second.fail("context_update", {"baseVersion": base, "set": {"plan": "second"}})
        assert (conflict["kind"], conflict["conflictingKeys"]) == ("VersionConflict", ["plan"])
        assert (await first.ok("context_get"))["data"] == {"plan": "first", "notes": "second"}


def _another_process_writes(env: Env, work: Any) -> None:
    """``work(manager)`` through the library in this test process: another process than the
    server's, as an editor or the CLI would be."""
    manager = create_manager(
        env.workspace, store_dir=env.store_dir, config_dir=env.config_dir, store_url=env.store_url
    )
    try:
        work(manager)
    finally:
        manager.close()


def _create_then_delete(manager: Any) -> None:
    manager.create_context("blink")
    manager.delete_context("blink")  # within a few milliseconds: between two of the server's polls


async def test_a_subscription_opened_before_any_tool_call_hears_every_later_change(env: Env) -> None:
    _another_process_writes(env, lambda m: m.create_context("default"))
    async with open_agent(env, mode=LEGACY) as agent:
        uri = "groundhog://context/default"
        await agent.client.subscribe_resource(uri)  # the session's first request after initialize
        _another_process_writes(env, lambda m: m.tracker("default").update(Change(set={"a": 1})))
        await agent.wait_for("notifications/resources/updated", lambda p: p["uri"] == uri, EVENT_TIMEOUT_S)
        _another_process_writes(env, _create_then_delete)
        changed = "notifications/resources/list_changed"
        await agent.wait_for(changed, lambda _: sum(m == changed for m, _p in agent.notifications) >= 2)
        await agent.ok("context_list")  # a barrier: the watcher has polled past both since
        await agent.ok("context_list")
        assert sum(m == changed for m, _p in agent.notifications) == 2


async def test_a_listen_stream_opened_as_the_first_request_hears_every_later_change(env: Env) -> None:
    _another_process_writes(env, lambda m: m.create_context("default"))
    async with open_agent(env, mode=MODERN) as agent:
        uri = "groundhog://context/default"
        async with agent.client.listen(resource_subscriptions=[uri], resources_list_changed=True) as stream:

            async def next_event() -> Any:
                return await asyncio.wait_for(stream.__anext__(), EVENT_TIMEOUT_S)

            _another_process_writes(env, lambda m: m.tracker("default").update(Change(set={"a": 1})))
            assert await next_event() == ResourceUpdated(uri=uri)
            _another_process_writes(env, _create_then_delete)
            events = [await next_event(), await next_event()]
            assert events == [ResourcesListChanged(), ResourcesListChanged()]
