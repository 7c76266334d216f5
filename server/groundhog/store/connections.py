"""One database connection per thread, for both stores: each thread opens its own on first use (a
connection is never shared between threads: neither sqlite3's nor psycopg's may be), never one
inherited across ``fork()``, a broken one is replaced, and closing the store closes them all."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

C = TypeVar("C")


class PerThread(Generic[C]):
    def __init__(self, connect: Callable[[], C], usable: Callable[[C], bool] = lambda conn: True) -> None:
        self._connect = connect
        self._usable = usable
        self._local = threading.local()
        self._open: list[C] = []
        self.lock = threading.Lock()  # also the store's lock for what it sets up once
        self._pid = os.getpid()

    def get(self) -> C:
        """This thread's connection, opened (or reopened) as needed."""
        if os.getpid() != self._pid:  # a forked child: the parent's connections are not ours
            self._pid = os.getpid()
            self._local = threading.local()
            self._open = []
        conn: C | None = getattr(self._local, "conn", None)
        if conn is not None and not self._usable(conn):
            self.forget(conn)
            conn = None
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self.lock:
                self._open.append(conn)
        return conn

    def forget(self, conn: C) -> None:
        """Stop handing out ``conn`` (the caller closes it)."""
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self.lock:
            if conn in self._open:
                self._open.remove(conn)

    def opened(self) -> list[C]:
        """Every connection open now (call with ``lock`` held to keep new ones out meanwhile)."""
        return list(self._open)

    def take_all(self) -> list[C]:
        """Forget every connection and return them, for the store to close."""
        with self.lock:
            taken, self._open = self._open, []
            self._local = threading.local()
        return taken
