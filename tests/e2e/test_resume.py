"""Resuming where the last session left off: the active context, its data and the editor (open
documents, active document, cursors) come back after a clean restart and after the server was
killed; editor state is persisted at most every editorFlushMs and at save, close, switch, snapshot
and shutdown; keystrokes never make versions."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from lsprotocol import types

from tests.e2e.harness import Client, Env

EMPTY = {"openDocuments": [], "activeUri": None, "selections": []}
SLOW_FLUSH = {"editorFlushMs": 600_000}  # only the explicit triggers persist


def _uri(env: Env, name: str) -> str:
    return (env.workspace / name).as_uri()


def _open(client: Client, uri: str, language: str = "python", version: int = 1) -> None:
    client.lsp.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, language, version, "text\n"))
    )


def _type(client: Client, uri: str, version: int) -> None:
    client.lsp.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version, uri),
            [types.TextDocumentContentChangeWholeDocument(f"text {version}\n")],
        )
    )


def _save(client: Client, uri: str) -> None:
    client.lsp.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))


def _close(client: Client, uri: str) -> None:
    client.lsp.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))


def _cursor(uri: str, line: int, character: int, end_line: int | None = None) -> dict[str, Any]:
    end = {"line": line if end_line is None else end_line, "character": character}
    return {"uri": uri, "ranges": [{"start": {"line": line, "character": character}, "end": end}]}


async def _persisted(client: Client, context: str | None = None) -> Any:
    params = {} if context is None else {"context": context}
    return (await client.request("context/get", params))["editor"]


async def _until_persisted(
    client: Client, predicate: Callable[[Any], bool], timeout: float = 10, context: str | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        editor = await _persisted(client, context)
        if predicate(editor):
            return editor
        assert time.monotonic() < deadline, editor
        await asyncio.sleep(0.05)


async def test_reopened_editor_gets_back_its_files(open_client: Callable[..., Any], env: Env) -> None:
    first = await open_client()
    main, util = _uri(env, "main.py"), _uri(env, "util.rs")
    _open(first, main)
    _open(first, util, "rust", 3)
    _type(first, util, 4)
    first.notify("context/didChangeEditor", {"activeUri": util, "selections": [_cursor(util, 10, 2, 12)]})
    first.notify("context/didChangeEditor", {"selections": [_cursor(main, 1, 0)]})
    await first.request("context/switch", {"name": "feature/resume", "create": True})
    result = await first.request("context/update", {"set": {"task": "resume", "class": "Editor"}})
    await first.close()

    second = await open_client()
    status = await second.request("context/status")
    # didRestore arrives before the first answer to a context request
    assert len(second.notifications["context/didRestore"]) == 1
    restore = second.notifications["context/didRestore"][0]
    assert restore["context"] == "feature/resume" and restore["version"] == result["version"]
    editor = restore["editor"]
    assert editor["activeUri"] == util
    assert sorted(editor["openDocuments"], key=lambda d: d["uri"]) == sorted(
        [
            {"uri": main, "languageId": "python", "version": 1, "dirty": False},
            {"uri": util, "languageId": "rust", "version": 4, "dirty": True},
        ],
        key=lambda d: d["uri"],
    )
    assert sorted(editor["selections"], key=lambda s: s["uri"]) == sorted(
        [_cursor(util, 10, 2, 12), _cursor(main, 1, 0)], key=lambda s: s["uri"]
    )
    assert status["active"] == {"name": "feature/resume", "version": result["version"]}
    got = await second.request("context/get")
    assert got["data"] == {"task": "resume", "class": "Editor"} and got["editor"] == editor
    # the new session's live editor starts empty; it does not overwrite the stored one until used
    assert await second.request("context/editor") == EMPTY
    await second.close()
    third = await open_client()
    await third.request("context/status")
    assert third.notifications["context/didRestore"] == [restore]


@pytest.mark.one_profile
async def test_the_last_switch_wins_for_the_next_session(open_client: Callable[..., Any]) -> None:
    first = await open_client()
    second = await open_client()
    await first.request("context/switch", {"name": "a", "create": True})
    await second.request("context/switch", {"name": "b", "create": True})
    await first.request("context/update", {"set": {"x": 1}})
    await first.close()
    await second.close()
    third = await open_client()
    assert (await third.request("context/status"))["active"]["name"] == "b"
    assert third.notifications["context/didRestore"][0]["context"] == "b"


async def test_editor_state_is_persisted_at_most_every_flush_interval(
    open_client: Callable[..., Any], env: Env
) -> None:
    client = await open_client(options={"editorFlushMs": 500})
    uri = _uri(env, "a.py")
    _open(client, uri)
    client.notify("context/didChangeEditor", {"activeUri": uri, "selections": [_cursor(uri, 3, 4)]})
    live = await client.request("context/editor")
    assert live["activeUri"] == uri and live["openDocuments"][0]["uri"] == uri
    assert await _persisted(client) == EMPTY
    persisted = await _until_persisted(client, lambda e: e["activeUri"] == uri)
    assert persisted == await client.request("context/editor")


async def test_keystrokes_never_make_versions(open_client: Callable[..., Any], env: Env) -> None:
    client = await open_client(options={"editorFlushMs": 0})
    uri = _uri(env, "typing.py")
    _open(client, uri)
    for version in range(2, 60):
        _type(client, uri, version)
    client.notify("context/didChangeEditor", {"activeUri": uri, "selections": [_cursor(uri, 0, 59)]})
    live = await client.request("context/editor")
    assert live["openDocuments"] == [{"uri": uri, "languageId": "python", "version": 59, "dirty": True}]
    await _until_persisted(client, lambda e: e["openDocuments"] and e["openDocuments"][0]["version"] == 59)
    _save(client, uri)
    live = await client.request("context/editor")
    assert live["openDocuments"][0]["dirty"] is False
    assert (await client.request("context/get"))["version"] == 1
    assert [e["version"] for e in (await client.request("context/history"))["entries"]] == [1]
    # a barrier instead of a sleep: a real change, whose didChange comes after any a keystroke made
    marker = await client.request("context/update", {"set": {"marker": 1}})
    await client.wait_for("context/didChange", lambda p: p["version"] == marker["version"])
    assert [p["version"] for p in client.notifications["context/didChange"]] == [marker["version"]]


async def test_save_close_switch_and_snapshot_persist_the_editor_at_once(
    open_client: Callable[..., Any], env: Env
) -> None:
    client = await open_client(options=SLOW_FLUSH)
    a, b = _uri(env, "a.py"), _uri(env, "b.py")
    _open(client, a)
    _open(client, b)
    assert await _persisted(client) == EMPTY  # nothing yet: the interval is long
    _save(client, a)
    editor = await _until_persisted(client, lambda e: len(e["openDocuments"]) == 2)

    _close(client, b)
    editor = await _until_persisted(client, lambda e: len(e["openDocuments"]) == 1)
    assert editor["openDocuments"][0]["uri"] == a

    client.notify("context/didChangeEditor", {"activeUri": a, "selections": [_cursor(a, 7, 1)]})
    await client.request("context/editor")  # the notification has been handled
    snap = await client.request("context/snapshot", {"label": "with editor"})
    assert (await _persisted(client))["activeUri"] == a
    assert (await _persisted(client))["selections"] == [_cursor(a, 7, 1)]

    # the editor follows the session: switching persists it into the context left and the new one
    client.notify("context/didChangeEditor", {"activeUri": a, "selections": [_cursor(a, 9, 9)]})
    await client.request("context/editor")
    await client.request("context/switch", {"name": "next", "create": True})
    assert (await _persisted(client, "default"))["selections"] == [_cursor(a, 9, 9)]
    assert (await _persisted(client))["selections"] == [_cursor(a, 9, 9)]

    # a snapshot keeps the editor state it captured; restoring it brings that state back
    await client.request("context/switch", {"name": "default"})
    client.notify("context/didChangeEditor", {"activeUri": None, "selections": [_cursor(a, 1, 1)]})
    await client.request("context/editor")
    await client.request("context/switch", {"name": "next"})
    assert (await _persisted(client, "default"))["selections"] == [_cursor(a, 1, 1)]
    await client.request("context/update", {"context": "default", "set": {"k": 1}})
    await client.request("context/rollback", {"context": "default", "snapshotId": snap["id"]})
    assert (await _persisted(client, "default"))["selections"] == [_cursor(a, 7, 1)]


async def test_shutdown_persists_the_editor(open_client: Callable[..., Any], env: Env) -> None:
    first = await open_client(options=SLOW_FLUSH)
    uri = _uri(env, "late.py")
    _open(first, uri, "python", 7)
    first.notify("context/didChangeEditor", {"activeUri": uri})
    await first.request("context/editor")
    await first.close()
    second = await open_client()
    await second.request("context/status")
    restored = second.notifications["context/didRestore"][0]["editor"]
    assert restored["activeUri"] == uri
    assert restored["openDocuments"] == [{"uri": uri, "languageId": "python", "version": 7, "dirty": False}]


async def test_a_session_without_editor_tracking_keeps_no_editor(
    open_client: Callable[..., Any], env: Env
) -> None:
    client = await open_client(options={"editorTracking": False, "editorFlushMs": 0})
    uri = _uri(env, "x.py")
    _open(client, uri)
    client.notify("context/didChangeEditor", {"activeUri": uri})
    _save(client, uri)
    assert await client.request("context/editor") == EMPTY
    await client.request("context/snapshot")
    assert await _persisted(client) == EMPTY


async def test_malformed_editor_notifications_are_ignored(client: Client, env: Env) -> None:
    uri = _uri(env, "ok.py")
    for params in (
        None,
        [],
        "x",
        {"activeUri": 5},
        {"selections": "nope"},
        {"selections": [{"uri": uri}]},
        {"selections": [{"uri": uri, "ranges": [{"start": {"line": -1, "character": 0}}]}]},
        {"selections": [[1, 2]]},
    ):
        client.notify("context/didChangeEditor", params)
    client.notify("context/didChangeEditor", {"activeUri": uri, "extra": True})
    assert (await client.request("context/editor"))["activeUri"] == uri
    assert (await client.request("context/status"))["active"]["name"] == "default"


@pytest.mark.one_profile
async def test_every_acknowledged_update_survives_kill_9(open_client: Callable[..., Any], env: Env) -> None:
    writer = await open_client(options={"editorFlushMs": 50})
    await writer.request("context/create", {"name": "durable", "activate": True})
    acknowledged = {}
    for n in range(40):
        result = await writer.request("context/update", {"set": {f"k{n % 7}": n, "n": n}})
        acknowledged[result["version"]] = n
    snap = await writer.request("context/snapshot", {"label": "last"})
    uri = _uri(env, "crash.py")
    _open(writer, uri)
    writer.notify("context/didChangeEditor", {"activeUri": uri, "selections": [_cursor(uri, 4, 2)]})
    flushed = await _until_persisted(writer, lambda e: e["activeUri"] == uri)
    pid = writer.lsp._server.pid  # type: ignore[union-attr]
    os.kill(pid, signal.SIGKILL)
    await asyncio.wait_for(writer.lsp._server.wait(), 10)  # type: ignore[union-attr]
    assert writer.lsp._server.returncode == -signal.SIGKILL  # type: ignore[union-attr]

    reader = await open_client()
    await reader.request("context/status")
    restore = reader.notifications["context/didRestore"][0]
    assert restore["context"] == "durable" and restore["version"] == max(acknowledged)
    assert restore["editor"] == flushed  # the editor state as of its last flush
    for version, n in acknowledged.items():
        got = await reader.request("context/get", {"version": version, "keys": ["n"]})
        assert got["data"] == {"n": n}
    assert [s["id"] for s in (await reader.request("context/snapshots"))["snapshots"]] == [snap["id"]]
    # the killed session is not counted as live
    listed = {c["name"]: c for c in (await reader.request("context/list"))["contexts"]}
    assert listed["durable"]["sessions"] == 1
    assert reader.notifications["context/didRecover"] == []
