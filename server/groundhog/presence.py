"""Who is on the workspace, for ``ContextManager``: the sessions open on it in live processes (with the
leases that keep another machine's alive), their editor states, which context each has active, and
the last active one, which the next session starts on."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from groundhog.errors import DataDamaged
from groundhog.leases import LeaseKeeper
from groundhog.store.interface import Store, Transaction
from groundhog.tracking import TrackerConfig

log = logging.getLogger(__name__)
LAST_ACTIVE = "last_active"


@dataclass(frozen=True)
class LiveSession:
    """A session open on the workspace in a live process: an editor (``lsp``), an agent (``mcp``)."""

    id: str
    kind: str
    client: str
    client_version: str | None
    started: str
    context: str | None  # the context it has active
    editor: dict[str, Any] | None  # its live editor state as last persisted
    editor_saved: str | None  # when that was


@dataclass(frozen=True)
class SavedEditor:
    """The editor state most recently persisted into a context."""

    context: str
    editor: dict[str, Any]
    saved: str


class Presence:
    """The session methods of ``ContextManager`` (which sets these three)."""

    store: Store
    leases: LeaseKeeper
    config: TrackerConfig

    def register_session(self, session: str, client: dict[str, Any]) -> None:
        """Record ``session`` as open, with a lease this manager renews until ``end_session``."""
        if not self.config.read_only:
            with self.store.write() as tx:
                tx.register_session(session, client, self.leases.lease_ms)
                tx.audit("session-start", session, {"client": client, "pid": os.getpid()})
            self.leases.watch(session, client)

    def end_session(self, session: str) -> None:
        if not self.config.read_only:
            self.leases.forget(session)
            with self.store.write() as tx:
                tx.end_session(session)
                tx.audit("session-end", session, {})

    def save_session_editor(self, session: str, editor: dict[str, Any]) -> None:
        """Persist a session's live editor state where sessions in other processes can read it."""
        if not self.config.read_only:
            with self.store.write() as tx:
                tx.save_session_editor(session, editor)

    def live_sessions(self) -> list[LiveSession]:
        """The sessions open on this workspace in live processes, oldest first."""
        return self.store.reading(self._live_sessions)

    def _live_sessions(self, tx: Transaction) -> list[LiveSession]:
        names = {tx.name_mac(row.name): row.name for row in tx.list_contexts()}
        return [
            LiveSession(
                id=record.id,
                kind=str(record.client.get("kind") or ("lsp" if record.client else "library")),
                client=str(record.client.get("name") or "unknown"),
                client_version=record.client.get("version"),
                started=record.started,
                context=None if record.active_mac is None else names.get(record.active_mac),
                editor=record.editor,
                editor_saved=record.editor_saved,
            )
            for record in tx.live_sessions()
        ]

    def last_saved_editor(self) -> SavedEditor | None:
        """The editor state most recently persisted into any context of the workspace."""

        def body(tx: Transaction) -> SavedEditor | None:
            record = tx.newest_editor_record()
            row = None if record is None else tx.context_by_id(record.context_id)
            if record is None or row is None:
                return None
            editor = tx.load_editor(row)
            return None if editor is None else SavedEditor(row.name, editor, record.saved)

        return self.store.reading(body)

    def session_activated(self, session: str, name: str | None) -> None:
        """Record which context ``session`` has active; the last switch wins for the next session."""
        if self.config.read_only:
            return
        with self.store.write() as tx:
            tx.set_session_active(session, name)
            if name is not None:
                tx.put_setting(LAST_ACTIVE, name)
        self.leases.activated(session, name)

    def last_active(self) -> str | None:
        try:
            name = self.store.reading(lambda tx: tx.get_setting(LAST_ACTIVE))
        except DataDamaged:  # a replaced record must not choose the context: start from default
            log.warning("the last-active record was replaced; ignoring it")
            return None
        return name if isinstance(name, str) else None
