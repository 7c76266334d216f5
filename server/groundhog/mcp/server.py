"""``groundhog mcp``: the agents' face (MCP.md) on the official MCP SDK's high-level ``MCPServer``.

One process, one stdio connection, one session of kind ``mcp`` on the workspace store, opened on
the first request that needs it (the workspace may come from the client's roots, which can only be
asked once the connection is up). Tools and resources call the same engine operations as the LSP
requests. A watcher polls the workspace's change feed (every process's commits) and turns what it
sees into resource events, in whichever form the connection's protocol era has."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.session import ServerSession
from mcp.server.stdio import stdio_server
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourcesListChanged, ResourceUpdated
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolResult,
    EmptyResult,
    Resource,
    ResourceTemplate,
    SubscribeRequestParams,
    Tool,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from groundhog import __version__
from groundhog.brief import resume as resume_brief
from groundhog.errors import ContextError, InvalidParams
from groundhog.mcp import answers
from groundhog.mcp import resources as res
from groundhog.mcp.tools import TOOLS, refuse_nulls
from groundhog.params import ResumeParams, parse
from groundhog.session import Session, open_session
from groundhog.settings import DEFAULTS
from groundhog.userconfig import resolve

log = logging.getLogger(__name__)
FEED_POLL_S = 0.05  # another process's change reaches subscribers within ~50 ms (+ load)
ROOTS_TIMEOUT_S = 5.0
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
        self._subscribed: set[str] = set()  # resources/subscribe (handshake era)
        self._wake = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self.middleware.append(self._remember_peer)
        lowlevel = self._lowlevel_server
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._on_subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self._on_unsubscribe)
        self.prompt(name="resume", description="Where things stand, as a message to start from.")(
            self._resume_prompt
        )

    # -- the session ----------------------------------------------------------------------------

    async def _remember_peer(self, ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
        self._peer = ctx.session
        return await call_next(ctx)

    async def open(self) -> Session:
        """The session, opened on first use: workspace from --workspace, the client's roots, or
        the current directory; client name and version from its clientInfo."""
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
                loop = asyncio.get_running_loop()
                # commits run on the session's worker thread: wake the watcher on the loop's own
                session.manager.on_commit(lambda: _call_soon(loop, self._wake.set))
                # a shared store pushes other servers' commits (NOTIFY): wake the watcher at once
                session.manager.store.on_change(lambda: _call_soon(loop, self._wake.set))
                self._watcher = loop.create_task(self._watch(session))
            return self.session

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
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        session, self.session = self.session, None
        if session is not None:
            await session.aclose()

    async def run_stdio_async(self) -> None:
        options = self._lowlevel_server.create_initialization_options(
            NotificationOptions(resources_changed=True)
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            async with stdio_server() as (read_stream, write_stream):
                await self._lowlevel_server.run(read_stream, write_stream, options)
        finally:
            await self.close()

    def _on_signal(self, signum: int) -> None:
        """Editors and agent hosts end servers with a signal as often as by closing stdin: end the
        session the same way (what is in flight on the worker commits first), then exit 0. A
        second signal exits at once."""
        if self._stopping is not None:
            os._exit(1)
        log.info("signal %d: ending the session", signum)

        async def stop() -> None:
            try:
                await self.close()
            finally:
                logging.shutdown()
                os._exit(0)

        self._stopping = asyncio.get_running_loop().create_task(stop())

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
                result = await session.run(lambda: spec.handler(session, params))
            finally:
                session.outbox.clear()  # editors' notifications: an agent sees changes as resource events
            return answers.success(spec.verb, result, self.options.max_result_bytes, writes=spec.writes)
        except ContextError as error:
            await self._audit(name, error)
            return answers.failure(error)
        except Exception:
            log.exception("internal error in tool %s", name)
            return answers.failure(
                ContextError(f"Internal error in {name}."), kind="InternalError", code=-32603
            )

    async def _audit(self, tool: str, error: ContextError) -> None:
        session = self.session
        if session is None or getattr(error, "audited", False):
            return
        details = {"action": tool, "kind": error.kind, "message": error.message}
        with contextlib.suppress(Exception):
            await session.run(lambda: session.manager.audit("error", session.id, details))

    # -- resources ------------------------------------------------------------------------------

    async def list_resources(self) -> list[Resource]:
        session = await self._open_for_resources()
        contexts = await session.run(session.manager.list_contexts)
        return res.listed(context.name for context in contexts)

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
            raise MCPError(code=error.code, message=error.message, data=error.to_data()) from None
        return [ReadResourceContents(content=orjson.dumps(body).decode(), mime_type="application/json")]

    async def _open_for_resources(self) -> Session:
        try:
            return await self.open()
        except ContextError as error:
            raise MCPError(code=error.code, message=error.message, data=error.to_data()) from None

    async def _on_subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        uri = str(params.uri)
        res.parse_uri(uri)  # only our own resources can be subscribed to
        await self._open_for_resources()  # events flow from the watcher, which the session starts
        self._peer = ctx.session
        self._subscribed.add(uri)
        return EmptyResult()

    async def _on_unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        self._subscribed.discard(str(params.uri))
        return EmptyResult()

    # -- change events --------------------------------------------------------------------------

    async def _watch(self, session: Session) -> None:
        """Every ~100 ms (at once after our own writes): what changed in the workspace, from any
        process, becomes resource events."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FEED_POLL_S)
            self._wake.clear()
            try:
                changes = await session.run(session.feed.poll_workspace)
            except ContextError as error:
                log.warning("the change feed could not be read (%s)", error.kind)
                continue
            updated: list[str] = []
            for event in changes.events:
                updated += [res.CONTEXTS, res.context_uri(event.context), res.history_uri(event.context)]
            if changes.contexts_changed:
                updated.append(res.CONTEXTS)
            if changes.editors_changed:
                updated.append(res.EDITOR)
            try:
                await self._deliver(list(dict.fromkeys(updated)), changes.contexts_changed)
            except Exception as error:  # a client gone mid-delivery must not stop the watcher
                log.info("a change event could not be delivered (%s)", type(error).__name__)

    async def _deliver(self, uris: list[str], list_changed: bool) -> None:
        for uri in uris:
            await self.bus.publish(ResourceUpdated(uri=uri))
        if list_changed:
            await self.bus.publish(ResourcesListChanged())
        peer = self._peer
        if peer is None or peer.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return  # the 2026-07-28 era hears about changes only on subscriptions/listen streams
        for uri in uris:
            if uri in self._subscribed:
                await peer.send_resource_updated(uri)
        if list_changed:
            await peer.send_resource_list_changed()

    # -- the prompt -----------------------------------------------------------------------------

    async def _resume_prompt(self, sinceVersion: str | None = None) -> str:
        since: int | None = None
        if sinceVersion not in (None, ""):
            try:
                since = int(str(sinceVersion))
            except ValueError:
                raise MCPError(
                    code=INVALID_PARAMS, message="The argument 'sinceVersion' must be an integer."
                ) from None
        session = await self._open_for_resources()
        params = ResumeParams.model_validate({"sinceVersion": since})
        try:
            brief = await session.run(lambda: resume_brief(session, params))
        except ContextError as error:
            raise MCPError(code=error.code, message=error.message, data=error.to_data()) from None
        return res.brief_message(brief)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], Any]) -> None:
    with contextlib.suppress(RuntimeError):  # the loop already closed: the server is ending
        loop.call_soon_threadsafe(callback)


def serve(settings: McpSettings) -> int:
    """Serve one MCP connection on stdio until stdin closes; the session row goes with it."""
    import anyio

    server = GroundhogMCP(settings)
    anyio.run(server.run_stdio_async)
    return 0
