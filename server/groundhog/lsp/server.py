"""GroundhogServer: one LSP connection, one session. Owns the session and wires the protocol's
requests, notifications and commands to the handlers; no module globals, nothing wired at import."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from groundhog import __version__
from groundhog import methods as names
from groundhog.editor import EMPTY_EDITOR
from groundhog.errors import AccessDenied, ContextError, PersistenceError
from groundhog.lsp.protocol import GroundhogProtocol, RpcError
from groundhog.model import Selection
from groundhog.params import EditorChangeParams, parse
from groundhog.processes import process_alive
from groundhog.reports import RecoveryReport
from groundhog.requests import REQUESTS
from groundhog.session import Session, open_session
from groundhog.settings import DEFAULTS, Settings, parse_wire
from groundhog.userconfig import resolve
from groundhog.workspace import NO_WORKSPACE, canonical_root

log = logging.getLogger(__name__)
PARENT_POLL_S = 1.0
READY_TIMEOUT_S = 10.0


class GroundhogServer(LanguageServer):
    protocol: GroundhogProtocol

    def __init__(
        self,
        *,
        token: str | None = None,
        allowed_roots: tuple[str, ...] = (),
        flags: dict[str, Any] | None = None,
    ) -> None:
        super().__init__("groundhog", __version__, protocol_cls=GroundhogProtocol, max_workers=2)
        self.required_token = token  # set on TCP / WebSocket transports
        self.allowed_roots = tuple(canonical_root(root) for root in allowed_roots)
        self.flags = dict(flags or {})  # the settings `groundhog serve` was given as flags
        self.session: Session | None = None
        self.ready = asyncio.Event()
        self.initializing = False  # between a successful `initialize` and `initialized`
        self.exit_code: asyncio.Future[int] | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._register()

    # -- wiring ---------------------------------------------------------------------------------

    @property
    def authenticated(self) -> bool:
        """Whether a session was opened (on network transports: the token was right)."""
        return self.session is not None

    def _register(self) -> None:
        for name, bound in (
            (types.INITIALIZE, GroundhogServer._on_initialize),
            (types.INITIALIZED, GroundhogServer._on_initialized),
            (types.SHUTDOWN, GroundhogServer._on_shutdown),
            (types.EXIT, GroundhogServer._on_exit),
            (types.TEXT_DOCUMENT_DID_OPEN, GroundhogServer._on_did_open),
            (types.TEXT_DOCUMENT_DID_CHANGE, GroundhogServer._on_did_change),
            (types.TEXT_DOCUMENT_DID_SAVE, GroundhogServer._on_did_save),
            (types.TEXT_DOCUMENT_DID_CLOSE, GroundhogServer._on_did_close),
            (names.DID_CHANGE_EDITOR, GroundhogServer._on_did_change_editor),
        ):
            self.feature(name)(_forward(bound))
        for method in names.REQUESTS:
            self.feature(method)(self._request_handler(method))
            self.command(names.command_for(method))(self._command_handler(method))

    def _request_handler(self, method: str) -> Any:
        async def handle(ls: GroundhogServer, params: Any) -> Any:
            return await ls.dispatch(method, params)

        return handle

    def _command_handler(self, method: str) -> Any:
        async def handle(ls: GroundhogServer, *arguments: Any) -> Any:
            if len(arguments) > 1:
                raise RpcError(
                    -32602,
                    "A command takes one argument: the params object.",
                    {"kind": "InvalidParams", "field": "arguments"},
                )
            return await ls.dispatch(method, arguments[0] if arguments else None)

        return handle

    # -- requests -------------------------------------------------------------------------------

    async def dispatch(self, method: str, raw: Any) -> Any:
        """Validate, run the handler on the session's worker, send what it queued, answer."""
        session = await self._session_for_request()
        model, handler = REQUESTS[method]
        try:
            params = parse(model, raw)
            return await session.run_request(lambda: handler(session, params))
        except ContextError as error:
            session.audit_error(method, error)
            raise RpcError(error.code, error.message, error.to_data()) from None
        except Exception:
            log.exception("internal error while handling %s", method)
            session.audit_error(method, ContextError(f"Internal error in {method}."))
            raise RpcError(
                -32603, f"Internal error while handling {method}.", {"kind": "InternalError"}
            ) from None
        finally:
            for notification, params in session.outbox:
                self.protocol.notify(notification, params)
            session.outbox.clear()

    async def _session_for_request(self) -> Session:
        if self.initializing and not self.ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), READY_TIMEOUT_S)
        if self.session is None:
            raise RpcError(
                -32004, "The server is not initialized; send 'initialize' first.", {"kind": "InvalidState"}
            )
        return self.session

    # -- lifecycle ------------------------------------------------------------------------------

    async def _on_initialize(self, params: types.InitializeParams) -> None:
        if self.session is not None:  # one connection, one session: never a second, leaked one
            raise RpcError(-32600, "The session is already initialized.", {"kind": "InvalidRequest"})
        raw = params.initialization_options
        options, _ = parse_wire(raw, DEFAULTS)  # the token first: nothing else for a stranger
        if self.required_token is not None and not hmac.compare_digest(
            (options.token or "").encode(), self.required_token.encode()
        ):
            # before anything else: an unauthenticated peer opens no store and writes nothing
            log.warning("refused a connection: a bad or missing token")
            raise RpcError(
                AccessDenied.code, "A valid token is required on this transport.", {"kind": "AccessDenied"}
            )
        root = _workspace_root(params)
        try:  # the user's configuration file and environment, then this editor's options over them
            resolved = resolve(root, self.flags)
            options, problems = parse_wire(raw, resolved.settings)
            problems = [f"configuration file: {problem}" for problem in resolved.config.problems] + problems
        except ContextError as error:
            raise RpcError(error.code, error.message, error.to_data()) from None
        if problems:
            text = "Groundhog: " + "; ".join(problems) + "."
            self.window_show_message(types.ShowMessageParams(types.MessageType.Warning, text))
        client = {
            "name": params.client_info.name if params.client_info else "unknown",
            "version": params.client_info.version if params.client_info else None,
            "kind": "lsp",
        }
        try:
            self.session = await asyncio.to_thread(self._open_session, options, root, client)
        except RpcError:
            raise
        except ContextError as error:
            raise RpcError(error.code, error.message, error.to_data()) from None
        except Exception as error:  # what the store did not wrap: never a path or traceback to the client
            log.warning("the store could not be opened (%s)", type(error).__name__)
            reason = getattr(error, "strerror", None) or type(error).__name__
            raise RpcError(
                PersistenceError.code,
                f"The workspace store cannot be opened ({reason}).",
                {"kind": PersistenceError.kind},
            ) from None
        self.initializing = True
        if params.process_id:
            self._tasks.append(asyncio.ensure_future(self._watch_parent(params.process_id)))

    def _open_session(self, options: Settings, root: str, client: dict[str, Any]) -> Session:
        if self.allowed_roots and canonical_root(root) not in self.allowed_roots:
            raise RpcError(
                AccessDenied.code, "This workspace is outside the server's scope.", {"kind": "AccessDenied"}
            )

        return open_session(root, options, client)

    async def _on_initialized(self, params: Any) -> None:
        session = self.session
        if session is None:
            return
        try:
            for report in session.recoveries:
                self.protocol.notify(names.DID_RECOVER, _recover_params(report))
            session.on_recover(lambda report: session.notify(names.DID_RECOVER, _recover_params(report)))
            for salvage in session.salvages:  # the store file was damaged: say it to the person
                warning = types.ShowMessageParams(types.MessageType.Warning, salvage.summary())
                self.window_show_message(warning)
            session.on_salvage(
                lambda salvage: session.notify(
                    "window/showMessage",
                    {"type": types.MessageType.Warning.value, "message": salvage.summary()},
                )
            )
            if session.had_state and session.adapter.active_name:
                restore = await session.run(lambda: _restore_params(session))
                self.protocol.notify(names.DID_RESTORE, restore)
        finally:
            self.ready.set()  # requests waiting for the restore must never wait in vain
        self._tasks.append(asyncio.ensure_future(self._watch_feed(session)))

    async def _on_shutdown(self, *args: Any) -> None:
        if self.session is not None:
            await self.session.flush_editor()

    async def _on_exit(self, *args: Any) -> None:
        await self.close_session()

    async def close_session(self) -> None:
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:  # the parent watcher stops the server from its own task
                task.cancel()
        self._tasks.clear()
        session, self.session = self.session, None
        if session is not None:
            await session.aclose()

    async def stop(self, code: int) -> None:
        """The client went away (EOF, dead parent): clean up and let the transport exit."""
        await self.close_session()
        if self.exit_code is not None and not self.exit_code.done():
            self.exit_code.set_result(code)

    async def _watch_parent(self, pid: int) -> None:
        while True:
            await asyncio.sleep(PARENT_POLL_S)
            if not process_alive(pid):
                log.info("the client process %d is gone; exiting", pid)
                await self.stop(0)
                return

    async def _watch_feed(self, session: Session) -> None:
        """Tell the client about every new version in the workspace, from any process."""
        async for changes in session.changes():
            for event in changes.events:
                self.protocol.notify(
                    names.DID_CHANGE,
                    {
                        "context": event.context,
                        "version": event.version,
                        "kind": event.kind,
                        "session": event.session,
                        "changedKeys": event.changed_keys,
                    },
                )

    # -- editor notifications -------------------------------------------------------------------

    def _editor(self) -> Session | None:
        session = self.session
        return session if session is not None and session.options.editor_tracking else None

    async def _on_did_open(self, params: types.DidOpenTextDocumentParams) -> None:
        if session := self._editor():
            doc = params.text_document
            session.editor.opened(doc.uri, doc.language_id, doc.version)
            session.editor_event()

    async def _on_did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        if session := self._editor():
            session.editor.edited(params.text_document.uri, params.text_document.version)
            session.editor_event()

    async def _on_did_save(self, params: types.DidSaveTextDocumentParams) -> None:
        if session := self._editor():
            session.editor.saved(params.text_document.uri)
            await session.flush_editor()

    async def _on_did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        if session := self._editor():
            session.editor.closed(params.text_document.uri)
            await session.flush_editor()

    async def _on_did_change_editor(self, raw: Any) -> None:
        session = self._editor()
        if session is None:
            return
        try:
            params = parse(EditorChangeParams, raw)
            selections = [Selection.model_validate(s).model_dump() for s in params.selections or ()]
        except (ContextError, ValueError):
            log.warning("ignored a malformed %s notification", names.DID_CHANGE_EDITOR)
            return
        session.editor.focused(params.active_uri, selections)
        session.editor_event()

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Errors outside a request are logged only (never shown with their details). Our own
        RpcErrors are answers to the client, not server errors: they are not logged."""
        if not isinstance(error, RpcError):
            log.warning("server error (%s)", type(error).__name__)


def _forward(method: Any) -> Any:
    """pygls wants plain functions whose first parameter is ``ls``; forward to the server's method."""

    async def handler(ls: GroundhogServer, *args: Any) -> Any:
        return await method(ls, *args)

    return handler


def _workspace_root(params: types.InitializeParams) -> str:
    if params.workspace_folders:
        return params.workspace_folders[0].uri
    if params.root_uri:
        return params.root_uri
    if params.root_path:
        return params.root_path
    return NO_WORKSPACE


def _restore_params(session: Session) -> dict[str, Any]:
    """What ``context/didRestore`` says; a context whose damage could not be repaired is still
    named (its version is null, its requests answer RecoveryError)."""
    tracker = session.adapter.get_current_tracker()
    try:
        version: int | None = tracker.read().version
        editor = tracker.load_editor() or EMPTY_EDITOR
    except ContextError as error:
        log.warning("the active context could not be read for the restore (%s)", error.kind)
        version, editor = None, EMPTY_EDITOR
    return {"context": tracker.name, "version": version, "editor": editor}


def _recover_params(report: RecoveryReport) -> dict[str, Any]:
    """PROTOCOL.md's params; a context lost entirely (nothing of it could be restored) has
    ``toVersion`` null and the reason says so (``fromVersion`` null when not even that is known)."""
    return {
        "context": report.context,
        "fromVersion": report.from_version,
        "toVersion": report.to_version,
        "reason": report.reason,
    }
