"""Our own stdio reader and writer in front of the MCP SDK's server loop (as the LSP face put its own
reader in front of pygls; docs/architecture.md). Why not the SDK's ``stdio_server``: it decodes stdin with
``errors="replace"`` (invalid UTF-8 became U+FFFD and was stored), parses with pydantic (NaN and
Infinity were stored as null, integers of any size reached the engine), and a line it cannot
validate (broken JSON, a float id, ``params`` that are not an object, JSON nested 200+ deep) became
an exception the loop logs and drops: the agent waited forever for its answer.

Here every line is parsed once (``groundhog.frames``: strict JSON, one depth limit for both faces)
and checked as a JSON-RPC message; every request id the peer can correlate gets an answer (an
error naming the field where there is one), only valid messages reach the SDK, and what the SDK
answers goes through one writer that never sends an error code the JSON-RPC spec does not define
for us (the SDK answers code 0 for an unexpected exception). The transport also knows which
requests are in flight, which lets it (a) hold a ``notifications/cancelled`` back when the request
can no longer be stopped, so that a write that happens is answered (``Calls``), and (b) stop
reading and let what was received be answered before the connection ends (stdin closed, or a
signal)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import anyio
import mcp_types
import orjson
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.dispatcher import coerce_request_id
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from groundhog import frames
from groundhog.frames import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, Problem
from groundhog.stdio import Wire, claim_stdout, stdin_stream

log = logging.getLogger(__name__)
MAX_LINE_BYTES = 64 * 1024 * 1024  # the editors' default frame limit (serve --max-message-bytes)
DRAIN_S = 5.0  # at the end, how long requests already received may take to be answered
INTERNAL_ERROR = -32603


class Calls(Protocol):
    """What the server tells the transport about the calls it runs."""

    def may_cancel(self, request_id: Any) -> bool:
        """Whether a ``notifications/cancelled`` for this ``tools/call`` may go to the SDK (which
        then never answers it): only when the call has not started and never will."""
        ...


Serve = Callable[[MemoryObjectReceiveStream[Any], MemoryObjectSendStream[SessionMessage]], Awaitable[None]]


class StdioTransport:
    def __init__(self, calls: Calls, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.calls = calls
        self.max_line_bytes = max_line_bytes
        self.in_flight: dict[Any, str] = {}  # request id (as the SDK correlates it) -> method
        self._wire: Wire | None = None
        self._stop = asyncio.Event()
        self._logged: set[str] = set()

    def stop(self) -> None:
        """Stop reading (a signal): what was received is answered, then the connection ends."""
        self._stop.set()

    async def serve(self, run: Serve) -> None:
        """Serve the SDK loop ``run`` over stdin and stdout until stdin closes or ``stop``."""
        self._wire = Wire(claim_stdout())
        await self._wire.open()
        to_sdk, from_peer = anyio.create_memory_object_stream[Any](0)
        to_peer, from_sdk = anyio.create_memory_object_stream[SessionMessage](0)
        async with anyio.create_task_group() as group:
            group.start_soon(self._read, to_sdk)
            group.start_soon(self._write, from_sdk)
            await run(from_peer, to_peer)
            group.cancel_scope.cancel()  # the SDK is done: nothing more to read or write

    # -- reading --------------------------------------------------------------------------------

    async def _read(self, to_sdk: MemoryObjectSendStream[Any]) -> None:
        reader = await stdin_stream(1 << 16)
        async with to_sdk:
            async for line in _until(self._stop, _lines(reader, self.max_line_bytes)):
                if line is None:
                    too_long = Problem(INVALID_REQUEST, f"The message is over {self.max_line_bytes} bytes.")
                    await self._reply(None, too_long)
                elif line.strip():
                    await self._admit(line, to_sdk)
            await self._drain()

    async def _admit(self, line: bytes, to_sdk: MemoryObjectSendStream[Any]) -> None:
        frame = frames.parse(line)
        if frame.problem is not None:
            if frame.is_request:
                await self._reply(frames.exact_id(line, frame.id), frame.problem)
            elif frame.problem.code in (PARSE_ERROR, INVALID_REQUEST):
                await self._reply(None, frame.problem)  # JSON-RPC: no id could be read: id null
            else:
                self._log_once(f"dropped a notification: {frame.problem.message}")
            return
        message = frame.message
        problem = _envelope_problem(message)
        if problem is None:
            await self._route(message, to_sdk)
        elif isinstance(message, dict) and "method" in message:
            await self._reply(frames.exact_id(line, message.get("id")), problem)  # echoed as sent
        elif isinstance(message, dict) and ("result" in message or "error" in message):
            self._log_once("dropped a malformed response")
        else:
            await self._reply(None, problem)

    async def _route(self, message: dict[str, Any], to_sdk: MemoryObjectSendStream[Any]) -> None:
        method = message.get("method")
        if method is None:  # a response to one of our requests (roots/list)
            await self._forward(message, to_sdk)
            return
        if "id" not in message:
            if method == "notifications/cancelled" and not self._may_forward_cancel(message.get("params")):
                return
            await self._forward(message, to_sdk)
            return
        key = coerce_request_id(message["id"])
        if key in self.in_flight:
            await self._reply(
                message["id"], Problem(INVALID_REQUEST, "A request with this id is in progress.")
            )
            return
        self.in_flight[key] = method
        if not await self._forward(message, to_sdk):
            self.in_flight.pop(key, None)
            await self._reply(
                message["id"], Problem(INVALID_REQUEST, f"The {method!r} request is malformed.")
            )

    def _may_forward_cancel(self, params: Any) -> bool:
        """A cancelled ``tools/call`` goes to the SDK (which then drops its answer) only when the
        call will not run; one that runs or ran is answered instead (it may have written)."""
        target = params.get("requestId") if isinstance(params, dict) else None
        if not isinstance(target, str | int) or not frames.valid_id(target):
            return False
        key = coerce_request_id(target)
        method = self.in_flight.get(key)
        if method is None:
            return False  # answered already, or never asked: nothing to cancel
        if method == "tools/call" and not self.calls.may_cancel(key):
            log.info("a cancelled call had already started; it will be answered")
            return False
        self.in_flight.pop(key, None)  # the SDK will not answer it
        return True

    async def _forward(self, message: dict[str, Any], to_sdk: MemoryObjectSendStream[Any]) -> bool:
        try:
            parsed = mcp_types.jsonrpc_message_adapter.validate_python(message, by_name=False)
        except ValidationError:
            return False
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):  # the SDK has ended
            await to_sdk.send(SessionMessage(parsed))
        return True

    async def _drain(self) -> None:
        """Let requests already received be answered (bounded) before the SDK loop ends."""
        with anyio.move_on_after(DRAIN_S):
            while self.in_flight:
                await asyncio.sleep(0.01)

    # -- writing --------------------------------------------------------------------------------

    async def _write(self, from_sdk: MemoryObjectReceiveStream[SessionMessage]) -> None:
        async with from_sdk:
            async for item in from_sdk:
                message = item.message
                if (
                    isinstance(message, mcp_types.JSONRPCError | mcp_types.JSONRPCResponse)
                    and message.id is not None
                ):
                    self.in_flight.pop(coerce_request_id(message.id), None)
                if isinstance(message, mcp_types.JSONRPCError) and not _valid_code(message.error.code):
                    self._log_once(f"replaced error code {message.error.code!r} by {INTERNAL_ERROR}")
                    error = mcp_types.ErrorData(code=INTERNAL_ERROR, message="Internal error.")
                    message = mcp_types.JSONRPCError(jsonrpc="2.0", id=message.id, error=error)
                await self._send(_encode(message))

    async def _reply(self, ident: Any, problem: Problem) -> None:
        await self._send(frames.error_reply(ident, problem))

    async def _send(self, frame: bytes) -> None:
        assert self._wire is not None
        await self._wire.write(frame + b"\n")

    def _log_once(self, text: str) -> None:
        if text not in self._logged:
            self._logged.add(text)
            log.warning("%s (logged once)", text)


def _envelope_problem(message: Any) -> Problem | None:
    """What JSON-RPC 2.0 and MCP require of a message before the SDK sees it."""
    if not isinstance(message, dict):
        what = (
            "a batch (an array); send one message per line" if isinstance(message, list) else "not an object"
        )
        return Problem(INVALID_REQUEST, f"The message is {what}.")
    if message.get("jsonrpc") != "2.0":
        return Problem(INVALID_REQUEST, "The message is not JSON-RPC 2.0 ('jsonrpc' must be \"2.0\").")
    method = message.get("method")
    if "method" in message and not isinstance(method, str):
        return Problem(INVALID_REQUEST, "The method must be a string.")
    if "id" in message and not frames.valid_id(message["id"]):
        return Problem(INVALID_REQUEST, "The id must be a string or an integer (64-bit).")
    if method is None:
        if "id" not in message or ("result" in message) == ("error" in message):
            return Problem(
                INVALID_REQUEST, "The message is neither a request, a notification nor a response."
            )
        return None
    if "params" in message and not isinstance(message["params"], dict):
        return Problem(INVALID_PARAMS, "The field 'params' must be a JSON object.", "params")
    return None


def _encode(message: Any) -> bytes:
    """A message's JSON. A result is plain JSON already (the SDK dumped it, ``mode="json"``):
    orjson writes it ~10x faster than pydantic does (a 1 MB context_get answer, with its text
    copy: 2 ms instead of 13); anything orjson refuses (an integer beyond 64 bits) goes the SDK's way."""
    if isinstance(message, mcp_types.JSONRPCResponse):
        with contextlib.suppress(TypeError, orjson.JSONEncodeError):
            return orjson.dumps({"jsonrpc": "2.0", "id": message.id, "result": message.result})
    encoded: bytes = message.model_dump_json(by_alias=True, exclude_unset=True).encode()
    return encoded


