"""Lines a broken or hostile agent sends to `groundhog mcp`: invalid UTF-8 and lone surrogates, NaN
and Infinity, JSON nested past the depth limit (and past any parser's), ids that are floats, huge,
negative or not ids at all, params that are not objects, malformed lines, batches. Every request the
peer can correlate is answered (an error naming the field where there is one), with a valid
JSON-RPC error code (never 0, never -32603), nothing is stored, and the server keeps serving."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.e2e.harness import Env
from tests.e2e.mcp_harness import WireAgent

pytestmark = pytest.mark.one_profile
LEAKS = ("Traceback", 'File "', "site-packages", '.py"')


@pytest.fixture
async def agent(env: Env) -> AsyncIterator[WireAgent]:
    started = await WireAgent.start(env)
    await started.tool("context_update", {"set": {"keep": "me"}})
    yield started
    await started.close()


def call(ident: Any, name: str, arguments_json: str) -> bytes:
    """A tools/call line written by hand (``arguments_json`` may be anything at all)."""
    head = f'{{"jsonrpc":"2.0","id":{json.dumps(ident)},"method":"tools/call","params":{{"name":"{name}",'
    return head.encode() + b'"arguments":' + arguments_json.encode("utf-8", "surrogatepass") + b"}}\n"


def assert_valid_error(message: dict[str, Any]) -> None:
    text = json.dumps(message)
    assert all(leak not in text for leak in LEAKS), message
    if "error" in message:
        code = message["error"]["code"]
        assert isinstance(code, int) and -32768 <= code <= -32000 and code != -32603, message
        assert isinstance(message["error"].get("message"), str) and message["error"]["message"], message
    else:
        result = message["result"]
        if result.get("isError"):
            assert "InternalError" not in result["content"][0]["text"], message


async def assert_still_serving(agent: WireAgent) -> None:
    data = await agent.tool("context_get", {})
    assert data["data"] == {"keep": "me"} and data["version"] == 2, data
    assert agent.process.returncode is None
    assert agent.unreadable == [], agent.unreadable[:3]


# -- one of each, with the answer it must get --------------------------------------------------

NAN = '{"set":{"a":NaN}}'
CASES: list[tuple[str, bytes, int, str | None]] = [
    ("NaN", call(1, "context_update", NAN), -32602, "arguments.set.a"),
    ("Infinity", call(2, "context_update", '{"set":{"a":[1,-Infinity]}}'), -32602, "arguments.set.a[1]"),
    ("1e400", call(3, "context_update", '{"set":{"a":1e400}}'), -32602, "arguments.set.a"),
    ("lone surrogate", call(4, "context_update", '{"set":{"a":"x\\ud800"}}'), -32602, "arguments.set.a"),
    ("lone surrogate key", call(5, "context_update", '{"set":{"\\udfff":1}}'), -32602, "arguments.set"),
    (
        "invalid UTF-8",
        call(6, "context_update", '{"set":{"a":"@@"}}').replace(b"@@", b"\xff\xfe"),
        -32602,
        "arguments.set.a",
    ),
    (
        "encoded surrogate",
        call(7, "context_get", '{"context":"@@"}').replace(b"@@", b"\xed\xa0\x80"),
        -32602,
        "arguments.context",
    ),
    (
        "deep",
        call(8, "context_update", '{"set":{"a":' + "[" * 250 + "]" * 250 + "}}"),
        -32602,
        "arguments.set",
    ),
    (
        "deeper than any parser",
        call(9, "context_update", '{"set":{"a":' + "[" * 20000 + "]" * 20000 + "}}"),
        -32602,
        "params",
    ),
    ("params array", b'{"jsonrpc":"2.0","id":10,"method":"tools/call","params":[1]}\n', -32602, "params"),
    ("params string", b'{"jsonrpc":"2.0","id":11,"method":"tools/list","params":"x"}\n', -32602, "params"),
    ("arguments array", call(12, "context_get", "[]"), -32602, "arguments"),
    ("float id", b'{"jsonrpc":"2.0","id":13.5,"method":"ping"}\n', -32600, None),
    ("huge id", b'{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}\n', -32600, None),
    ("method not a string", b'{"jsonrpc":"2.0","id":15,"method":7}\n', -32600, None),
    ("not JSON-RPC 2.0", b'{"jsonrpc":"1.0","id":16,"method":"ping"}\n', -32600, None),
    ("unknown method", b'{"jsonrpc":"2.0","id":17,"method":"nothing/here"}\n', -32601, None),
    (
        "unknown prompt",
        b'{"jsonrpc":"2.0","id":18,"method":"prompts/get","params":{"name":"nope"}}\n',
        -32602,
        "name",
    ),
    (
        "subscribe unknown",
        b'{"jsonrpc":"2.0","id":19,"method":"resources/subscribe","params":{"uri":"groundhog://nope"}}\n',
        -32602,
        "uri",
    ),
    (
        "resources/read without uri",
        b'{"jsonrpc":"2.0","id":20,"method":"resources/read","params":{}}\n',
        -32602,
        "uri",
    ),
]


async def test_each_hostile_request_is_answered_naming_what_is_wrong(agent: WireAgent) -> None:
    for name, line, code, field in CASES:
        ident = json.loads(line.split(b'"id":', 1)[1].split(b",", 1)[0])
        agent.write(line)
        answer = await agent.reply(ident)
        assert answer["error"]["code"] == code, (name, answer)
        if field is not None:
            assert answer["error"]["data"]["field"] == field, (name, answer)
            assert repr(field) in answer["error"]["message"], (name, answer)
        assert_valid_error(answer)
    await assert_still_serving(agent)


async def test_resume_since_a_version_beyond_any_answers_invalid_params(agent: WireAgent) -> None:
    for since in (2**63, 2**64, 2**70, -1):
        answer = await agent.request("tools/call", {"name": "resume", "arguments": {"sinceVersion": since}})
        assert_valid_error(answer)
        result = answer["result"]
        assert result["isError"], (since, result)
        assert json.loads(result["content"][1]["text"])["error"]["field"] == "sinceVersion", (since, result)
        arguments = {"sinceVersion": str(since)}
        prompt = await agent.request("prompts/get", {"name": "resume", "arguments": arguments})
        assert prompt["error"]["code"] == -32602, (since, prompt)
        assert prompt["error"]["data"]["field"] == "sinceVersion", (since, prompt)


async def test_a_line_with_no_id_to_read_is_answered_with_a_null_id(agent: WireAgent) -> None:
    lines = [b"{not json\n", b'{"jsonrpc":"2.0","id":1,"method":"ping"\n', b"\xff\xfe\n", b"[]\n", b"42\n"]
    for count, line in enumerate(lines, 1):
        agent.write(line)
        await assert_still_serving(agent)  # in order: the null answer came before the probe's
        nulls = agent.replies.get("null", [])
        assert len(nulls) == count and nulls[-1]["error"]["code"] in (-32700, -32600), (line, nulls)


# -- the storm ------------------------------------------------------------------------------------

HOSTILE_VALUES = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e999",
    '"\\ud800"',
    '"\\udc00x"',
    '"\\ud83d"',
    '"@\xff@"',
    '"@\xc0\xaf@"',
    '"@\xed\xa0\x80@"',
    '"@\xe2\x82"',
    "[" * 230 + "]" * 230,
    "[" * 3000 + "]" * 3000,
    '{"a":' * 300 + "1" + "}" * 300,
    "123456789012345678901234567890",
]
TOOLS = ["context_update", "context_get", "context_create", "context_snapshot", "resume", "context_rollback"]
NOT_IDS = ["true", "null", "{}", "[1]", '"\\ud800"']


class Storm:
    """Seeded frames; remembers which ids must be answered (one reply each)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.serial = 0
        self.expected: list[Any] = []
        self.kinds: list[Callable[[], bytes]] = [
            self.hostile_value,
            self.id_shape,
            self.params_shape,
            self.method,
            self.malformed,
            self.notification,
        ]

    def frame(self) -> bytes:
        return self.rng.choice(self.kinds)()

    def ident(self) -> Any:
        self.serial += 1
        shape = self.rng.randrange(6)
        value: Any = [
            self.serial,
            -self.serial,
            f"s{self.serial}",
            self.serial + 0.5,
            2**70 + self.serial,
            1e300 * self.serial,
        ][shape]
        self.expected.append(value)
        return value

    def hostile_value(self) -> bytes:
        value = self.rng.choice(HOSTILE_VALUES)
        field = self.rng.choice(
            [
                '"set":{"k":%s}',
                '"context":%s',
                '"name":%s',
                '"sinceVersion":%s',
                '"patch":[{"op":"add","path":"/a","value":%s}]',
                '"metadata":{"m":%s}',
                '"keys":[%s]',
            ]
        )
        field = "{" + field + ',"unknown":1}'  # whatever else passes, the call fails: nothing is written
        line = call(self.ident(), self.rng.choice(TOOLS), field % value.replace("%", "%%"))
        return (
            line.replace(b"\xc3\xbf", b"\xff")
            .replace(b"\xc3\x80\xc2\xaf", b"\xc0\xaf")
            .replace(b"\xc3\xad\xc2\xa0\xc2\x80", b"\xed\xa0\x80")
            .replace(b"\xc3\xa2\xc2\x82", b"\xe2\x82")
        )

    def id_shape(self) -> bytes:
        if self.rng.random() < 0.3:
            return f'{{"jsonrpc":"2.0","id":{self.rng.choice(NOT_IDS)},"method":"ping"}}\n'.encode()
        return (
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": self.ident(),
                    "method": self.rng.choice(["ping", "tools/list", "resources/list", "prompts/list"]),
                }
            ).encode()
            + b"\n"
        )

    def params_shape(self) -> bytes:
        params = self.rng.choice(
            [
                "[]",
                '"x"',
                "5",
                "true",
                '{"name":5}',
                '{"name":null}',
                '{"arguments":{}}',
                '{"name":"context_get","arguments":"x"}',
                '{"name":"context_get","arguments":[1]}',
                '{"name":"context_get","arguments":{"context":null}}',
                '{"name":"nothing"}',
            ]
        )
        ident = json.dumps(self.ident())
        return f'{{"jsonrpc":"2.0","id":{ident},"method":"tools/call","params":{params}}}\n'.encode()

    def method(self) -> bytes:
        method, params = self.rng.choice(
            [
                (
                    "resources/read",
                    {
                        "uri": self.rng.choice(
                            ["groundhog://x", "file:///etc/passwd", "", "groundhog://context/..%2Fx"]
                        )
                    },
                ),
                ("resources/subscribe", {"uri": "groundhog://nope"}),
                ("resources/unsubscribe", {"uri": 5}),
                (
                    "prompts/get",
                    {
                        "name": self.rng.choice(["nope", "resume"]),
                        "arguments": {"sinceVersion": self.rng.choice(["x", "-1", "1" * 30])},
                    },
                ),
                ("nothing/here", {}),
                (
                    "tools/call",
                    {
                        "name": "context_get",
                        "arguments": {"version": self.rng.choice([2**63, 2**64 - 1, -(2**63) - 1, -5])},
                    },
                ),
                (
                    "tools/call",
                    {
                        "name": "context_history",
                        "arguments": {"beforeVersion": 2**63 + 5, "limit": self.rng.choice([0, 10**6, None])},
                    },
                ),
                ("tools/call", {"name": "context_diff", "arguments": {"fromVersion": 2**63 - 1}}),
            ]
        )
        return (
            json.dumps({"jsonrpc": "2.0", "id": self.ident(), "method": method, "params": params}).encode()
            + b"\n"
        )

    def malformed(self) -> bytes:
        choice = self.rng.randrange(5)
        if choice == 0:
            return (
                bytes(self.rng.randrange(1, 256) for _ in range(self.rng.randrange(1, 60))).replace(
                    b"\n", b""
                )
                + b"\n"
            )
        if choice == 1:
            whole = json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "context_get"}}
            )
            return whole[: self.rng.randrange(1, len(whole))].encode() + b"\n"
        if choice == 2:
            return b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]\n'
        if choice == 3:
            return (
                json.dumps(
                    {"jsonrpc": self.rng.choice(["1.0", 2, None]), "id": self.ident(), "method": "ping"}
                ).encode()
                + b"\n"
            )
        return b"{}\n"

    def notification(self) -> bytes:
        method, params = self.rng.choice(
            [
                ("notifications/cancelled", {"requestId": self.rng.choice([None, 1.5, "zz", 10**30, [1]])}),
                ("notifications/initialized", "x"),
                ("notifications/whatever", {"a": float("nan")}),
                ("notifications/roots/list_changed", []),
            ]
        )
        return json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode() + b"\n"


async def test_a_seeded_storm_of_hostile_lines_is_answered_and_changes_nothing(agent: WireAgent) -> None:
    storm = Storm(seed=20261205)
    for _burst in range(12):
        for _ in range(250):
            agent.write(storm.frame())
        await assert_still_serving(agent)
        for ident in storm.expected:
            await agent.reply(ident, timeout=60)
    answered = {key: replies for key, replies in agent.replies.items() if key != "null"}
    sent = {json.dumps(ident) for ident in storm.expected}
    assert sent <= set(answered)
    for key, replies in answered.items():
        assert len(replies) == 1, (key, replies)  # one answer per request, never two
        assert_valid_error(replies[0])
    for reply in agent.replies.get("null", []):
        assert_valid_error(reply)
    assert len(storm.expected) > 1500
