"""The JSON-RPC protocol, adapted to our needs on top of pygls' LanguageServerProtocol.

Why not pygls' defaults (docs/architecture.md, "Where we bend the frameworks"): its reader runs a cattrs
hook on every nested JSON object, which renames keys such as ``class`` or ``/src/a.py``, turns stored data
that looks like a JSON-RPC message into a message object, and costs ~100x on large params; it drops
requests whose params fail to parse (the client hangs) and requests after ``shutdown``; it logs params
(user data) and puts tracebacks (server paths) in error data. Here each frame is parsed once with orjson
and only the top-level message is converted; custom methods keep plain dict params; results may carry
pre-serialized JSON (``orjson.Fragment``) straight from the store.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
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

from groundhog import frames
from groundhog.methods import DID_CHANGE_EDITOR

log = logging.getLogger(__name__)

INVALID_REQUEST = -32600
_INVALID = {"kind": "InvalidRequest"}
# Methods the LSP (and our protocol) define as notifications: sent with an id, they are refused.
NOTIFICATION_METHODS = frozenset(
    method
    for method, (message, *_rest) in types.METHOD_TO_TYPES.items()
    if "id" not in {field.name for field in getattr(message, "__attrs_attrs__", ())}
) | {DID_CHANGE_EDITOR}


class RpcError(JsonRpcException):
    """A JSON-RPC error with our code, one-sentence message and ``data`` (never a traceback)."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(code=code, message=message, data=data)


class _Futures(dict[Any, Any]):
    """pygls' ``_request_futures``, safe to iterate while entries go: ``_forget`` removes a future
    from its done-callback, which a thread's future runs at once, inside pygls' own loop over the
    dict (``shutdown`` cancelling what is pending): 'dictionary changed size during iteration'."""

    def items(self) -> Any:
        return list(super().items())


