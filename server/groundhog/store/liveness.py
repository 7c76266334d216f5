"""Session rows and whether each is alive: which sessions (editors over LSP, agents over MCP) are
open on the workspace, on any machine, which context each has active, and the live editor state
each editor session last persisted (what an agent elsewhere reads as the person's editor).

A session is alive while its process is, which only its own machine can see (the pid probe), so
every row also carries a lease, renewed by its server (the engine's leases.LeaseKeeper): a row of
another machine is alive while its lease runs. Leases are read and written on the database's clock
(``clock_ms``: the statement's own ``clock_timestamp()`` on PostgreSQL), never a client's, so clocks
that differ between machines never make a live session look dead. A row whose lease ran out is
left out of every answer, and removed by the next writer that registers or renews a session.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from groundhog.processes import process_alive
from groundhog.store.rowbase import Rows
from groundhog.timeutil import now

MACHINE_ID_ENV = "GROUNDHOG_MACHINE_ID"  # names this machine where its host name does not (containers)
CLOCK_SKEW_MS = 0  # added to the database's clock: the tests move time with it, nothing else does


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


class LiveRows(Rows):
    """Sessions, their leases and their live editor states."""

    def clock_ms(self) -> str:
        """SQL for the database's clock in milliseconds since the epoch (SQLite: this machine's)."""
        return f"(CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) + {int(CLOCK_SKEW_MS)})"

    def _leased(self, table: str = "") -> str:
        """SQL: 1 while the row's lease runs, else 0."""
        return f"CASE WHEN {table}lease_until >= {self.clock_ms()} THEN 1 ELSE 0 END"

    def register_session(self, session: str, client: dict[str, Any], lease_ms: int) -> None:
        """Register ``session`` with a lease of ``lease_ms``, and remove the rows of sessions that
        are not alive (a killed editor, a crashed agent, a machine that went away)."""
        self.sweep_sessions()
        blob = self.cipher.seal_json(client, "sessions", session)
        self.conn.execute(
            "INSERT INTO sessions(id, pid, started, active_mac, client_blob, lease_until)"
            f" VALUES (?, ?, ?, NULL, ?, {self.clock_ms()} + ?)"
            " ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, started = excluded.started,"
            " active_mac = NULL, client_blob = excluded.client_blob, lease_until = excluded.lease_until",
            (session, session_pid(), now(), blob, lease_ms),
        )

    def renew_sessions(self, sessions: list[str], lease_ms: int) -> list[str]:
        """Extend the leases of ``sessions`` (one statement for all of a server's sessions), remove
        the rows that are not alive, and answer those of ``sessions`` that have no row any more
        (another server found their lease run out: the caller registers them again)."""
        if not sessions:
            return []
        marks = ",".join("?" * len(sessions))
        renewed = self.conn.execute(
            f"UPDATE sessions SET lease_until = {self.clock_ms()} + ? WHERE id IN ({marks}) RETURNING id",
            (lease_ms, *sessions),
        )
        self.sweep_sessions()
        found = {row[0] for row in renewed.fetchall()}
        return [session for session in sessions if session not in found]

    def sweep_sessions(self) -> None:
        """Remove the rows of sessions that are not alive, with their editor states."""
        dead = [sid for sid, pid, leased in self._session_rows() if not session_alive(pid, leased)]
        if dead:
            marks = ",".join("?" * len(dead))
            self.conn.execute(f"DELETE FROM session_editors WHERE session IN ({marks})", dead)
            self.conn.execute(f"DELETE FROM sessions WHERE id IN ({marks})", dead)

    def _session_rows(self) -> list[tuple[str, int, bool]]:
        """(id, pid, lease still running) of every session row."""
        return [
            (sid, int(pid), bool(leased))
            for sid, pid, leased in self.conn.execute(
                f"SELECT id, pid, {self._leased()} FROM sessions"
            ).fetchall()
        ]

    def set_session_active(self, session: str, name: str | None) -> None:
        mac = None if name is None else self.name_mac(name)
        self.conn.execute("UPDATE sessions SET active_mac = ? WHERE id = ?", (mac, session))

    def end_session(self, session: str) -> None:
        self.conn.execute("DELETE FROM session_editors WHERE session = ?", (session,))
        self.conn.execute("DELETE FROM sessions WHERE id = ?", (session,))

    def sessions_by_context(self) -> dict[bytes, int]:
        """Live sessions per context-name MAC."""
        counts: dict[bytes, int] = {}
        for pid, mac, leased in self.conn.execute(
            f"SELECT pid, active_mac, {self._leased()} FROM sessions WHERE active_mac IS NOT NULL"
        ):
            if session_alive(int(pid), bool(leased)):
                counts[mac] = counts.get(mac, 0) + 1
        return counts

    # -- live editor state per session ----------------------------------------------------------

    def save_session_editor(self, session: str, editor: dict[str, Any]) -> None:
        blob = self.cipher.seal_json(editor, "session_editors", session)
        # delete and insert, not update: a new row gets a new rowid, which change_marks watches
        self.conn.execute("DELETE FROM session_editors WHERE session = ?", (session,))
        self.conn.execute(
            "INSERT INTO session_editors(session, ts, blob) VALUES (?, ?, ?)", (session, now(), blob)
        )

    def live_sessions(self) -> list[SessionRecord]:
        """Every live session, oldest first, with its persisted editor state."""
        records = []
        for sid, pid, started, mac, client_blob, saved, editor_blob, leased in self.conn.execute(
            "SELECT s.id, s.pid, s.started, s.active_mac, s.client_blob, e.ts, e.blob,"
            f" {self._leased('s.')}"
            " FROM sessions s LEFT JOIN session_editors e ON e.session = s.id ORDER BY s.started, s.id"
        ):
            if not session_alive(int(pid), bool(leased)):
                continue
            client = self.cipher.open_json(client_blob, "sessions", sid)
            editor = (
                None if editor_blob is None else self.cipher.open_json(editor_blob, "session_editors", sid)
            )
            records.append(SessionRecord(sid, pid, started, client, mac, editor, saved))
        return records


def session_pid() -> int:
    """What a session row records of its process: this machine's tag in the high bits, its pid."""
    return (machine_tag() << 32) | os.getpid()


def session_alive(stored_pid: int, leased: bool) -> bool:
    """A session of this machine is alive while its process is (the pid probe sees a kill at
    once); one of another machine while its lease runs. A row without a machine (written by an
    embedded store before format 5) is this machine's."""
    if stored_pid >> 32 in (0, machine_tag()):
        return process_alive(stored_pid & 0xFFFFFFFF)
    return leased


@lru_cache(maxsize=1)
def machine_tag() -> int:
    """24 bits naming this machine: its host name's, or ``GROUNDHOG_MACHINE_ID``'s."""
    name = os.environ.get(MACHINE_ID_ENV) or socket.gethostname()
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:3], "big") or 1
