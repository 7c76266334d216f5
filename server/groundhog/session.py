"""One session (an editor's LSP connection, an agent's MCP connection): its adapter over the
workspace store, its live editor context, and the work queue that keeps store work off the event
loop in arrival order. Every face opens its sessions here (``open_session``).

``Session`` is the faces' one API of the engine: the workspace it serves (``workspace``), the work
queue (``run``, ``run_request``, ``submit``), the active context's trackers, the one stream of what
changes in the workspace from any process (``changes``), and the one place a failed request is audited
(``audit_error``). A face reaches no further (no ``manager.store``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from groundhog.adapter import ContextAdapter
from groundhog.editor import EMPTY_EDITOR, EditorContext
from groundhog.errors import ContextError
from groundhog.limits import FEED_POLL_S
from groundhog.manager import ContextManager
from groundhog.opening import create_manager
from groundhog.reports import RecoveryReport, SalvageReport
from groundhog.settings import Settings
from groundhog.sync import ChangeFeed, WorkspaceChanges
from groundhog.timeutil import now
from groundhog.tracker import ContextTracker
from groundhog.workspace import canonical_root

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class WorkspaceInfo:
    uri: str  # the canonical workspace (file:// URI or the no-workspace scope)
    id: str  # its id in the store (a hash: never the path)
    store: str  # for people: the store's file, or a database URL without its password


class Session:
    def __init__(
        self,
        manager: ContextManager,
        adapter: ContextAdapter,
        options: Settings,
        workspace_uri: str,
    ) -> None:
        self.manager = manager
        self.adapter = adapter
        self.options = options
        self.workspace_uri = workspace_uri
        self.started = now()
        self.had_state = False  # the workspace had stored state before this session opened it
        self.editor = EditorContext()
        self.feed = ChangeFeed(manager.store)
        manager.on_commit(self.feed.poke)
        manager.on_commit(self._wake_changes)  # our own commits run on the worker thread
        manager.on_pushed(self._wake_changes)  # a shared store pushes other servers' commits
        self._changes_loop: asyncio.AbstractEventLoop | None = None
        self._changes_wake: asyncio.Event | None = None
        self._changes_done = False
        # One worker: a session's requests run in the order they arrived, and never on the loop.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="groundhog-session")
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()
        self.outbox: list[tuple[str, dict[str, Any]]] = []

    def notify(self, method: str, params: dict[str, Any]) -> None:
        """Queue a notification caused by a request; the dispatcher sends it (on the loop)."""
        self.outbox.append((method, params))

    @property
    def id(self) -> str:
        return self.adapter.session_id

    @property
    def read_only(self) -> bool:
        return self.options.read_only

    async def run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, work)

    async def run_request(self, work: Callable[[], T]) -> T:
        """``run`` for a request a client may cancel, telling the truth: cancelled while still
        queued, it never runs; once running, it finishes (commits) and its result is answered,
        since answering "cancelled" for a change that was made would be a lie."""
        job = self.submit(work)
        waiting = asyncio.wrap_future(job)
        while True:
            try:
                return await asyncio.shield(waiting)
            except asyncio.CancelledError:
                if job.cancel():
                    raise

    def submit(self, work: Callable[[], T]) -> Future[T]:
        """Queue ``work`` on the session's worker; the future can be cancelled while it waits."""
        return self._worker.submit(work)

    def tracker(self, name: str | None) -> ContextTracker:
        return self.adapter.tracker(name)

    @property
    def workspace(self) -> WorkspaceInfo:
        return WorkspaceInfo(self.workspace_uri, self.manager.workspace_id, self.manager.where)

    @property
    def recoveries(self) -> list[RecoveryReport]:
        """What the store recovered while opening (damage found at a head or in the file)."""
        return list(self.manager.recoveries)

    def on_recover(self, listener: Callable[[RecoveryReport], None]) -> None:
        """``listener`` hears each later recovery (on the thread that found the damage)."""
        self.manager.on_recover(listener)

    @property
    def salvages(self) -> list[SalvageReport]:
        """Store files this process found damaged, set aside and salvaged (when it opened)."""
        return list(self.manager.salvages)

    def on_salvage(self, listener: Callable[[SalvageReport], None]) -> None:
        """``listener`` hears each later salvage of the store file while this process serves."""
        self.manager.on_salvage(listener)

    def audit_error(self, action: str, error: ContextError) -> None:
        """The one place a face audits a request that failed; what the engine audited already (its
        own refusals and failed writes) is not recorded twice. Never waits for the store's lock."""
        if error.audited:
            return
        details = {"action": action, "kind": error.kind, "message": error.message}
        self.manager.audit("error", self.id, details)
        error.audited = True

    # -- what changes in the workspace ----------------------------------------------------------

    async def changes(self) -> AsyncIterator[WorkspaceChanges]:
        """What changed in the workspace since the session opened, from any process, as it happens:
        at once after this process's commits and a shared store's pushes, else within ``FEED_POLL_S``.
        The one change stream of every face (one consumer per session: the feed has one cursor). It
        ends when the session closes or ``end_changes`` is called: a flag, not a cancellation, since
        Python 3.11's ``wait_for`` can swallow a cancellation that lands as its wait completes."""
        self._changes_loop = asyncio.get_running_loop()
        wake = self._changes_wake = asyncio.Event()
        while not self._changes_done:
            waiter = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({waiter}, timeout=FEED_POLL_S)
            finally:
                waiter.cancel()
            wake.clear()
            if self._changes_done:
                return
            try:
                changes = await self.run(self.feed.poll_workspace)
            except ContextError as error:
                log.warning("the change feed could not be read (%s)", error.kind)
                continue
            except RuntimeError:  # the worker is gone: the session closed meanwhile
                return
            if changes.looked:
                yield changes

    def end_changes(self) -> None:
        """End the ``changes`` stream (from the loop)."""
        self._changes_done = True
        if self._changes_wake is not None:
            self._changes_wake.set()

    def _wake_changes(self) -> None:
        loop, wake = self._changes_loop, self._changes_wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed: the server is ending
                loop.call_soon_threadsafe(wake.set)

    # -- editor persistence ---------------------------------------------------------------------

    def editor_event(self) -> None:
        """Called after each editor notification: schedule a flush within ``editorFlushMs``."""
        if not self._persists_editor() or self._flush_handle is not None:
            return
        loop = asyncio.get_running_loop()
        delay = self.options.editor_flush_ms / 1000
        self._flush_handle = loop.call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        # the loop keeps only weak references to tasks: hold this one until it is done
        task = asyncio.get_running_loop().create_task(self.flush_editor())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush_editor(self) -> None:
        """Persist the live editor state into the active context, if anything changed."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._persists_editor() and self.editor.changed:
            await self.run(self.flush_editor_now)

    def flush_editor_now(self) -> None:
        """The synchronous flush, for the worker thread (switch, snapshot, shutdown): into the
        session's own row (what agents in other processes read as this editor's live state) and
        into the active context (what the next session restores)."""
        if not (self._persists_editor() and self.editor.changed):
            return
        self.editor.changed = False
        editor = self.editor.to_wire()
        try:
            self.manager.save_session_editor(self.id, editor)
            if self.adapter.active_name:
                self.adapter.get_current_tracker().save_editor(editor)
        except ContextError as error:
            self.editor.changed = True
            log.warning("editor state was not persisted (%s)", error.kind)

    def _persists_editor(self) -> bool:
        return self.options.editor_tracking and not self.read_only and self.editor.touched

    def live_editor(self) -> dict[str, Any]:
        return self.editor.to_wire() if self.options.editor_tracking else dict(EMPTY_EDITOR)

    def editor_for_snapshot(self) -> dict[str, Any] | None:
        """What a snapshot captures: the live editor state once this session has one."""
        return self.editor.to_wire() if self.options.editor_tracking and self.editor.touched else None

    # -- shutdown -------------------------------------------------------------------------------

    def close(self) -> None:
        """Flush, end the session in the store, release connections (worker thread or after)."""
        try:
            self.flush_editor_now()
            self.adapter.close()
        except ContextError as error:
            log.warning("closing the session failed (%s)", error.kind)
        finally:
            self.manager.close()

    async def aclose(self) -> None:
        self.end_changes()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        await self.run(self.close)
        self._worker.shutdown(wait=False)


def open_session(
    root: str,
    options: Settings,
    client: dict[str, Any],
    *,
    authorize: Callable[[ContextManager], None] | None = None,
) -> Session:
    """Open the workspace store of ``root`` and a session on it: registered (``client`` says who:
    ``{name, version, kind}``), with the workspace's last active context active, or
    ``options.context``. ``authorize`` may refuse the session once the store is open. Blocking:
    call it from a thread."""
    manager = create_manager(root, settings=options)
    adapter = ContextAdapter(manager, client=client)
    try:
        manager.keep_checkpoints_off_requests()
        if authorize is not None:
            authorize(manager)
        had_state = manager.has_state()
        adapter.initialize_sync()
        if options.context is not None:
            if options.read_only and not manager.exists(options.context):
                adapter.start_missing(options.context)  # it reads the rest, and says so
            else:
                adapter.switch_context_sync(options.context, create=not options.read_only)
    except BaseException:
        with contextlib.suppress(ContextError):
            adapter.close()  # a session that could not start leaves no row behind
        manager.close()
        raise
    session = Session(manager, adapter, options, canonical_root(root))
    session.had_state = had_state
    return session