class GroundhogProtocol(LanguageServerProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_futures = _Futures(self._request_futures)
        self._pending_writes: set[asyncio.Future[Any]] = set()
        self._awaiting: set[Any] = set()  # ids of the server's own requests to the client
        self._logged: set[str] = set()

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
        """Parse one frame body and dispatch it. Nothing a peer sends may stop the server: broken
        JSON is logged and skipped, an invalid message is answered or dropped, and a failure while
        handling a message is logged (once per kind) and answered without details."""
        frame = frames.parse(body)  # strict JSON, one depth limit for both faces
        if frame.problem is not None:
            if frame.is_request and frame.problem.code != frames.PARSE_ERROR:  # NaN, bad UTF-8, too deep
                ident = frame.id if _valid_id(frame.id) else None
                self._send_error(ident, frame.problem.code, frame.problem.message, frame.problem.data())
            else:
                log.warning("skipped a frame whose JSON is broken (%d bytes)", len(body))
            return
        message = frame.message
        try:
            self._admit(message)
        except Exception as error:
            self._log_once(f"a message could not be handled ({type(error).__name__})")
            if isinstance(message, dict) and "method" in message and _valid_id(message.get("id")):
                self._send_error(message["id"], -32603, "Internal error.", {"kind": "InternalError"})

    def _admit(self, message: Any) -> None:
        """What JSON-RPC 2.0 and the LSP allow, before pygls sees anything: ids are strings or
        integers, a response answers a request of ours, a notification method carries no id, an id
        is not reused while its request is in flight."""
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            self._reply_invalid(message, "The message is not a JSON-RPC 2.0 object.")
            return
        method = message.get("method")
        has_id = "id" in message
        msg_id = message.get("id")
        if has_id and not _valid_id(msg_id):
            if method is not None:  # a request whose id cannot be echoed: JSON-RPC answers with null
                self._send_error(None, INVALID_REQUEST, "The id must be a string or an integer.", _INVALID)
            else:
                self._log_once("dropped a response with an invalid id")
            return
        if method is None:
            if not has_id or msg_id not in self._awaiting:
                self._log_once("dropped a response to no request of the server's")
                return
            self._awaiting.discard(msg_id)
        elif not isinstance(method, str):
            self._reply_invalid(message, "The method must be a string.")
            return
        elif has_id and method in NOTIFICATION_METHODS:
            self._send_error(
                msg_id, INVALID_REQUEST, f"{method!r} is a notification: send it without an id.", _INVALID
            )
            return
        elif has_id and msg_id in self._request_futures:
            self._send_error(
                msg_id, INVALID_REQUEST, "A request with this id is already in progress.", _INVALID
            )
            return
        elif method == types.CANCEL_REQUEST:
            params = message.get("params")
            if not isinstance(params, dict) or not _valid_id(params.get("id")):
                self._log_once("dropped a $/cancelRequest without a valid id")
                return
        try:
            parsed = self._to_message(message)
        except Exception:
            log.warning("a %r message did not match its LSP type", method)
            if has_id and method is not None:
                self._send_error(
                    msg_id,
                    -32602,
                    f"The params do not match the LSP type of {method!r}.",
                    {"kind": "InvalidParams"},
                )
            return
        if parsed is None:
            return
        if self._shutdown and has_id and method not in (None, types.EXIT):
            self._send_error(msg_id, INVALID_REQUEST, "The server is shutting down.", _INVALID)
            return
        self.handle_message(parsed)

    def send_request(self, method: str, params: Any = None, callback: Any = None, msg_id: Any = None) -> Any:
        """Requests to the client: remember their ids, the only responses the server accepts."""
        msg_id = msg_id if msg_id is not None else str(uuid.uuid4())
        self._awaiting.add(msg_id)
        return super().send_request(method, params, callback, msg_id)

    def _execute_handler(
        self, msg_id: Any, handler: Any, callback: Any, args: Any = None, kwargs: Any = None
    ) -> None:
        """pygls keeps a future per handled message in ``_request_futures`` and removes only those
        of requests once answered: a notification's stayed forever (~1-3 KB per keystroke). Every
        entry now goes once its future is done."""
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future = self._request_futures.get(msg_id)
        if future is not None:
            future.add_done_callback(functools.partial(self._forget, msg_id))

    def _forget(self, msg_id: Any, future: Any) -> None:
        if self._request_futures.get(msg_id) is future:
            del self._request_futures[msg_id]

    def _log_once(self, text: str) -> None:
        if text not in self._logged:
            self._logged.add(text)
            log.warning("%s (logged once)", text)

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

    def _send_error(self, msg_id: Any, code: int, message: str, data: dict[str, Any]) -> None:
        self._write(
            {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message, "data": data}}
        )

    def _reply_invalid(self, message: Any, text: str) -> None:
        if isinstance(message, dict) and _valid_id(message.get("id")):
            self._send_error(message["id"], INVALID_REQUEST, text, _INVALID)
        else:
            self._log_once("skipped an invalid message")

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
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            payload = {**payload, "error": _safe_error(payload["error"])}
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


def _valid_id(value: Any) -> bool:
    """JSON-RPC ids we accept: strings and integers (SQLite-sized); not null, floats, bools,
    objects or arrays."""
    if isinstance(value, bool):
        return False
    return isinstance(value, str) or (isinstance(value, int) and -(2**63) <= value < 2**63)


def _safe_error(error: dict[str, Any]) -> dict[str, Any]:
    """Every error answer carries ``data: {kind, ...}`` and a one-line message; pygls' own errors
    carry a traceback (server paths) in ``data`` or the message: those are replaced."""
    code = error.get("code")
    data = error.get("data")
    message = error.get("message")
    if isinstance(data, dict) and "kind" in data and isinstance(message, str) and "Traceback" not in message:
        return error
    kind = frames.KINDS.get(code if isinstance(code, int) else -32603, "InternalError")
    if not isinstance(message, str) or "Traceback" in message or 'File "' in message or "\n" in message:
        message = "Internal error." if kind == "InternalError" else f"{kind}."
    return {"code": code, "message": message, "data": {"kind": kind}}


def _offer_only_utf16(message: dict[str, Any]) -> None:
    """Editor-shape positions are stored once and read back by every editor, so they must mean the
    same thing everywhere: always UTF-16 (LSP's default). Hide the client's other offers so the
    negotiated ``positionEncoding`` is UTF-16 too (Neovim offers UTF-8 first)."""
    params = message.get("params")
    general = params.get("capabilities", {}).get("general") if isinstance(params, dict) else None
    if isinstance(general, dict):
        general.pop("positionEncodings", None)
