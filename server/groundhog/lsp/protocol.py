"""The JSON-RPC protocol, adapted to our needs on top of pygls' LanguageServerProtocol.

Why not pygls' defaults (FINDINGS.md): its reader runs a cattrs hook on every nested JSON object,
which renames keys such as ``class`` or ``/src/a.py``, turns stored data that looks like a JSON-RPC
message into a message object, and costs ~100x on large params; it drops requests whose params fail to
parse (the client hangs) and requests after ``shutdown``; it logs params (user data) and puts tracebacks
(server paths) in error data. Here each frame is parsed once with orjson and only the top-level message
is converted; custom methods keep plain dict params; results may carry pre-serialized JSON
(``orjson.Fragment``) straight from the store.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    LanguageServerProtocol,
    lsp_method,
)

log = logging.getLogger(__name__)

INVALID_REQUEST = -32600
PARSE_ERROR = -32700


class RpcError(JsonRpcException):
    """A JSON-RPC error with our code, one-sentence message and ``data`` (never a traceback)."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(code=code, message=message, data=data)


class GroundhogProtocol(LanguageServerProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending_writes: set[asyncio.Future[Any]] = set()

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Any:
        """End this connection (not the process: a TCP server has others); the transport decides."""
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        code = 0 if self._shutdown else 1
        exit_code = getattr(self._server, "exit_code", None)
        if exit_code is not None and not exit_code.done():
            exit_code.set_result(code)
        if self.writer is not None:
            self.writer.close()

    def handle_frame(self, body: bytes) -> None:
        """Parse one frame body and dispatch it. Broken JSON is logged and skipped."""
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            log.warning("skipped a frame whose JSON is broken (%d bytes)", len(body))
            return
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            self._reply_invalid(message, "The message is not a JSON-RPC 2.0 object.")
            return
        try:
            parsed = self._to_message(message)
        except Exception:
            log.warning("a %r message did not match its LSP type", message.get("method"))
            if "id" in message and "method" in message:
                self._send_error(
                    message["id"],
                    -32602,
                    f"The params do not match the LSP type of {message['method']!r}.",
                    {"kind": "InvalidParams"},
                )
            return
        if parsed is None:
            return
        if self._shutdown and "id" in message and message.get("method") not in (None, types.EXIT):
            self._send_error(
                message["id"], INVALID_REQUEST, "The server is shutting down.", {"kind": "InvalidRequest"}
            )
            return
        self.handle_message(parsed)

    def _to_message(self, message: dict[str, Any]) -> Any:
        method = message.get("method")
        has_id = "id" in message
        if method is None:
            if not has_id:
                return None
            if "error" in message:
                return self._converter.structure(message, types.ResponseErrorMessage)
            result_type = self._result_types.pop(message["id"], None) or JsonRPCResponseMessage
            return self._converter.structure(message, result_type)
        if not isinstance(method, str):
            self._reply_invalid(message, "The method must be a string.")
            return None
        lsp_type = self.get_message_type(method)
        if lsp_type is not None:
            if method == types.INITIALIZE:
                _offer_only_utf16(message)
            return self._converter.structure(message, lsp_type)
        params = message.get("params")
        if has_id:
            return JsonRPCRequestMessage(id=message["id"], method=method, jsonrpc="2.0", params=params)
        return JsonRPCNotification(method=method, jsonrpc="2.0", params=params)

    def _reply_invalid(self, message: Any, text: str) -> None:
        if isinstance(message, dict) and isinstance(message.get("id"), int | str):
            self._send_error(message["id"], INVALID_REQUEST, text, {"kind": "InvalidRequest"})
        else:
            log.warning("skipped an invalid message")

    def _send_error(self, msg_id: Any, code: int, message: str, data: dict[str, Any]) -> None:
        self._write(
            {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message, "data": data}}
        )

    def _send_data(self, data: Any) -> None:
        if not data:
            return
        if isinstance(data, JsonRPCResponseMessage):
            payload: Any = {"jsonrpc": "2.0", "id": data.id, "result": data.result}
        elif isinstance(data, JsonRPCNotification):
            payload = {"jsonrpc": "2.0", "method": data.method, "params": data.params}
        else:
            payload = self._converter.unstructure(data)
        self._write(payload)

    def _write(self, payload: Any) -> None:
        if self.writer is None:
            return
        try:
            body = orjson.dumps(payload, default=self._serialize_message)
        except (TypeError, orjson.JSONEncodeError):
            log.warning("a message could not be serialized")
            if not (isinstance(payload, dict) and "result" in payload):
                return
            # a request must never go unanswered: the client would wait forever
            error = {
                "code": -32603,
                "message": "The result could not be serialized.",
                "data": {"kind": "InternalError"},
            }
            body = orjson.dumps({"jsonrpc": "2.0", "id": payload["id"], "error": error})
        if self._include_headers:
            body = b"Content-Length: %d\r\n\r\n" % len(body) + body
        result = self.writer.write(body)
        if result is not None:  # websocket writers are async: keep the task until it is done
            task = asyncio.ensure_future(result)
            self._pending_writes.add(task)
            task.add_done_callback(self._pending_writes.discard)


def _offer_only_utf16(message: dict[str, Any]) -> None:
    """Editor-shape positions are stored once and read back by every editor, so they must mean the
    same thing everywhere: always UTF-16 (LSP's default). Hide the client's other offers so the
    negotiated ``positionEncoding`` is UTF-16 too (Neovim offers UTF-8 first)."""
    params = message.get("params")
    general = params.get("capabilities", {}).get("general") if isinstance(params, dict) else None
    if isinstance(general, dict):
        general.pop("positionEncodings", None)
