"""Groundhog on TCP and WebSocket (loopback): a client must bring the token (GROUNDHOG_TOKEN or the
generated token file); without it initialize answers AccessDenied before anything is opened or
written (the refusal goes to the server's log only). Unauthenticated peers are bounded: small frames,
a deadline to authenticate, a cap on how many wait, so an editor with the token always gets in."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.e2e.harness import READ_TIMEOUT_S, Env, RawPeer, assert_error, cli_json

TOKEN = "s3cret-token-for-tests"


class Listener:
    """`groundhog serve --tcp|--ws 127.0.0.1:0`; the port is read from its stderr."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.peers: list[RawPeer] = []

    async def connect(self) -> RawPeer:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        peer = RawPeer(reader, writer)
        self.peers.append(peer)
        return peer

    async def stop(self) -> None:
        for peer in self.peers:
            peer.writer.close()
        if self.process.returncode is None:
            self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@pytest.fixture
async def listen(env: Env) -> AsyncIterator[Callable[..., Any]]:
    started: list[Listener] = []

    async def start(transport: str = "--tcp", token: str | None = TOKEN, *args: str) -> Listener:
        extra = {} if token is None else {"GROUNDHOG_TOKEN": token}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "groundhog",
            "serve",
            transport,
            "127.0.0.1:0",
            *args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env.environ(**extra),
        )
        assert process.stderr is not None
        while True:
            line = (await asyncio.wait_for(process.stderr.readline(), READ_TIMEOUT_S)).decode()
            assert line, "the server exited before listening"
            found = re.search(r"listening on .*'127\.0\.0\.1', (\d+)\)", line)
            if found:
                break
        listener = Listener(process, int(found.group(1)))
        started.append(listener)
        return listener

    yield start
    for listener in started:
        await listener.stop()


async def test_a_tcp_client_with_the_token_is_served(listen: Callable[..., Any], env: Env) -> None:
    listener = await listen()
    first, second = await listener.connect(), await listener.connect()
    assert "result" in await first.initialize(env, token=TOKEN)
    assert "result" in await second.initialize(env, token=TOKEN)
    one = (await first.call("context/status", {}))["result"]
    two = (await second.call("context/status", {}))["result"]
    assert one["session"]["id"] != two["session"]["id"]
    assert one["active"] == {"name": "default", "version": 1}
    assert (await first.call("context/update", {"set": {"over": "tcp"}}))["result"]["version"] == 2
    assert (await second.call("context/get", {}))["result"]["data"] == {"over": "tcp"}
    # the other connection is told about the change
    while not any(
        m.get("method") == "context/didChange" and m["params"]["version"] == 2 for m in second.unsolicited
    ):
        second.unsolicited.append(await second.read())


async def test_a_missing_or_bad_token_is_refused_before_anything_is_opened(
    listen: Callable[..., Any], env: Env
) -> None:
    listener = await listen()
    for options in ({}, {"token": "wrong"}, {"token": TOKEN + "x"}, {"token": ""}):
        peer = await listener.connect()
        answer = await peer.initialize(env, **options)
        assert_error(answer["error"], -32006, "AccessDenied", env=env)
        assert TOKEN not in json.dumps(answer)
        # the connection has no session: context requests are refused, at once
        refused = await peer.call("context/status", {})
        assert "error" in refused and "result" not in refused
        get = await peer.call("context/get", {})
        assert "error" in get
    assert not list(env.store_dir.rglob("store.db")), "no store is created for an unauthenticated peer"
    good = await listener.connect()
    assert "result" in await good.initialize(env, token=TOKEN)
    assert (await good.call("context/get", {}))["result"]["data"] == {}
    # a refused connection may try again with the right token
    retry = await listener.connect()
    assert "error" in await retry.initialize(env, token="wrong")
    assert "result" in await retry.initialize(env, token=TOKEN)
    assert "result" in await retry.call("context/status", {})
    records = cli_json(env, "audit")["records"]
    assert [r for r in records if r["event"] == "access-denied"] == []  # nothing written before auth
    assert all(TOKEN not in json.dumps(r) and "wrong" not in json.dumps(r) for r in records)


async def test_the_token_file_is_generated_private(listen: Callable[..., Any], env: Env) -> None:
    listener = await listen(token=None)
    path = env.config_dir / "token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    token = path.read_text().strip()
    assert len(token) >= 32
    peer = await listener.connect()
    assert "error" in await peer.initialize(env)
    peer = await listener.connect()
    assert "result" in await peer.initialize(env, token=token)
    # a second server reuses the same file
    again = await listen(token=None)
    assert path.read_text().strip() == token
    peer = await again.connect()
    assert "result" in await peer.initialize(env, token=token)


async def test_an_oversized_tcp_frame_closes_only_that_connection(
    listen: Callable[..., Any], env: Env
) -> None:
    listener = await listen("--tcp", TOKEN, "--max-message-bytes", "2048")
    bad, good = await listener.connect(), await listener.connect()
    assert "result" in await bad.initialize(env, token=TOKEN)
    assert "result" in await good.initialize(env, token=TOKEN)
    bad.write(b"Content-Length: 999999999\r\n\r\n")
    assert await asyncio.wait_for(bad.reader.read(), READ_TIMEOUT_S) == b""
    assert "result" in await good.call("context/status", {})
    late = await listener.connect()
    assert "result" in await late.initialize(env, token=TOKEN)


