"""What a JSON-RPC frame holds, decided the same way on every face (the editors' LSP frames, the
agents' MCP lines): strict JSON, or the first thing wrong with it and, whenever the peer can
correlate one, the request id to answer.

Strict means what orjson accepts: UTF-8 only, no lone surrogates, no NaN or Infinity, numbers that
fit a double. A frame that is not strict JSON is read a second time, leniently (Python's parser on
the bytes decoded with ``surrogateescape``), only to find the request's id and the field at fault:
invalid UTF-8 and lone surrogates, NaN and Infinity are answered InvalidParams naming the field,
never stored (the MCP SDK's own reader turned invalid bytes into U+FFFD and NaN into null). JSON
nested deeper than ``MAX_FRAME_DEPTH`` is refused the same way, whatever parser would have coped:
one depth limit for both faces, ``params.MAX_DEPTH`` levels below a request's params (an MCP tool's
arguments sit one level lower, so they get the same ``MAX_DEPTH`` as an LSP request's params).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import orjson

from groundhog.params import MAX_DEPTH

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
# every JSON-RPC error's kind (``data.kind``), whichever face answers it
KINDS = {
    PARSE_ERROR: "ParseError",
    INVALID_REQUEST: "InvalidRequest",
    -32601: "MethodNotFound",
    INVALID_PARAMS: "InvalidParams",
    -32603: "InternalError",
    -32800: "RequestCancelled",
    -32002: "ServerNotInitialized",
}
# message -> params -> (an MCP tool call's arguments) -> values
MAX_FRAME_DEPTH = MAX_DEPTH + 2
NO_ID: Any = object()  # the frame carries no id (a notification), or none could be read


@dataclass(frozen=True)
class Problem:
    """Why a frame cannot be served, and what to answer (when it was a request)."""

    code: int
    message: str
    field: str | None = None

    def __post_init__(self) -> None:  # what we answer must itself be valid Unicode
        object.__setattr__(self, "message", _clean(self.message))
        if self.field is not None:
            object.__setattr__(self, "field", _clean(self.field))

    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": KINDS.get(self.code, "InvalidRequest")}
        if self.field is not None:
            data["field"] = self.field
        return data


@dataclass(frozen=True)
class Frame:
    message: Any = None  # the parsed message, when the frame is strict JSON within the depth limit
    problem: Problem | None = None
    id: Any = NO_ID  # the request id as sent (any JSON scalar), when one could be read
    method: Any = None  # the method as sent, when one could be read

    @property
    def is_request(self) -> bool:
        return self.id is not NO_ID and self.method is not None


def parse(body: bytes) -> Frame:
    """Parse one frame; never raises."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _lenient(body)
    path = _too_deep(message) if _may_be_deep(body) else None
    if path is not None:
        return _refused(message, _deep(path))
    return Frame(message=message, id=_get(message, "id"), method=_get(message, "method"))


def _get(message: Any, key: str) -> Any:
    if isinstance(message, dict) and key in message:
        return message[key]
    return NO_ID if key == "id" else None


def _refused(message: Any, problem: Problem) -> Frame:
    return Frame(problem=problem, id=_get(message, "id"), method=_get(message, "method"))


def _deep(path: str) -> Problem:
    """Too deep: named by the field that holds the nesting (``arguments.set``, ``set``), as the
    params check names it, not by the long path down to where the limit was crossed."""
    field = ".".join(path.removeprefix("params.").split("[", 1)[0].split(".")[:2]) or "params"
    return Problem(INVALID_PARAMS, f"The field {field!r} is nested more than {MAX_DEPTH} levels deep.", field)


# -- the second, lenient reading ----------------------------------------------------------------


class _NonFinite:
    """Where the lenient reading found NaN, Infinity or a number too large for a double."""


NON_FINITE = _NonFinite()


def _float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else NON_FINITE


def _lenient(body: bytes) -> Frame:
    try:
        message = json.loads(
            body.decode("utf-8", "surrogateescape"),
            parse_constant=lambda _constant: NON_FINITE,
            parse_float=_float,
        )
    except RecursionError:
        envelope = scan_envelope(body)
        return Frame(problem=_deep("params"), id=envelope.get("id", NO_ID), method=envelope.get("method"))
    except ValueError:
        return Frame(problem=Problem(PARSE_ERROR, "The message is not valid JSON."))
    found = _first_fault(message)
    if found is None:  # accepted by one parser and not the other: not JSON we serve
        return _refused(message, Problem(PARSE_ERROR, "The message is not valid JSON."))
    path, fault = found
    if fault == "deep":
        return _refused(message, _deep(path))
    if path in ("", "id", "method", "jsonrpc") or path.startswith(("id.", "method.")):
        return Frame(problem=Problem(INVALID_REQUEST, f"The message's {path or 'body'} is {fault}."))
    field = path.removeprefix("params.")[:200]
    problem = Problem(INVALID_PARAMS, f"The field {field!r} is {fault}.", field)
    ident = _get(message, "id")
    return Frame(problem=problem, id=ident, method=_get(message, "method"))


