"""Frames a broken or hostile peer sends after `initialize`: responses to requests the server never
made (some with the id of a request in flight), ids of every JSON type, `$/cancelRequest` with ids
that are not ids, notification methods sent with an id, over-long header lines, random bytes. The
server never exits or hangs, answers each request (never with -32603 or a traceback), drops what is
not a request, and keeps the stored data as it was. A cancelled request tells the truth."""

from __future__ import annotations

import asyncio
import json
import random
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.harness import Env, start_client
from tests.e2e.test_wire import RawServer

pytestmark = pytest.mark.one_profile
LEAKS = ("Traceback", 'File "', "site-packages", '.py"')


@pytest.fixture
async def server(env: Env) -> AsyncIterator[RawServer]:
    started = await RawServer.start(env)
    answer = await started.initialize(env)
    assert "result" in answer, answer
    await started.call("context/update", {"set": {"keep": "me"}})
    yield started
    started.kill()
    await started.process.wait()


def assert_clean(message: dict[str, Any]) -> None:
    """An answer: never an internal error, never a traceback or a path."""
    text = json.dumps(message)
    assert all(leak not in text for leak in LEAKS), message
    if "error" in message:
        assert message["error"]["code"] != -32603, message
        assert isinstance(message["error"].get("data"), dict) and message["error"]["data"].get("kind"), (
            message
        )


async def probe(server: RawServer) -> None:
    """The server still answers, and the data is as it was."""
    answer = await server.call("context/get", {})
    assert_clean(answer)
    assert answer["result"]["data"] == {"keep": "me"}, answer
    for message in server.unsolicited:
        assert_clean(message)
    assert server.process.returncode is None


NOT_IDS = [{"a": 1}, [1], 1.5, True, None]


@pytest.mark.parametrize("bad_id", NOT_IDS, ids=["object", "array", "float", "bool", "null"])
async def test_a_request_whose_id_is_not_an_id_is_refused_with_a_null_id(
    server: RawServer, bad_id: Any
) -> None:
    server.send({"jsonrpc": "2.0", "id": bad_id, "method": "context/status", "params": {}})
    answer = await server.response(None)
    assert answer["error"]["code"] == -32600 and "id" in answer["error"]["message"]
    assert_clean(answer)
    await probe(server)


@pytest.mark.parametrize(
    "bad_id", [*NOT_IDS, 7, "nobody-asked"], ids=["object", "array", "float", "bool", "null", "int", "str"]
)
async def test_responses_to_requests_the_server_never_made_are_dropped(
    server: RawServer, bad_id: Any
) -> None:
    server.send({"jsonrpc": "2.0", "id": bad_id, "result": {"x": 1}})
    server.send({"jsonrpc": "2.0", "id": bad_id, "error": {"code": 1, "message": "no"}})
    await probe(server)


async def test_a_response_with_the_id_of_a_request_in_flight_changes_nothing(server: RawServer) -> None:
    for attempt in range(5):
        msg_id = 5000 + attempt
        big = {"blob": "x" * 200_000, "n": attempt}
        server.send({"jsonrpc": "2.0", "id": msg_id, "method": "context/update", "params": {"set": big}})
        server.send({"jsonrpc": "2.0", "id": msg_id, "result": None})
        server.send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32800, "message": "fake"}})
        answer = await server.response(msg_id)
        assert answer["result"]["version"] == 3 + attempt, answer
    server.send(
        {"jsonrpc": "2.0", "id": 9000, "method": "context/update", "params": {"remove": ["blob", "n"]}}
    )
    assert "result" in await server.response(9000)
    await probe(server)


async def test_pipelined_failing_commands_then_a_response_with_their_id_do_not_hang(
    server: RawServer,
) -> None:
    for n in range(30):
        server.send(
            {
                "jsonrpc": "2.0",
                "id": 100 + n,
                "method": "workspace/executeCommand",
                "params": {"command": "groundhog.get", "arguments": [{"context": "missing"}]},
            }
        )
    server.send({"jsonrpc": "2.0", "id": 115, "result": None})
    answers = [await server.response(100 + n) for n in range(30)]
    assert {a["error"]["code"] for a in answers} == {-32002}
    await probe(server)


@pytest.mark.parametrize(
    "params", [{"id": {"a": 1}}, {"id": [1]}, {"id": None}, {}, None, [1], {"id": 1.5}], ids=str
)
async def test_a_cancel_request_without_a_usable_id_is_dropped(server: RawServer, params: Any) -> None:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": "$/cancelRequest"}
    if params is not None:
        message["params"] = params
    server.send(message)
    await probe(server)


@pytest.mark.parametrize(
    "method",
    [
        "textDocument/didSave",
        "textDocument/didOpen",
        "textDocument/didClose",
        "initialized",
        "context/didChangeEditor",
    ],
)
async def test_a_notification_method_sent_with_an_id_is_answered(server: RawServer, method: str) -> None:
    answer = await server.call(method, {"textDocument": {"uri": "file:///a"}})
    assert answer["error"]["code"] == -32600 and "notification" in answer["error"]["message"], answer
    assert_clean(answer)
    await probe(server)


async def test_a_request_id_reused_while_in_flight_is_refused(server: RawServer) -> None:
    params = {"set": {"blob": "y" * 300_000}}
    server.send({"jsonrpc": "2.0", "id": 77, "method": "context/update", "params": params})
    server.send({"jsonrpc": "2.0", "id": 77, "method": "context/update", "params": params})
    first = await server.response(77)
    second = await server.response(77)
    codes = sorted(str(a.get("error", {}).get("code", "result")) for a in (first, second))
    assert codes in (["-32600", "result"], ["result", "result"]), (first, second)  # refused, or already done
    server.send({"jsonrpc": "2.0", "id": 78, "method": "context/update", "params": {"remove": ["blob"]}})
    await server.response(78)
    await probe(server)


