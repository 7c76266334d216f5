"""The private parts of pygls and of the MCP SDK that the faces rely on, asserted by name, so that an
upgrade that changes them fails here with the cause named instead of somewhere deep in a wire test."""

from __future__ import annotations

import inspect

from pygls.protocol import JsonRPCProtocol, LanguageServerProtocol


def test_pygls_keeps_what_the_lsp_face_overrides_or_reads() -> None:
    from groundhog.lsp.server import GroundhogServer

    server = GroundhogServer()
    protocol = server.protocol
    for attribute in (
        "_request_futures",
        "_result_types",
        "_shutdown",
        "_converter",
        "fm",
        "_server",
        "writer",
    ):
        assert hasattr(protocol, attribute), f"pygls' protocol no longer has {attribute}"
    assert isinstance(protocol._request_futures, dict)
    # overridden with the same parameters: handler futures are pruned (memory), ids are tracked
    assert list(inspect.signature(JsonRPCProtocol._execute_handler).parameters) == [
        "self",
        "msg_id",
        "handler",
        "callback",
        "args",
        "kwargs",
    ]
    assert list(inspect.signature(JsonRPCProtocol.send_request).parameters) == [
        "self",
        "method",
        "params",
        "callback",
        "msg_id",
    ]
    for method in ("_send_data", "_handle_cancel_notification", "get_message_type", "handle_message"):
        assert callable(getattr(LanguageServerProtocol, method, None)), f"pygls lost {method}"


def test_the_mcp_sdk_keeps_what_the_mcp_face_uses() -> None:
    from mcp.server.mcpserver import MCPServer

    from groundhog.mcp.server import GroundhogMCP, McpSettings

    server = GroundhogMCP(McpSettings())
    lowlevel = server._lowlevel_server  # resources/subscribe is added on it (MCPServer does not serve it)
    assert callable(lowlevel.add_request_handler)
    assert lowlevel.get_request_handler("resources/subscribe") is not None
    assert isinstance(server.middleware, list)
    # overridden public methods keep the SDK's parameters
    for name in ("call_tool", "list_tools", "list_resources", "read_resource", "run_stdio_async"):
        ours = list(inspect.signature(getattr(GroundhogMCP, name)).parameters)
        theirs = list(inspect.signature(getattr(MCPServer, name)).parameters)
        assert ours == theirs, f"MCPServer.{name} changed: {theirs}"


def test_shutdown_cancels_pending_handlers_whose_futures_forget_themselves_at_once() -> None:
    """A handler run on a thread has a concurrent future: cancelling it runs its done-callback (which
    removes it from ``_request_futures``) inside pygls' loop over that dict. Found by a Neovim client
    sending shutdown right after a refused initialize: -32603 'dictionary changed size'."""
    import concurrent.futures
    import functools

    from groundhog.lsp.server import GroundhogServer

    protocol = GroundhogServer().protocol
    for msg_id in range(3):
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        protocol._request_futures[msg_id] = future
        future.add_done_callback(functools.partial(protocol._forget, msg_id))
    for _ in protocol.lsp_shutdown():  # the generator pygls drives (it first yields our handler)
        pass
    assert protocol._request_futures == {}