def _first_fault(message: Any) -> tuple[str, str] | None:
    """The path of the first value JSON-RPC cannot carry, and what is wrong with it."""
    for node, path, depth in _walk(message):
        if node is NON_FINITE:
            return path, "not a finite number (NaN and Infinity are not JSON)"
        if isinstance(node, str) and _unpaired(node):
            return path, "not valid Unicode (invalid UTF-8 or a lone surrogate)"
        if isinstance(node, dict | list) and depth > MAX_FRAME_DEPTH:
            return path, "deep"
        if isinstance(node, dict) and any(_unpaired(key) for key in node):
            return path, "an object with a key that is not valid Unicode (invalid UTF-8 or a lone surrogate)"
    return None


def _walk(message: Any) -> Any:
    """Every value of ``message`` with its path and depth (the message is depth 1), iteratively:
    a nesting the recursion limit could not take is still walked."""
    stack: list[tuple[Any, str, int]] = [(message, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        yield node, path, depth
        if isinstance(node, dict):
            for key, value in node.items():
                stack.append((value, f"{path}.{key}" if path else str(key), depth + 1))
        elif isinstance(node, list):
            stack.extend((value, f"{path}[{index}]", depth + 1) for index, value in enumerate(node))


def _clean(text: str) -> str:
    return text.encode("utf-8", "replace").decode() if _unpaired(text) else text


def _unpaired(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# -- depth --------------------------------------------------------------------------------------


def _may_be_deep(body: bytes) -> bool:
    """A cheap pre-check: a frame with fewer brackets than the limit cannot be nested beyond it."""
    return body.count(b"[") + body.count(b"{") > MAX_FRAME_DEPTH


def _too_deep(message: Any) -> str | None:
    """The path of a container nested deeper than the limit."""
    for node, path, depth in _walk(message):
        if depth > MAX_FRAME_DEPTH and isinstance(node, dict | list):
            return str(path)
    return None


# -- the envelope of a frame no parser could read ------------------------------------------------


def scan_envelope(body: bytes) -> dict[str, Any]:
    """The top-level ``id`` and ``method`` of a JSON object too deep for any parser, read by a
    scanner that skips nested values by counting brackets outside strings (scalars only)."""
    found: dict[str, Any] = {}
    text = body.strip()
    if not text.startswith(b"{"):
        return found
    depth, index, key, expecting_key = 0, 0, None, True
    length = len(text)
    while index < length:
        char = text[index : index + 1]
        if char == b'"':
            end = _string_end(text, index)
            if end < 0:
                return found
            if depth == 1:
                token = text[index : end + 1]
                if expecting_key:
                    key = _decode(token)
                elif key in ("id", "method"):
                    found[key] = _decode(token)
            index = end + 1
            continue
        if char in (b"{", b"["):
            depth += 1
        elif char in (b"}", b"]"):
            depth -= 1
        elif depth == 1 and char == b":":
            expecting_key = False
            start = index + 1
            stop = start
            while stop < length and text[stop : stop + 1] not in (b",", b"}", b'"', b"{", b"["):
                stop += 1
            raw = text[start:stop].strip()
            if raw and key in ("id", "method"):
                found[key] = _decode(raw)
        elif depth == 1 and char == b",":
            expecting_key, key = True, None
        index += 1
    return {key: value for key, value in found.items() if value is not None or key == "id"}


def _string_end(text: bytes, start: int) -> int:
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == 0x5C:  # backslash: skip the escaped character
            index += 2
            continue
        if char == 0x22:
            return index
        index += 1
    return -1


def _decode(token: bytes) -> Any:
    try:
        value = json.loads(token.decode("utf-8", "surrogateescape"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, str | int | float) and not isinstance(value, bool) else None


def exact_id(body: bytes, ident: Any) -> Any:
    """``ident`` as the peer wrote it: an integer beyond 64 bits reads as a float (orjson), but an
    answer must echo the very number sent for the peer to find its request."""
    if isinstance(ident, float):
        return scan_envelope(body).get("id", ident)
    return ident


def valid_id(value: Any) -> bool:
    """Ids we serve: strings and integers that fit 64 bits; not null, floats, booleans, objects."""
    if isinstance(value, bool):
        return False
    return (isinstance(value, str) and not _unpaired(value)) or (
        isinstance(value, int) and -(2**63) <= value < 2**63
    )


def error_reply(ident: Any, problem: Problem) -> bytes:
    """A JSON-RPC error answer, echoing ``ident`` as sent when it is a number or a string (a float
    or huge id too: the peer can still correlate it), else null. Never fails."""
    echo = ident if isinstance(ident, str | int | float) and not isinstance(ident, bool) else None
    if (isinstance(echo, float) and not math.isfinite(echo)) or (isinstance(echo, str) and _unpaired(echo)):
        echo = None
    body = {
        "jsonrpc": "2.0",
        "id": echo,
        "error": {"code": problem.code, "message": problem.message, "data": problem.data()},
    }
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode()
