"""How both faces read a frame (groundhog.frames) and how the agents' face splits its stdin into
lines (mcp/transport.py): what is refused, the field named, the id found even where no parser
could read the frame, and answers that any strict client can read, whatever the peer sent."""

from __future__ import annotations

import asyncio
import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from groundhog import frames
from groundhog.frames import MAX_FRAME_DEPTH
from groundhog.mcp.transport import _envelope_problem, _lines


def request(arguments: bytes, ident: bytes = b"7") -> bytes:
    return (
        b'{"jsonrpc":"2.0","id":' + ident + b',"method":"tools/call","params":{"name":"context_update",'
        b'"arguments":' + arguments + b"}}"
    )


def test_strict_json_within_the_depth_limit_passes_as_parsed() -> None:
    body = request(b'{"set":{"a":' + b"[" * 150 + b"]" * 150 + b"}}")
    frame = frames.parse(body)
    assert frame.problem is None and frame.message == json.loads(body) and frame.id == 7


def test_values_json_rpc_cannot_carry_are_refused_naming_the_field() -> None:
    cases = {
        b'{"set":{"a":NaN}}': "arguments.set.a",
        b'{"set":{"a":[1,-Infinity]}}': "arguments.set.a[1]",
        b'{"set":{"a":1e999}}': "arguments.set.a",
        b'{"set":{"a":"\xff"}}': "arguments.set.a",
        b'{"set":{"a":"\\udc00"}}': "arguments.set.a",
        b'{"set":{"\\ud800":1}}': "arguments.set",
        b'{"set":{"a":' + b"[" * 300 + b"]" * 300 + b"}}": "arguments.set",
        b'{"set":{"a":' + b"[" * 50_000 + b"]" * 50_000 + b"}}": "params",
    }
    for arguments, field in cases.items():
        frame = frames.parse(request(arguments))
        assert frame.problem is not None and frame.problem.field == field, (arguments[:40], frame.problem)
        assert frame.problem.code == frames.INVALID_PARAMS and frame.id == 7 and frame.is_request


def test_a_frame_deeper_than_any_parser_still_gives_its_id_but_not_a_nested_one() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    body = b'{"params":{"id":"inner","x":' + deep + b'},"jsonrpc":"2.0","method":"m","id":"outer"}'
    frame = frames.parse(body)
    assert (frame.id, frame.method) == ("outer", "m") and frame.problem is not None


def test_broken_json_has_no_id_to_answer() -> None:
    for body in (b'{"jsonrpc":"2.0","id":1,', b"nope", b""):
        frame = frames.parse(body)
        assert frame.problem is not None and frame.problem.code == frames.PARSE_ERROR
        assert not frame.is_request


def test_a_huge_id_is_echoed_as_sent() -> None:
    body = b'{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}'
    frame = frames.parse(body)
    assert isinstance(frame.id, float) and not frames.valid_id(frame.id)
    assert frames.exact_id(body, frame.id) == 123456789012345678901234567890


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_parse_without_raising_and_every_answer_is_strict_json(body: bytes) -> None:
    frame = frames.parse(body)
    if frame.problem is not None:
        answer = orjson.loads(frames.error_reply(frame.id, frame.problem))
        assert answer["error"]["code"] in (-32700, -32600, -32602)


def test_one_depth_limit_counted_from_the_message() -> None:
    def body(levels: int) -> bytes:  # message (1), params (2), then nested arrays
        return b'{"jsonrpc":"2.0","id":1,"method":"m","params":{"v":' + b"[" * levels + b"]" * levels + b"}}"

    assert frames.parse(body(MAX_FRAME_DEPTH - 2)).problem is None
    assert frames.parse(body(MAX_FRAME_DEPTH - 1)).problem is not None


def test_messages_json_rpc_does_not_allow_are_named() -> None:
    assert _envelope_problem([{"jsonrpc": "2.0"}]) is not None
    assert _envelope_problem({"jsonrpc": "1.0", "id": 1, "method": "ping"}) is not None
    assert _envelope_problem({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}) is not None
    assert _envelope_problem({"jsonrpc": "2.0", "id": True, "method": "ping"}) is not None
    assert _envelope_problem({"jsonrpc": "2.0", "id": 1, "method": 5}) is not None
    problem = _envelope_problem({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": [1]})
    assert problem is not None and problem.field == "params"
    assert _envelope_problem({"jsonrpc": "2.0", "id": 1}) is not None  # neither request nor response
    assert _envelope_problem({"jsonrpc": "2.0", "id": 1, "result": {}}) is None
    assert _envelope_problem({"jsonrpc": "2.0", "method": "notifications/initialized"}) is None


def test_stdin_is_split_into_lines_and_an_over_long_one_is_skipped_whole() -> None:
    async def read(chunks: list[bytes], limit: int) -> list[bytes | None]:
        reader = asyncio.StreamReader()
        for chunk in chunks:
            reader.feed_data(chunk)
        reader.feed_eof()
        return [line async for line in _lines(reader, limit)]

    assert asyncio.run(read([b"a\nb", b"c\n\nd"], 10)) == [b"a", b"bc", b"", b"d"]
    over = [b"x" * 5, b"y" * 200_000, b"z\nok\n", b"w" * 20 + b"\nlast"]
    assert asyncio.run(read(over, 10)) == [None, b"ok", None, b"last"]
