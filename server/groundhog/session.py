"""One session (an editor's LSP connection, an agent's MCP connection): its adapter over the
workspace store, its live editor context, and the work queue that keeps store work off the event
loop in arrival order. Every face opens its sessions here (``open_session``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from groundhog.adapter import ContextAdapter
from groundhog.editor import EMPTY_EDITOR, EditorContext
from groundhog.errors import ContextError
from groundhog.manager import ContextManager, create_manager
from groundhog.settings import Settings
from groundhog.sync import ChangeFeed
from groundhog.timeutil import now
from groundhog.tracker import ContextTracker
from groundhog.workspace import canonical_root

log = logging.getLogger(__name__)
T = TypeVar("T")


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
        manager.store.checkpoint_in_background()  # a long-lived process: keep WAL copies off requests
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
