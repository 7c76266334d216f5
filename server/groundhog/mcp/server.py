"""``groundhog mcp``: the agents' face (MCP.md) on the official MCP SDK's high-level ``MCPServer``.

One process, one stdio connection (read and written by our own transport, transport.py), one
session of kind ``mcp`` on the workspace store. The session opens as soon as the connection is up
(after ``initialized`` in the handshake era, on the first request in the 2026-07-28 era), so that
change events flow from the first request on (events.py); the workspace may come from the client's
roots, which can only be asked once the connection is up. Tools and resources call the same engine
operations as the LSP requests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import orjson
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolResult,
    EmptyResult,
    GetPromptResult,
    InputRequiredResult,
    Resource,
    ResourceTemplate,
    SubscribeRequestParams,
    Tool,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from pydantic import ValidationError

from groundhog import __version__
from groundhog.brief import resume as resume_brief
from groundhog.errors import ContextError, InvalidParams
from groundhog.mcp import answers
from groundhog.mcp import resources as res
from groundhog.mcp.calls import CallCancelled, Calls, cancelled_answer, request_id
from groundhog.mcp.events import Watcher
from groundhog.mcp.tools import TOOLS, refuse_nulls
from groundhog.mcp.transport import StdioTransport
from groundhog.params import ResumeParams, parse
from groundhog.reports import describe_recovery
from groundhog.session import Session, open_session
from groundhog.settings import DEFAULTS
from groundhog.userconfig import resolve

log = logging.getLogger(__name__)
ROOTS_TIMEOUT_S = 5.0
STOP_GRACE_S = 20.0  # a signal ends the process within this, whatever the graceful end is waiting for
INSTRUCTIONS = (
    "Groundhog keeps this workspace's assistant context: named, versioned, encrypted contexts shared "
    "live with the editors open on it. Start with the 'resume' tool (or prompt) to see where things "
    "stand; keep plans, notes and decisions with context_update; context_snapshot before risky work "
    "and context_rollback to undo."
)


@dataclass(frozen=True)
class McpSettings:
    workspace: str | None = None  # None: the client's first file root, else the current directory
    flags: dict[str, Any] = field(default_factory=dict)  # settings given as flags (settings.py)


class GroundhogMCP(MCPServer):
    def __init__(self, settings: McpSettings) -> None:
        self.bus = InMemorySubscriptionBus()
        super().__init__(
            "groundhog",
            version=__version__,
            instructions=INSTRUCTIONS,
            subscriptions=self.bus,
            log_level="WARNING",
        )
        self.config = settings
        self.options = DEFAULTS  # resolved when the session opens (the workspace may be a root)
        self.session: Session | None = None
        self._opening = asyncio.Lock()
        self._peer: ServerSession | None = None  # the connection's back-channel (handshake era)
        self.watcher = Watcher(self.bus, lambda: self._peer)
        self.calls = Calls()
        self.transport = StdioTransport(self.calls)
        self._background: set[asyncio.Task[Any]] = set()
        self._signalled = False
        self.middleware.append(self._on_request)
        lowlevel = self._lowlevel_server
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._on_subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self._on_unsubscribe)
        listen = lowlevel.get_request_handler("subscriptions/listen")
        if listen is not None:  # a stream opened first must hear every later change: open first
            opened = self._opened_first(listen.handler)
            lowlevel.add_request_handler("subscriptions/listen", listen.params_type, opened)
        self.prompt(name="resume", description="Where things stand, as a message to start from.")(
            self._resume_prompt
        )

    # -- the session ----------------------------------------------------------------------------

    async def _on_request(self, ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
        """Every message (notifications too): remember the peer, open the session as soon as the
        connection is up (``initialized``, or the first request of a 2026-07-28 client), and name
        the field of params the SDK's own validation refuses."""
        self._peer = ctx.session
        if ctx.method not in ("initialize", "ping", "server/discover"):
            self._open_soon()
        try:
            return await call_next(ctx)
        except ValidationError as error:
            raise _invalid_params(error) from None

    def _open_soon(self) -> None:
        """Open the session in the background (a failure is answered by the next request)."""
        if self.session is not None or self._opening.locked():
            return

        async def opening() -> None:
            with contextlib.suppress(ContextError):
                await self.open()

        task = asyncio.get_running_loop().create_task(opening())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _opened_first(self, handler: Any) -> Any:
        async def listen(ctx: ServerRequestContext[Any, Any], params: Any) -> Any:
            await self._open_for_resources()  # the feed's cursor is set before the stream is acknowledged
            return await handler(ctx, params)

        return listen

    async def open(self) -> Session:
        """The session: workspace from --workspace, the client's roots, or the current directory;
        client name and version from its clientInfo."""
        async with self._opening:
            if self.session is None:
                root = self.config.workspace or await self._client_root() or os.getcwd()
                # the user's configuration file and environment for that workspace, then the flags
                resolved = await asyncio.to_thread(resolve, root, self.config.flags)
                for problem in resolved.config.problems:
                    log.warning("configuration file: %s", problem)
                options = replace(resolved.settings, editor_tracking=False)
                self.options = options
                session = await asyncio.to_thread(open_session, root, options, self._client())
                self.session = session
                self.watcher.start(session)
                self._tell_recoveries(session, asyncio.get_running_loop())
            return self.session

    def _tell_recoveries(self, session: Session, loop: asyncio.AbstractEventLoop) -> None:
        """Damage the store found and recovered (a context, or the whole file set aside and
        salvaged), when it opened or later: the agent hears it as a warning log message."""

        def tell(text: str) -> None:
            if self._peer is not None:
                message = self._peer.send_log_message("warning", text, logger="groundhog")
                asyncio.run_coroutine_threadsafe(message, loop)

        for salvage in session.salvages:
            tell(salvage.summary())
        for report in session.recoveries:
            tell(describe_recovery(report))
        session.on_salvage(lambda salvage: tell(salvage.summary()))
        session.on_recover(lambda report: tell(describe_recovery(report)))

    def _client(self) -> dict[str, Any]:
        params = self._peer.client_params if self._peer is not None else None
        info = params.client_info if params is not None else None
        return {
            "name": info.name if info is not None else "unknown",
            "version": info.version if info is not None else None,
            "kind": "mcp",
        }

    async def _client_root(self) -> str | None:
        peer = self._peer
        capabilities = peer.client_capabilities if peer is not None else None
        if peer is None or capabilities is None or capabilities.roots is None:
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # roots are deprecated from 2026-07-28 on, not gone
                listed = await asyncio.wait_for(peer.list_roots(), ROOTS_TIMEOUT_S)
        except Exception as error:  # a client that cannot answer: fall back to the current directory
            log.info("the client's roots could not be listed (%s)", type(error).__name__)
            return None
        for root in listed.roots:
            if str(root.uri).startswith("file://"):
                return str(root.uri)
        return None

    async def close(self) -> None:
        """End the session: stop the watcher, remove the session row, close the store."""
        await self.watcher.stop()
        session, self.session = self.session, None
        if session is not None:
            await session.aclose()

    # -- the connection and its end ---------------------------------------------------------------

    async def run_stdio_async(self) -> None:
        """Serve the connection until stdin closes or a signal: either way, what was received is
        answered, the session ends (its row removed), and the process exits."""
        options = self._lowlevel_server.create_initialization_options(
            NotificationOptions(resources_changed=True)
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            await self.transport.serve(lambda read, write: self._lowlevel_server.run(read, write, options))
        finally:
            await self.close()
            if self._signalled:  # no interpreter shutdown: it would wait for idle worker threads
                logging.shutdown()
                os._exit(0)

    def _on_signal(self, signum: int) -> None:
        """Agent hosts end servers with a signal as often as by closing stdin: end the same way. A
        watchdog makes the exit certain; a second signal exits at once."""
        if self._signalled:
            os._exit(1)
        self._signalled = True
        log.info("signal %d: ending the session", signum)
        watchdog = threading.Timer(STOP_GRACE_S, os._exit, (0,))
        watchdog.daemon = True
        watchdog.start()
        self.transport.stop()

    # -- tools ----------------------------------------------------------------------------------

    async def list_tools(self) -> list[Tool]:
        return [
            Tool(
                name=spec.name,
                description=spec.description,
                input_schema=spec.input_schema,
                output_schema=spec.output_schema,
                annotations=ToolAnnotations(
                    read_only_hint=spec.read_only,
                    destructive_hint=spec.destructive,
                    idempotent_hint=spec.idempotent,
                    open_world_hint=False,
                ),
            )
            for spec in TOOLS.values()
        ]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult:
        spec = TOOLS.get(name)
        if spec is None:
            return answers.failure(InvalidParams(f"There is no tool named {name!r}.", field="name"))
        try:
            refuse_nulls(spec.model, arguments)
            params = parse(spec.model, arguments)
            session = await self.open()
            try:
                result = await self.calls.run(
                    request_id(context), session, lambda: spec.handler(session, params)
                )
            finally:
                session.outbox.clear()  # editors' notifications: an agent sees changes as resource events
            return answers.success(spec.verb, result, self.options.max_result_bytes, writes=spec.writes)
        except CallCancelled:
            return await cancelled_answer()
        except ContextError as error:
            self._audit(name, error)
            return answers.failure(error)
        except Exception:
            log.exception("internal error in tool %s", name)
            return answers.failure(
                ContextError(f"Internal error in {name}."), kind="InternalError", code=-32603
            )

    def _audit(self, tool: str, error: ContextError) -> None:
        if self.session is not None:
            self.session.audit_error(tool, error)

    # -- resources ------------------------------------------------------------------------------

    async def list_resources(self) -> list[Resource]:
        session = await self._open_for_resources()
        return res.listed(await session.run(lambda: res.context_names(session)))

    async def list_resource_templates(self) -> list[ResourceTemplate]:
        return res.TEMPLATES

    async def read_resource(
        self, uri: Any, context: Context[Any, Any] | None = None
    ) -> Iterable[ReadResourceContents]:
        target = res.parse_uri(str(uri))
        session = await self._open_for_resources()
        try:
            body = await session.run(lambda: res.read(session, target))
        except ContextError as error:
            raise _mcp_error(error) from None
        return [ReadResourceContents(content=orjson.dumps(body).decode(), mime_type="application/json")]

    async def _open_for_resources(self) -> Session:
        try:
            return await self.open()
        except ContextError as error:
            raise _mcp_error(error) from None

    async def _on_subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        uri = str(params.uri)
        try:
            res.parse_uri(uri)  # only our own resources can be subscribed to
        except ResourceError:
            message = f"The field 'uri' names no Groundhog resource: {uri!r}."
            raise MCPError(
                code=INVALID_PARAMS, message=message, data={"kind": "InvalidParams", "field": "uri"}
            ) from None
        await self._open_for_resources()  # the feed's cursor is set before the subscription is answered
        self._peer = ctx.session
        self.watcher.subscribed.add(uri)
        return EmptyResult()

    async def _on_unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        self.watcher.subscribed.discard(str(params.uri))
        return EmptyResult()

    # -- the prompt -----------------------------------------------------------------------------

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        """An unknown prompt is InvalidParams naming it (the SDK answered code 0)."""
        if name != "resume":
            message = f"The field 'name' names no prompt ({name!r}); the one prompt is 'resume'."
            raise MCPError(
                code=INVALID_PARAMS, message=message, data={"kind": "InvalidParams", "field": "name"}
            )
        return await super().get_prompt(name, arguments, context)

    async def _resume_prompt(self, sinceVersion: str | None = None) -> str:
        since: int | None = None
        if sinceVersion not in (None, ""):
            try:
                since = int(str(sinceVersion))
            except ValueError:
                raise MCPError(
                    code=INVALID_PARAMS,
                    message="The argument 'sinceVersion' must be an integer.",
                    data={"field": "sinceVersion"},
                ) from None
        session = await self._open_for_resources()
        try:
            params = parse(ResumeParams, {"sinceVersion": since})
            brief = await session.run(lambda: resume_brief(session, params))
        except ContextError as error:
            raise _mcp_error(error) from None
        return res.brief_message(brief)


def _mcp_error(error: ContextError) -> MCPError:
    return MCPError(code=error.code, message=error.message, data=error.to_data())


def _invalid_params(error: ValidationError) -> MCPError:
    """The SDK's validation of a request's params, answered as InvalidParams naming the field."""
    first = error.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(part) for part in first["loc"]).removeprefix("params.") or "params"
    message = f"The field {field!r} is invalid: {first['msg']}."
    return MCPError(code=INVALID_PARAMS, message=message, data={"kind": "InvalidParams", "field": field})


def serve(settings: McpSettings) -> int:
    """Serve one MCP connection on stdio until stdin closes or a signal; the session row goes
    with it. Until the event loop takes over the signals, one ends the process at once (nothing
    is open yet)."""
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, lambda *_: os._exit(0))
    server = GroundhogMCP(settings)
    anyio.run(server.run_stdio_async)
    return 0