def _valid_code(code: Any) -> bool:
    """JSON-RPC's own codes and the server-defined range; never 0 or another stray integer."""
    return isinstance(code, int) and (-32768 <= code <= -32000)


async def _lines(reader: asyncio.StreamReader, limit: int) -> AsyncIterator[bytes | None]:
    """The lines of ``reader`` without their newline; None for a line over ``limit`` (skipped)."""
    buffer = bytearray()
    scanned = 0
    skipping = False
    while chunk := await reader.read(1 << 16):
        buffer += chunk
        while (end := buffer.find(b"\n", scanned)) >= 0:
            line = bytes(buffer[:end])
            del buffer[: end + 1]
            scanned = 0
            if skipping:
                skipping = False
            elif len(line) <= limit:
                yield line
            else:
                yield None
        scanned = len(buffer)
        if len(buffer) > limit:
            if not skipping:
                yield None
            skipping = True
            buffer.clear()
            scanned = 0
    if buffer and not skipping:
        yield bytes(buffer)


async def _until(stop: asyncio.Event, lines: AsyncIterator[bytes | None]) -> AsyncIterator[bytes | None]:
    """``lines`` until they end or ``stop`` is set (a signal), whichever comes first."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            reading = asyncio.ensure_future(anext(lines))
            done, _ = await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if reading not in done:
                reading.cancel()
                return
            try:
                line = reading.result()
            except StopAsyncIteration:
                return
            yield line
    finally:
        stopping.cancel()
