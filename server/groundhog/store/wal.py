"""Background WAL checkpoints for long-lived processes (the server).

SQLite's automatic checkpoint runs inside whichever commit pushes the WAL past 1000 pages, so every
few 1 MB writes one request pays for copying the WAL into the database and fsyncing it (tens of ms on
a busy disk). A server turns that off and lets this thread checkpoint between requests instead
(PASSIVE: it never blocks readers or writers). Short-lived users (the CLI, tests, scripts) keep
SQLite's default; closing the last connection checkpoints anyway.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)
INTERVAL_S = 0.2


class WalCheckpointer:
    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="groundhog-wal", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            conn = self._connect()
        except Exception:
            log.warning("the WAL checkpoint thread could not open the store")
            return
        try:
            while not self._stop.wait(INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as error:
                    log.debug("a background WAL checkpoint failed: %s", error)
        finally:
            conn.close()
