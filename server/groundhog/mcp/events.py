"""Change events for agents (MCP.md, Resources): a watcher follows the session's change stream
(Session.changes: every process's commits) from the moment the session opens and turns what it reads
into resource events,
in whichever form the connection's protocol era has: ``subscriptions/listen`` streams (2026-07-28,
through the SDK's subscription bus) or ``notifications/resources/*`` (handshake era, to the URIs
the client subscribed to with ``resources/subscribe``; list-changed to everyone)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mcp.server.session import ServerSession
from mcp.server.subscriptions import ResourcesListChanged, ResourceUpdated, SubscriptionBus
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from groundhog.mcp import resources as res
from groundhog.session import Session

log = logging.getLogger(__name__)
STOP_S = 5.0


class Watcher:
    def __init__(self, bus: SubscriptionBus, peer: Callable[[], ServerSession | None]) -> None:
        self.bus = bus
        self.peer = peer  # the connection's back-channel (handshake era), once known
        self.subscribed: set[str] = set()  # resources/subscribe (handshake era)
        self._session: Session | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, session: Session) -> None:
        """Follow the changes of ``session`` (its feed's cursor was set when it opened: nothing
        after is missed)."""
        self._session = session
        self._task = asyncio.get_running_loop().create_task(self._watch(session))

    async def stop(self) -> None:
        """Stop watching: the session's change stream ends (a flag; see Session.changes)."""
        session, task, self._task = self._session, self._task, None
        if session is not None:
            session.end_changes()
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=STOP_S)
            if not done:
                task.cancel()

    async def _watch(self, session: Session) -> None:
        """What changed, from any process, becomes resource events."""
        async for changes in session.changes():
            updated: list[str] = []
            for event in changes.events:
                updated += [res.CONTEXTS, res.context_uri(event.context), res.history_uri(event.context)]
            for change in changes.list_changes:  # a deleted context's resources changed too
                updated.append(res.CONTEXTS)
                if change.context is not None:
                    updated += [res.context_uri(change.context), res.history_uri(change.context)]
            if changes.contexts_changed:
                updated.append(res.CONTEXTS)
            if changes.editors_changed:
                updated.append(res.EDITOR)
            # one list-changed per create and per delete (two for a context created and deleted
            # between two polls); one when only the fingerprint saw it (an older server's delete)
            list_changed = len(changes.list_changes) or int(changes.contexts_changed)
            if not updated and not list_changed:
                continue
            try:
                await self._deliver(list(dict.fromkeys(updated)), list_changed)
            except Exception as error:  # a client gone mid-delivery must not stop the watcher
                log.info("a change event could not be delivered (%s)", type(error).__name__)

    async def _deliver(self, uris: list[str], list_changes: int) -> None:
        for uri in uris:
            await self.bus.publish(ResourceUpdated(uri=uri))
        for _ in range(list_changes):
            await self.bus.publish(ResourcesListChanged())
        peer = self.peer()
        if peer is None or peer.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return  # the 2026-07-28 era hears about changes only on subscriptions/listen streams
        for uri in uris:
            if uri in self.subscribed:
                await peer.send_resource_updated(uri)
        for _ in range(list_changes):
            await peer.send_resource_list_changed()
