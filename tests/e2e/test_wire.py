"""The wire itself, with hand-written frames over the server's stdin/stdout: oversized frames,
broken JSON, missing params, requests after shutdown, and the ways a stdio server must end (exit,
stdin EOF, the editor's process gone)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import READ_TIMEOUT_S, Env, RawPeer, assert_error


class RawServer(RawPeer):
    """`groundhog serve` on pipes; frames written and read by hand."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None and process.stdin is not None
        super().__init__(process.stdout, process.stdin)
        self.process = process

    @classmethod
    async def start(cls, env: Env, *args: str) -> RawServer:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "groundhog",
            "serve",
            *args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env.environ(),
        )
        return cls(process)

    async def exited(self, timeout: float = 10) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        return (await asyncio.wait_for(self.process.stderr.read(), READ_TIMEOUT_S)).decode()

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


@pytest.fixture
async def raw(env: Env) -> AsyncIterator[list[RawServer]]:
    """Raw servers a test starts (killed at teardown if still running)."""
    started: list[RawServer] = []
    yield started
    for server in started:
        server.kill()
        await server.process.wait()


async def _start(raw: list[RawServer], env: Env, *args: str) -> RawServer:
    server = await RawServer.start(env, *args)
    raw.append(server)
    return server


async def test_an_oversized_frame_closes_the_connection_unread(raw: list[RawServer], env: Env) -> None:
    server = await _start(raw, env, "--max-message-bytes", "4096")
    await server.initialize(env)
    assert "result" in await server.call("context/status", {})
    # the header claims 1 GB; only a few bytes follow and the pipe stays open
    server.write(b'Content-Length: 1000000000\r\n\r\n{"jsonrpc"')
    code = await server.exited(timeout=10)  # it exits without waiting for the body (no timing asserted)
    assert code != 0
    err = await server.stderr()
    assert "1000000000" in err and "4096" in err, err
    assert "Traceback" not in err


async def test_a_frame_at_the_limit_is_served(raw: list[RawServer], env: Env) -> None:
    server = await _start(raw, env, "--max-message-bytes", "4096")
    await server.initialize(env)
    body = {"jsonrpc": "2.0", "id": 7, "method": "context/update", "params": {"set": {"pad": ""}}}
    raw_body = json.dumps(body).encode()
    body["params"]["set"]["pad"] = "x" * (4096 - len(raw_body))
    encoded = json.dumps(body).encode()
    assert len(encoded) == 4096
    server.send(encoded)
    assert (await server.response(7))["result"]["version"] == 2


