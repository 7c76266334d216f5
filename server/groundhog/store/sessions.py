"""Session rows: which sessions (editors over LSP, agents over MCP) are open on the workspace, in any
process, which context each has active, and the live editor state each editor session last
persisted, so that an agent in another process can see what the person has open."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from groundhog.processes import process_alive
from groundhog.timeutil import now

if TYPE_CHECKING:
    from groundhog.store.codec import Cipher


@dataclass(frozen=True)
class SessionRecord:
    """One live session as the store knows it (decrypted)."""

    id: str
    pid: int
    started: str
    client: dict[str, Any]
    active_mac: bytes | None
    editor: dict[str, Any] | None
    editor_saved: str | None  # when ``editor`` was persisted


@dataclass(frozen=True)
class EditorRecord:
    """The editor state most recently persisted into any context."""

    context_id: int
    saved: str
    blob: bytes


class SessionRows:
    """Mixed into the transaction class (store/rows.py): it supplies the connection and cipher."""

    conn: sqlite3.Connection
    cipher: Cipher

    def name_mac(self, name: str) -> bytes:
        raise NotImplementedError

    def register_session(self, session: str, client: dict[str, Any]) -> None:
        blob = self.cipher.seal_json(client, "sessions", session)
        self.conn.execute(
            "INSERT OR REPLACE INTO sessions(id, pid, started, active_mac, client_blob)"
            " VALUES (?, ?, ?, NULL, ?)",
            (session, os.getpid(), now(), blob),
        )

    def set_session_active(self, session: str, name: str | None) -> None:
        mac = None if name is None else self.name_mac(name)
        self.conn.execute("UPDATE sessions SET active_mac = ? WHERE id = ?", (mac, session))

    def end_session(self, session: str) -> None:
        self.conn.execute("DELETE FROM session_editors WHERE session = ?", (session,))
        self.conn.execute("DELETE FROM sessions WHERE id = ?", (session,))

    def sessions_by_context(self) -> dict[bytes, int]:
        """Live sessions per context-name MAC; rows of dead processes are ignored."""
        counts: dict[bytes, int] = {}
        for pid, mac in self.conn.execute(
            "SELECT pid, active_mac FROM sessions WHERE active_mac IS NOT NULL"
        ):
            if process_alive(pid):
                counts[mac] = counts.get(mac, 0) + 1
        return counts

    # -- live editor state per session ----------------------------------------------------------

    def save_session_editor(self, session: str, editor: dict[str, Any]) -> None:
        blob = self.cipher.seal_json(editor, "session_editors", session)
        self.conn.execute(
            "INSERT OR REPLACE INTO session_editors(session, ts, blob) VALUES (?, ?, ?)",
            (session, now(), blob),
        )

    def live_sessions(self) -> list[SessionRecord]:
        """Every session whose process is alive, oldest first, with its persisted editor state."""
        records = []
        for sid, pid, started, mac, client_blob, saved, editor_blob in self.conn.execute(
            "SELECT s.id, s.pid, s.started, s.active_mac, s.client_blob, e.ts, e.blob"
            " FROM sessions s LEFT JOIN session_editors e ON e.session = s.id ORDER BY s.started, s.id"
        ):
            if not process_alive(pid):
                continue
            client = self.cipher.open_json(client_blob, "sessions", sid)
            editor = (
                None if editor_blob is None else self.cipher.open_json(editor_blob, "session_editors", sid)
            )
            records.append(SessionRecord(sid, pid, started, client, mac, editor, saved))
        return records

    def newest_editor_record(self) -> EditorRecord | None:
        found = self.conn.execute(
            "SELECT context_id, ts, blob FROM editors ORDER BY ts DESC, context_id LIMIT 1"
        ).fetchone()
        return None if found is None else EditorRecord(found[0], found[1], found[2])

    def change_marks(self) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Cheap fingerprints of what the feed does not carry: which contexts exist (create and
        delete), and the editor states sessions persisted. Equal marks: nothing of that changed."""
        contexts = self.conn.execute(
            "SELECT count(*), coalesce(max(id), 0), coalesce(sum(id), 0) FROM contexts"
        ).fetchone()
        editors = self.conn.execute(
            "SELECT count(*), coalesce(max(rowid), 0), coalesce(max(ts), ''),"
            " (SELECT count(*) FROM sessions) FROM session_editors"
        ).fetchone()
        return tuple(contexts), tuple(editors)
