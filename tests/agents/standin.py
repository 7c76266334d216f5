"""A stand-in for the model API that Claude Code talks to (``ANTHROPIC_BASE_URL``): answers
``POST /v1/messages`` with streamed SSE events from a script of turns (text or ``tool_use``
blocks), records every request so a test can read what the model was given, and answers the side
requests (titles, topic checks: requests without tools) with a short text. No model, no network."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def text_turn(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}]


def tool_turn(name: str, arguments: dict[str, Any], tool_id: str = "toolu_01") -> list[dict[str, Any]]:
    return [{"type": "tool_use", "id": tool_id, "name": name, "input": arguments}]


class StandIn:
    """``with StandIn() as api:`` then ``api.url``; ``api.script(turns...)`` queues the answers of
    the main loop's requests (those that offer tools); ``api.requests`` holds every request body."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._turns: list[list[dict[str, Any]]] = []
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._json(200, {})

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                path = self.path.split("?")[0]
                if not path.endswith("/v1/messages"):
                    if path.endswith("/count_tokens"):
                        self._json(200, {"input_tokens": 10})
                    else:
                        self._json(200, {})
                    return
                blocks = stand_in._answer_for(body)
                if not body.get("stream"):
                    self._json(200, _message(blocks))
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                for event, data in _events(blocks):
                    self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()

            def _json(self, status: int, value: Any) -> None:
                payload = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, *turns: list[dict[str, Any]]) -> None:
        with self._lock:
            self._turns.extend(turns)

    def main_requests(self) -> list[dict[str, Any]]:
        """The requests of the agent's main loop (they offer tools), oldest first."""
        with self._lock:
            return [r for r in self.requests if r.get("tools")]

    def _answer_for(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            self.requests.append(body)
            if body.get("tools") and self._turns:
                return self._turns.pop(0)
        return text_turn("Done.")

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _message(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    uses_tool = any(b["type"] == "tool_use" for b in blocks)
    return {
        "id": "msg_standin",
        "type": "message",
        "role": "assistant",
        "model": "claude-standin",
        "content": blocks,
        "stop_reason": "tool_use" if uses_tool else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def _events(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    start = _message([])
    start["stop_reason"] = None
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": {},
                    },
                },
            )
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    reason = _message(blocks)["stop_reason"]
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": None},
            "usage": {"output_tokens": 5},
        },
    )
    yield "message_stop", {"type": "message_stop"}
