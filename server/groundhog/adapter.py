"""ContextAdapter: one session's view of a workspace. Which context is active, activation and
switching, status of a name. The operations that write to disk have the seeds' names and are
async (``initialize``, ``switch_context``, ``create_and_activate_context``): each commit waits for
an fsync, which must not block an event loop. Their ``*_sync`` twins are for threads (the servers'
session workers, scripts)."""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections import OrderedDict
from typing import Any

from groundhog.errors import AlreadyExists, InvalidState
from groundhog.manager import ContextManager
from groundhog.names import DEFAULT_CONTEXT, validate_name
from groundhog.store.rows import new_session_id
from groundhog.tracker import ContextTracker

TRACKERS_KEPT = 4


class ContextStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    NONEXISTENT = "nonexistent"


class ContextAdapter:
    def __init__(
        self,
        manager: ContextManager,
        *,
        session_id: str | None = None,
        client: dict[str, Any] | None = None,
    ) -> None:
        self.manager = manager
        self.session_id = session_id or new_session_id()
        self.client = client or {}
        self._active: ContextTracker | None = None
        self.missing: str | None = None  # the context asked for at start that does not exist
        self._trackers: OrderedDict[str, ContextTracker] = OrderedDict()
        self._initialized = False

    @property
    def active_name(self) -> str | None:
        return None if self._active is None else self._active.name

    # -- lifecycle ------------------------------------------------------------------------------

    def initialize_sync(self) -> ContextTracker | None:
        """Register the session and activate the workspace's last active context, else
        ``default`` (created if missing, except in a read-only session)."""
        if not self._initialized:
            self.manager.register_session(self.session_id, self.client)
            self._initialized = True
        last = self.manager.last_active()
        if last is not None and self.manager.exists(last):
            return self.activate(last)
        if not self.manager.exists(DEFAULT_CONTEXT):
            if self.manager.read_only:
                return None
            with contextlib.suppress(AlreadyExists):  # another process may create it first
                self.manager.create_context(DEFAULT_CONTEXT, session=self.session_id)
        return self.activate(DEFAULT_CONTEXT)

    async def initialize(self) -> ContextTracker | None:
        return await asyncio.to_thread(self.initialize_sync)

    def close(self) -> None:
        if self._initialized:
            self.manager.end_session(self.session_id)
            self._initialized = False

    # -- activation -----------------------------------------------------------------------------

    def activate(self, name: str) -> ContextTracker:
        """Make ``name`` active; a missing one answers the same InvalidState as switching to it
        without ``create`` (what the protocol's context/switch answers)."""
        validate_name(name)
        if not self.manager.exists(name):
            raise InvalidState(f"Context {name!r} does not exist; pass create to make it.", context=name)
        tracker = self._tracker_for(name)
        self._active, self.missing = tracker, None
        self.manager.session_activated(self.session_id, name)
        return tracker

    def deactivate(self) -> str:
        if self._active is None:
            raise InvalidState("No context is active in this session.")
        name = self._active.name
        self._active = None
        self.manager.session_activated(self.session_id, None)
        return name

    def get_current_tracker(self) -> ContextTracker:
        if self._active is None:
            if self.missing is not None:
                raise InvalidState(
                    f"No context is active in this session: {self.missing!r}, the context it was started "
                    "in, does not exist (and a read-only session creates nothing); name a context or "
                    "switch to one.",
                    context=self.missing,
                )
            raise InvalidState("No context is active in this session; switch to one first.")
        return self._active

    def start_missing(self, name: str) -> None:
        """Start with no active context because ``name``, the one asked for, does not exist and
        this session may not create it (read-only): requests that name a context work, the
        others say which one is missing."""
        validate_name(name)
        self._active = None
        self.missing = name

    def tracker(self, name: str | None = None) -> ContextTracker:
        """The tracker for ``name``, or for the active context when ``name`` is None."""
        if name is None:
            return self.get_current_tracker()
        if self._active is not None and self._active.name == name:
            return self._active
        return self._tracker_for(name)

    def _tracker_for(self, name: str) -> ContextTracker:
        """Trackers are kept for the few contexts used last, so each keeps its head cached (a new
        tracker rebuilds a 1 MB head from disk: ~10x the cost of a request on a warm one)."""
        tracker = self._trackers.pop(name, None) or self.manager.tracker(name, self.session_id)
        self._trackers[name] = tracker
        while len(self._trackers) > TRACKERS_KEPT:
            self._trackers.popitem(last=False)
        return tracker

    def status(self, name: str) -> ContextStatus:
        validate_name(name)
        if self._active is not None and self._active.name == name:
            return ContextStatus.ACTIVE
        return ContextStatus.INACTIVE if self.manager.exists(name) else ContextStatus.NONEXISTENT

    def switch_context_sync(self, name: str, *, create: bool = False) -> ContextTracker:
        validate_name(name)
        if not self.manager.exists(name):
            if not create:
                raise InvalidState(f"Context {name!r} does not exist; pass create to make it.", context=name)
            with contextlib.suppress(AlreadyExists):
                self.manager.create_context(name, session=self.session_id)
        return self.activate(name)

    async def switch_context(self, name: str, *, create: bool = False) -> ContextTracker:
        return await asyncio.to_thread(self.switch_context_sync, name, create=create)

    def create_and_activate_context_sync(
        self, name: str, data: dict[str, Any] | None = None
    ) -> ContextTracker:
        self.manager.create_context(name, data, session=self.session_id)
        return self.activate(name)

    async def create_and_activate_context(
        self, name: str, data: dict[str, Any] | None = None
    ) -> ContextTracker:
        return await asyncio.to_thread(self.create_and_activate_context_sync, name, data)


def create_adapter(manager: ContextManager, **kwargs: Any) -> ContextAdapter:
    return ContextAdapter(manager, **kwargs)