async def test_a_websocket_client_with_the_token_is_served(listen: Callable[..., Any], env: Env) -> None:
    from websockets.asyncio.client import connect

    listener = await listen("--ws")

    async def call(ws: Any, msg_id: int, method: str, params: Any) -> dict[str, Any]:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), READ_TIMEOUT_S))
            if message.get("id") == msg_id and "method" not in message:
                return message

    init = {"processId": os.getpid(), "rootUri": env.workspace.as_uri(), "capabilities": {}}
    async with connect(f"ws://127.0.0.1:{listener.port}", proxy=None) as ws:
        answer = await call(ws, 1, "initialize", {**init, "initializationOptions": {"token": "nope"}})
        assert_error(answer["error"], -32006, "AccessDenied")
    async with connect(f"ws://127.0.0.1:{listener.port}", proxy=None) as ws:
        answer = await call(ws, 1, "initialize", {**init, "initializationOptions": {"token": TOKEN}})
        assert "result" in answer
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        status = await call(ws, 2, "context/status", {})
        assert status["result"]["active"]["name"] == "default"
        update = await call(
            ws, 3, "context/update", {"set": {"message": {"jsonrpc": "2.0", "method": "x", "id": 1}}}
        )
        assert update["result"]["version"] == 2
        got = await call(ws, 4, "context/get", {})
        assert got["result"]["data"] == {"message": {"jsonrpc": "2.0", "method": "x", "id": 1}}
    records = cli_json(env, "audit")["records"]
    assert [r["event"] for r in records].count("access-denied") == 0


async def test_a_workspace_outside_the_allowed_ones_is_refused(listen: Callable[..., Any], env: Env) -> None:
    allowed = env.root / "allowed"
    allowed.mkdir()
    listener = await listen("--tcp", TOKEN, "--allow-workspace", str(allowed))
    peer = await listener.connect()
    answer = await peer.initialize(env, token=TOKEN)
    assert_error(answer["error"], -32006, "AccessDenied", env=env)
    inside = Env(env.root, env.store_dir, env.config_dir, allowed)
    peer = await listener.connect()
    assert "result" in await peer.initialize(inside, token=TOKEN)
    assert (await peer.call("context/status", {}))["result"]["workspace"]["uri"] == allowed.as_uri()


async def test_an_unauthenticated_peer_may_not_send_a_large_frame(
    listen: Callable[..., Any], env: Env
) -> None:
    listener = await listen()
    hostile = await listener.connect()
    hostile.write(b"Content-Length: %d\r\n\r\n" % (300 * 1024))
    assert await asyncio.wait_for(hostile.reader.read(), READ_TIMEOUT_S) == b""  # closed, body unread
    editor = await listener.connect()
    assert "result" in await editor.initialize(env, token=TOKEN)
    big = {"blob": "x" * 400_000}  # once authenticated, --max-message-bytes applies
    assert (await editor.call("context/update", {"set": big}))["result"]["version"] == 2


async def test_a_peer_that_does_not_authenticate_in_time_is_closed(
    listen: Callable[..., Any], env: Env
) -> None:
    listener = await listen("--tcp", TOKEN, "--auth-timeout", "1")
    idle = await listener.connect()
    assert await asyncio.wait_for(idle.reader.read(), READ_TIMEOUT_S) == b""
    editor = await listener.connect()
    assert "result" in await editor.initialize(env, token=TOKEN)
    await asyncio.sleep(1.5)  # an authenticated editor may stay idle as long as it likes
    assert "result" in await editor.call("context/status", {})


async def test_an_editor_gets_in_and_stays_responsive_under_two_hundred_hostile_connections(
    listen: Callable[..., Any], env: Env
) -> None:
    import psutil

    listener = await listen()
    hostile = []
    for n in range(200):
        _reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        if n % 3 == 0:
            writer.write(b"Content-Len")  # a slow header that never ends
        elif n % 3 == 1:
            writer.write(b"Content-Length: 67108864\r\n\r\n")  # 64 MiB announced, never sent
        hostile.append(writer)
    await asyncio.sleep(0.2)
    editor = await listener.connect()
    assert "result" in await editor.initialize(env, token=TOKEN)
    for n in range(20):
        assert (await editor.call("context/update", {"set": {"n": n}}))["result"]["version"] == n + 2
    server = psutil.Process(listener.process.pid)
    assert server.num_threads() < 40, server.num_threads()
    assert server.memory_info().rss < 300 * 2**20
    for writer in hostile:
        writer.close()


async def test_sigterm_ends_every_network_session_and_keeps_their_editor_state(
    listen: Callable[..., Any], env: Env
) -> None:
    listener = await listen()
    editor = await listener.connect()
    assert "result" in await editor.initialize(env, token=TOKEN, editorFlushMs=3_600_000)
    uri = (env.workspace / "a.py").as_uri()
    editor.send({"jsonrpc": "2.0", "method": "context/didChangeEditor", "params": {"activeUri": uri}})
    assert "result" in await editor.call("context/status", {})
    listener.process.terminate()
    assert await asyncio.wait_for(listener.process.wait(), 20) == 0
    sessions = cli_json(env, "sessions")["sessions"]
    assert sessions == []  # the session ended, its row is gone
    from groundhog import create_manager

    store = create_manager(env.workspace, store_dir=env.store_dir, config_dir=env.config_dir, read_only=True)
    try:  # the last notification before the signal was persisted on the way out
        assert (store.tracker("default").load_editor() or {}).get("activeUri") == uri
    finally:
        store.close()
