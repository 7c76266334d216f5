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
    # subscriptions/listen is wrapped (the session opens before the stream is acknowledged)
    listen = lowlevel.get_request_handler("subscriptions/listen")
    assert listen is not None and listen.params_type is not None and callable(listen.handler)
    # overridden public methods keep the SDK's parameters
    for name in (
        "call_tool",
        "get_prompt",
        "list_tools",
        "list_resources",
        "read_resource",
        "run_stdio_async",
    ):
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


def test_the_mcp_sdk_keeps_what_the_mcp_transport_relies_on() -> None:
    """Our stdio reader and writer (mcp/transport.py) stand in for the SDK's stdio_server: they hand
    the SDK's loop parsed messages and write what it sends, and correlate ids its way."""
    import mcp_types
    from mcp.server.context import ServerRequestContext
    from mcp.server.lowlevel.server import Server
    from mcp.server.mcpserver import Context
    from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
    from mcp.shared.dispatcher import coerce_request_id
    from mcp.shared.message import SessionMessage

    message = mcp_types.jsonrpc_message_adapter.validate_python(
        {"jsonrpc": "2.0", "id": 7, "method": "ping"}, by_name=False
    )
    assert isinstance(message, mcp_types.JSONRPCRequest)
    assert SessionMessage(message).message is message
    assert coerce_request_id("7") == coerce_request_id(7) == 7
    error = mcp_types.JSONRPCError(jsonrpc="2.0", id=7, error=mcp_types.ErrorData(code=-32603, message="x"))
    assert '"code":-32603' in error.model_dump_json(by_alias=True, exclude_unset=True)
    assert list(inspect.signature(Server.run).parameters)[:4] == [
        "self",
        "read_stream",
        "write_stream",
        "initialization_options",
    ]
    assert "request_id" in ServerRequestContext.__dataclass_fields__
    assert isinstance(Context.request_context, property)
    assert issubclass(ResourceNotFoundError, ResourceError)
    assert callable(asyncio_task_cancelling())


def asyncio_task_cancelling() -> object:
    """Task.cancelling() (Python 3.11+) tells a cancelled task from a cancelled future it awaits."""
    import asyncio

    return asyncio.Task.cancelling
