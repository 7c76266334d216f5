"""Background WAL checkpoints for long-lived processes (the server).

SQLite's automatic checkpoint runs inside whichever commit pushes the WAL past 1000 pages, so every
few 1 MB writes one request pays for copying the WAL into the database and fsyncing it (tens of ms on
a busy disk). A server turns that off and lets this thread checkpoint between requests instead.
Short-lived users (the CLI, tests, scripts) keep SQLite's default; closing the last connection
checkpoints anyway.

Each round is a PASSIVE checkpoint (copies the WAL into the database without blocking anyone), then,
once the WAL holds more than RESTART_FRAMES frames, a RESTART one: it copies the few frames written
meanwhile and lets the next commit start the WAL again from its beginning. Without that step a writer
that never pauses keeps the WAL from ever restarting: it grew without bound (92 MB after 3000 small
updates) and every commit appended to it, and an fsync that extends a file costs twice one that
overwrites it (the update's COMMIT measured 0.46 ms instead of 0.26 ms). RESTART holds writers back
while it waits for readers (a writer can stall up to its 20 ms busy timeout when a long read, e.g. a
`groundhog show`, is open), so it runs only once per ~4 MB written; a busy answer is tried again next
round. A shorter timeout rarely catches the gap between a busy writer's commits.

The WAL file's size is bounded too: SQLite never shrinks it by itself, so a server that once wrote a
large state kept a WAL of that size (13 MB after a 1 MB transcript) for as long as it ran. Every
connection sets ``journal_size_limit`` (``WAL_SIZE_LIMIT``), so each restart of the WAL cuts the file
back to that size; and once a round finds the WAL fully copied and nothing written since the last
round, a TRUNCATE checkpoint empties the file, so an idle server's WAL is empty.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager

from groundhog.store.background import BackgroundThread

log = logging.getLogger(__name__)
INTERVAL_S = 0.2
RESTART_BUSY_MS = 20
RESTART_FRAMES = 1000  # ~4 MB: SQLite's own automatic checkpoint size
WAL_SIZE_LIMIT = 4 << 20  # bytes a restarted WAL keeps (a busy writer overwrites, not extends, it)


class WalCheckpointer(BackgroundThread):
    """``connect`` opens a connection to the store's file; ``usable`` says whether one still has
    the file at the store's path open; ``guard`` is the store's directory lock, held shared for a
    round (a salvage holds it exclusively: store/damage.py)."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        usable: Callable[[sqlite3.Connection], bool],
        guard: Callable[[], AbstractContextManager[None]],
    ) -> None:
        super().__init__("groundhog-wal")
        self._connect = connect
        self._usable = usable
        self._guard = guard

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        last = -1  # the WAL's frame count a round ago
        try:
            while not self._stop.wait(INTERVAL_S):
                try:
                    with self._guard():
                        if conn is None or not self._usable(conn):
                            conn, last = self._connect(), -1
                            conn.execute(f"PRAGMA busy_timeout={RESTART_BUSY_MS}")
                        last = _round(conn, last)
                except sqlite3.Error as error:
                    log.debug("a background WAL checkpoint failed: %s", error)
                except Exception:  # the store cannot be opened just now (being salvaged): next round
                    log.debug("the WAL checkpoint thread could not open the store", exc_info=True)
        finally:
            if conn is not None:
                conn.close()


def _round(conn: sqlite3.Connection, last: int) -> int:
    """One checkpoint round; returns the WAL's frame count for the next one."""
    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    if not busy and frames > 0 and frames == copied == last:  # idle: every frame copied, none new
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return 0
    if frames > RESTART_FRAMES:
        conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
    return int(frames)