async def test_broken_frames_are_skipped_and_the_server_keeps_serving(raw: list[RawServer], env: Env) -> None:
    server = await _start(raw, env)
    await server.initialize(env)
    for garbage in (
        b'{"jsonrpc": "2.0", "id": 1, "method": ',
        b"\xff\xfe not utf-8",
        b"",
        b"null",
        b"42",
        b'"text"',
        b"[]",
        b'{"id": 2, "method": "context/status"}',
        b'{"jsonrpc": "2.0"}',
        b'{"jsonrpc": "2.0", "method": 5, "id": 3}',
        b'{"jsonrpc": "2.0", "method": "context/didChangeEditor", "params": [1]}',
        b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"bad": 1}}',
        b'{"jsonrpc": "2.0", "method": "$/unknownNotification", "params": {}}',
    ):
        server.send(garbage)
    server.write(b"Content-Length: nope\r\n\r\n")
    server.write(b"X-Other: 1\r\n\r\n")
    server.write(b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n")
    server.send({"jsonrpc": "2.0", "id": "after", "method": "context/status", "params": {}})
    answer = await server.response("after")
    assert answer["result"]["active"]["name"] == "default"
    # the malformed requests that had an id were answered with an error, never with a traceback
    for message in server.unsolicited:
        if "error" in message:
            assert "Traceback" not in json.dumps(message)
            assert message["error"]["code"] in (-32600, -32602, -32700, -32601)
    # non-ASCII text: Content-Length counts bytes
    answer = await server.call("context/update", {"set": {"ключ": "значение ✓"}})
    assert answer["result"]["version"] == 2
    answer = await server.call("context/get", {})
    assert answer["result"]["data"] == {"ключ": "значение ✓"}


async def test_requests_without_params_are_answered(raw: list[RawServer], env: Env) -> None:
    server = await _start(raw, env)
    await server.initialize(env)
    for method in (
        "context/status",
        "context/list",
        "context/get",
        "context/snapshots",
        "context/history",
        "context/editor",
        "context/update",
        "context/snapshot",
    ):
        answer = await server.call(method, omit_params=True)
        assert "result" in answer, (method, answer)
        null = await server.call(method, None)
        assert "result" in null, (method, null)
    for method in ("context/info", "context/create", "context/delete", "context/switch", "context/diff"):
        answer = await server.call(method, omit_params=True)
        assert answer["error"]["code"] == -32602, (method, answer)
    answer = await server.call("context/rollback", omit_params=True)
    assert answer["error"]["code"] == -32602
    answer = await server.call("context/deactivate", omit_params=True)
    assert answer["result"] == {"deactivated": "default"}
    answer = await server.call("workspace/executeCommand", {"command": "groundhog.status"})
    assert answer["result"]["active"] is None
    answer = await server.call("context/noSuchMethod", {})
    assert answer["error"]["code"] == -32601


async def test_after_shutdown_requests_are_invalid_and_exit_ends_the_server(
    raw: list[RawServer], env: Env
) -> None:
    server = await _start(raw, env)
    await server.initialize(env)
    assert (await server.call("shutdown", None))["result"] is None
    for method, params in (("context/status", {}), ("context/update", {"set": {"a": 1}}), ("shutdown", None)):
        answer = await server.call(method, params)
        assert_error(answer["error"], -32600)
    server.send({"jsonrpc": "2.0", "method": "exit"})
    assert await server.exited() == 0


async def test_exit_without_shutdown_ends_with_an_error_code(raw: list[RawServer], env: Env) -> None:
    server = await _start(raw, env)
    await server.initialize(env)
    server.send({"jsonrpc": "2.0", "method": "exit"})
    assert await server.exited() == 1


async def test_stdin_eof_ends_the_server(raw: list[RawServer], env: Env) -> None:
    server = await _start(raw, env)
    await server.initialize(env)
    await server.call("context/update", {"set": {"kept": True}})
    assert server.process.stdin is not None
    server.process.stdin.close()
    await server.exited()
    again = await _start(raw, env)
    await again.initialize(env)
    assert (await again.call("context/get", {}))["result"]["data"] == {"kept": True}


async def test_the_server_exits_when_the_editor_process_is_gone(raw: list[RawServer], env: Env) -> None:
    editor = subprocess.Popen([sys.executable, "-c", "pass"])
    editor.wait()
    server = await _start(raw, env)
    await server.initialize(env, process_id=editor.pid)
    assert "result" in await server.call("context/status", {})
    await server.exited(timeout=10)


async def test_a_request_before_initialize_is_refused_promptly(raw: list[RawServer], env: Env) -> None:
    server = await _start(raw, env)
    answer = await server.call("context/status", {})  # answered, not held until initialize
    assert answer["error"]["code"] in (-32002, -32004), answer
    assert "Traceback" not in json.dumps(answer)
    await server.initialize(env)
    assert "result" in await server.call("context/status", {})


async def test_an_unusable_store_dir_fails_initialize_cleanly(raw: list[RawServer], env: Env) -> None:
    blocker = env.root / "a-file"
    blocker.write_text("not a directory")
    server = await _start(raw, env)
    answer = await server.initialize(env, storeDir=str(blocker / "store"))
    assert_error(answer["error"], -32005, "PersistenceError", env=env)
    refused = await server.call("context/status", {})
    assert refused["error"]["code"] == -32004
    assert "Traceback" not in await _exit_and_stderr(server)


async def test_a_store_from_a_newer_groundhog_fails_initialize_and_stays_as_it_was(
    raw: list[RawServer], env: Env
) -> None:
    first = await _start(raw, env)
    await first.initialize(env)
    assert "result" in await first.call("context/update", {"set": {"a": 1}})
    database = Path((await first.call("context/status", {}))["result"]["store"]["path"])
    await first.call("shutdown", None)
    first.send({"jsonrpc": "2.0", "method": "exit"})
    assert await first.exited() == 0
    conn = sqlite3.connect(database)
    with conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    before = database.read_bytes()

    server = await _start(raw, env)
    answer = await server.initialize(env)
    assert_error(answer["error"], -32005, "PersistenceError", env=env)
    assert "newer Groundhog" in answer["error"]["message"]
    assert database.read_bytes() == before
    assert "Traceback" not in await _exit_and_stderr(server)


async def _exit_and_stderr(server: RawServer) -> str:
    server.send({"jsonrpc": "2.0", "method": "exit"})
    await server.exited()
    return await server.stderr()


async def test_the_workspace_is_the_first_folder_else_the_root_else_none(
    raw: list[RawServer], env: Env
) -> None:
    first, second, root = (env.root / name for name in ("first", "second", "root"))
    for path in (first, second, root):
        path.mkdir()
    folders = [{"uri": first.as_uri(), "name": "first"}, {"uri": second.as_uri(), "name": "second"}]
    for params, expected in (
        ({"workspaceFolders": folders, "rootUri": root.as_uri()}, first.as_uri()),
        ({"workspaceFolders": [], "rootUri": root.as_uri()}, root.as_uri()),
        ({"workspaceFolders": None, "rootUri": None, "rootPath": str(root)}, root.as_uri()),
        ({"rootUri": None}, None),
    ):
        server = await _start(raw, env)
        answer = await server.call("initialize", {"processId": None, "capabilities": {}, **params})
        assert "result" in answer, answer
        server.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        status = (await server.call("context/status", {}))["result"]
        if expected is None:  # the no-workspace scope: its own store, not any folder's
            assert not status["workspace"]["uri"].startswith("file:"), status
        else:
            assert status["workspace"]["uri"] == expected
        await server.call("context/update", {"set": {"where": status["workspace"]["uri"]}})
        await server.call("shutdown", None)
        assert "Traceback" not in await _exit_and_stderr(server)
    again = await _start(raw, env)
    await again.call("initialize", {"processId": None, "capabilities": {}, "workspaceFolders": folders})
    again.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    assert (await again.call("context/get", {}))["result"]["data"] == {"where": first.as_uri()}


async def test_a_second_initialize_is_refused(raw: list[RawServer], env: Env) -> None:
    server = await _start(raw, env)
    await server.initialize(env)
    other = env.root / "other"
    other.mkdir()
    answer = await server.call(
        "initialize", {"processId": None, "capabilities": {}, "rootUri": other.as_uri()}
    )
    assert_error(answer["error"], -32600)
    status = (await server.call("context/status", {}))["result"]
    assert status["workspace"]["uri"] == env.workspace.as_uri()
    listed = (await server.call("context/list", {}))["result"]["contexts"]
    assert [c["sessions"] for c in listed] == [1]


def test_stdin_that_is_a_file_is_served_to_its_end(env: Env, tmp_path: Any) -> None:
    """Not every launcher gives a pipe: a file (or /dev/null) on stdin cannot be polled by the event
    loop, so it is read by a thread; the server answers what the file holds and exits at its end."""
    frames = tmp_path / "frames"
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
    frames.write_bytes(b"Content-Length: %d\r\n\r\n%s" % (len(body), body.encode()))
    with frames.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "groundhog", "serve"],
            stdin=stdin,
            capture_output=True,
            env=env.environ(),
            timeout=60,
        )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    header, _, payload = done.stdout.partition(b"\r\n\r\n")
    assert header.startswith(b"Content-Length: ")
    answer = json.loads(payload[: int(header.split(b": ")[1])])
    assert answer["id"] == 1 and "capabilities" in answer["result"]
    with open("/dev/null", "rb") as nothing:
        empty = subprocess.run(
            [sys.executable, "-m", "groundhog", "serve"],
            stdin=nothing,
            capture_output=True,
            env=env.environ(),
            timeout=60,
        )
    assert empty.returncode == 0 and empty.stdout == b""