@pytest.mark.parametrize("size", [9_000, 17_000, 200_000])
async def test_an_over_long_header_line_is_skipped(server: RawServer, size: int) -> None:
    server.write(b"X-Junk: " + b"j" * size + b"\r\n")
    server.write(b"Content-Length: 2\r\n\r\n{}")
    await probe(server)


async def test_a_seeded_storm_of_hostile_frames_never_stops_the_server(server: RawServer) -> None:
    rng = random.Random(20261130)
    values: list[Any] = [None, True, 1.5, -1, 2**70, "", "x", [], {}, [1, {"a": None}], {"id": {}}]
    methods = [
        "context/get",
        "context/update",
        "$/cancelRequest",
        "textDocument/didChange",
        "context/didChangeEditor",
        "initialized",
        "shutdownX",
        "",
        None,
        7,
    ]
    for _burst in range(20):
        for _ in range(150):
            kind = rng.randrange(6)
            if kind == 0:
                server.write(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))) + b"\r\n\r\n")
                continue
            message: dict[str, Any] = {"jsonrpc": rng.choice(["2.0", "2.0", "1.0", None])}
            if kind in (1, 2, 3):
                message["method"] = rng.choice(methods)
            if kind in (1, 4, 5) or rng.random() < 0.3:
                message["id"] = rng.choice([*values, rng.randrange(10**6), f"s{rng.randrange(99)}"])
            if kind == 4:
                message["result"] = rng.choice(values)
            if kind == 5:
                message["error"] = rng.choice(values)
            if rng.random() < 0.7:
                message["params"] = rng.choice([*values, {"id": rng.choice(values)}, {"remove": ["keep"]}])
            if message.get("method") == "context/update":
                message["params"] = {"context": "scratch", "set": {"n": 1}}  # never the probe's data
            server.send(message)
        await probe(server)


async def test_a_cancelled_update_either_answers_its_result_or_changes_nothing(server: RawServer) -> None:
    created = await server.call("context/create", {"name": "cancel"})
    assert "result" in created
    expected_version = 1
    for n in range(20):
        msg_id = 20_000 + n
        value = f"{n}:" + "v" * 300_000  # large enough that the cancel often lands mid-commit
        params = {"context": "cancel", "set": {"k": value}}
        server.send({"jsonrpc": "2.0", "id": msg_id, "method": "context/update", "params": params})
        await asyncio.sleep(n % 5 * 0.003)  # before it starts, or while it commits
        server.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": msg_id}})
        answer = await server.response(msg_id)
        head = (await server.call("context/get", {"context": "cancel"}))["result"]
        if "result" in answer:
            expected_version += 1
            assert head["data"]["k"] == value, answer
        else:
            assert answer["error"]["code"] == -32800, answer
            assert head["data"].get("k") != value, answer
        assert head["version"] == expected_version


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: signal.Signals(s).name
)
async def test_a_signal_keeps_the_editor_state_of_the_last_notification(env: Env, signum: int) -> None:
    editor = await RawServer.start(env)
    try:
        assert "result" in await editor.initialize(env, editorFlushMs=3_600_000)  # never flushed by time
        uri = (env.workspace / "main.py").as_uri()
        editor.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": ""}},
            }
        )
        cursor = {"start": {"line": 9, "character": 1}, "end": {"line": 9, "character": 1}}
        editor.send(
            {
                "jsonrpc": "2.0",
                "method": "context/didChangeEditor",
                "params": {"activeUri": uri, "selections": [{"uri": uri, "ranges": [cursor]}]},
            }
        )
        await editor.call("context/status", {})  # the notifications before it were handled
        editor.process.send_signal(signum)
        assert await editor.exited(20) == 0
    finally:
        editor.kill()
    restored = await start_client(env)
    try:
        notice = await restored.wait_for("context/didRestore")
        assert notice["editor"]["activeUri"] == uri
        assert notice["editor"]["selections"] == [{"uri": uri, "ranges": [cursor]}]
        listed = await restored.request("context/list", {})
        assert [c["sessions"] for c in listed["contexts"]] == [1]  # the signalled session's row is gone
    finally:
        await restored.close()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"jsonrpc":"2.0","id":"nan","method":"context/update","params":{"set":{"a":NaN}}}', "set.a"),
        (b'{"jsonrpc":"2.0","id":"utf8","method":"context/update","params":{"set":{"a":"\xff"}}}', "set.a"),
        (b'{"jsonrpc":"2.0","id":"lone","method":"context/get","params":{"context":"\\ud800"}}', "context"),
        (
            b'{"jsonrpc":"2.0","id":"deep","method":"context/update","params":{"set":'
            + b"[" * 5000
            + b"]" * 5000
            + b"}}",
            "params",
        ),
    ],
    ids=["NaN", "invalid UTF-8", "lone surrogate", "deeper than any parser"],
)
async def test_a_request_that_is_not_strict_json_is_answered_naming_the_field(
    server: RawServer, body: bytes, field: str
) -> None:
    """The same reading of a frame as the agents' face (groundhog.frames): one depth limit, and
    the request's id answered even when its JSON is not JSON a client could have meant."""
    server.send(body)
    ident = json.loads(body.split(b'"id":', 1)[1].split(b",", 1)[0])
    answer = await server.response(ident)
    assert answer["error"]["code"] == -32602 and answer["error"]["data"]["field"] == field, answer
    await probe(server)
