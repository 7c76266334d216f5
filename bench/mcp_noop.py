"""``python -m bench.mcp_noop``: the MCP SDK's own floors for ``bench.mcp_face``. A minimal ``MCPServer``
over stdio with two tools that return constants: ``noop`` (what any server built on the SDK pays for a
tool call: JSON-RPC over stdio, the SDK's dispatch and validation on both sides; and, spawned, for
starting up), and ``state_1mb``, a result shaped as ``context_get``'s on a 1 MB state (1000 keys of
1000-character strings as structured content, one short text block, no output schema): what the SDK
alone pays to carry 1 MB. Imports nothing but the SDK, so that its start-up is the SDK's."""

from __future__ import annotations

import functools
import json
import random
import string
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent

server = MCPServer("bench-noop", log_level="WARNING")


@server.tool(description="Returns a constant.")
def noop() -> str:
    return "ok"


@server.tool(description="Returns a constant result of about 1 MB.")
def state_1mb() -> CallToolResult:
    """Shaped as groundhog mcp answers (MCP: structured content SHOULD also come as text): the
    summary, the result's JSON as text, and the result as structuredContent."""
    return CallToolResult(
        content=[
            TextContent(type="text", text="Context 'bench' at version 1: 1000 key(s)."),
            TextContent(type="text", text=_megabyte_text()),
        ],
        structured_content=_megabyte(),
    )


@functools.cache
def _megabyte_text() -> str:
    return json.dumps(_megabyte(), separators=(",", ":"))


@functools.cache
def _megabyte() -> dict[str, Any]:
    rnd = random.Random(1)
    alphabet = string.ascii_letters + string.digits
    data = {f"key-{i:04d}": "".join(rnd.choices(alphabet, k=1000)) for i in range(1000)}
    return {"context": "bench", "version": 1, "lastModified": "2026-01-01T00:00:00.000Z", "data": data}


if __name__ == "__main__":
    server.run()
