"""The SQLite store: opening, connections, and the two transaction shapes.

Rules measured on these machines (docs/architecture.md): WAL with synchronous FULL, every write
transaction ``BEGIN IMMEDIATE`` (a deferred one that later writes gets SQLITE_BUSY at once, ignoring
the busy timeout), one connection per thread and never across ``fork()``; every SQLite error leaves as
a PersistenceError that names no path.

A file damaged below its rows never stops the store: when it opens, or when a transaction meets the
damage later, a writable store sets the file aside and salvages it (store/salvage.py) under the
directory lock of store/damage.py, which every transaction holds shared.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from groundhog.errors import (
    AccessDenied,
    AlreadyExists,
    ContextNotFound,
    InvalidParams,
    InvalidState,
    PersistenceError,
    SnapshotNotFound,
    StoreDamaged,
    StoreSalvaged,
    TooLarge,
    VersionConflict,
)
from groundhog.reports import SalvageReport
from groundhog.store import checks, damage, salvage
from groundhog.store.common import KEY_ID, NO_SHARED_KEY, StoreSettings
from groundhog.store.connections import PerThread
from groundhog.store.damage import DirectoryLock, translate
from groundhog.store.dirs import PrivateDir, open_private_dir
from groundhog.store.keyring import KeyRing
from groundhog.store.membership import Membership
from groundhog.store.paths import DATABASE_FILE, StoreLocation, check_private_file, create_private_file
from groundhog.store.rows import Txn
from groundhog.store.sqlite_file import SqliteFile, live_files
from groundhog.store.wal import WalCheckpointer
from groundhog.userconfig import default_config_dir

log = logging.getLogger(__name__)
# what a transaction's body answers with after reading whole results: its connection stays as it is
_ANSWERS = (
    VersionConflict,
    InvalidParams,
    TooLarge,
    ContextNotFound,
    AlreadyExists,
    SnapshotNotFound,
    InvalidState,
    AccessDenied,
)
T = TypeVar("T")


class SqliteStore(SqliteFile, checks.Checks, Membership):
    """One workspace's database. Thread-safe: each thread gets its own connection."""

    def __init__(
        self,
        location: StoreLocation,
        settings: StoreSettings | None = None,
        *,
        file_name: str = DATABASE_FILE,
        locked: bool = False,
    ) -> None:
        """``file_name`` and ``locked`` are for a salvage building a new file beside the damaged
        one while it holds the directory lock (store/salvage.py)."""
        self.location = location
        self.settings = settings or StoreSettings()
        self.file_name = file_name
        self._locked = locked
        self._connections = PerThread(self._connect, self._fresh)
        self._checkpointer: WalCheckpointer | None = None
        self._salvages: list[SalvageReport] = []  # what this process salvaged, newest last
        self._salvage_listeners: list[Callable[[SalvageReport], None]] = []
        self._wrapped = b""  # the first data key as the store holds it, wrapped (``_same_key``)
        # the key first: a planted or missing key is refused before anything is created (a store
        # that exists may have members instead: store/keyring.py; its master key is read if needed)
        self._config_dir = self.settings.config_dir or default_config_dir()
        self._master: bytes | None = None
        self.ring = KeyRing(location.workspace_id, self._config_dir)
        if not (location.directory / file_name).exists():  # a hint only: the key's own checks decide
            self._master_key()
        self.directory = open_private_dir(location.directory)  # everything below goes through it
        self._live: damage.LiveFiles | None = None  # the file's descriptors, past SQLite (_open)
        self._lock = DirectoryLock(self.directory.reopen, self.settings.busy_timeout_s)
        # descriptors are not closed by the garbage collector as connections are: a store nobody
        # closed gives them back when it is collected
        self._files: list[damage.LiveFiles] = []
        self._release = weakref.finalize(self, _release_files, self._lock, self._files, self.directory)
        # not at exit: the audit queue's last records (auditing.py) are written by atexit handlers
        # that run after this one would have, and the process gives every descriptor back anyway
        self._release.atexit = False
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        problem: StoreDamaged | None = None
        with self._shared():
            create_private_file(self.directory, self.file_name)
            self._live = live_files(self.directory, self.file_name)
            self._files.append(self._live)
            for suffix in damage.LiveFiles.SUFFIXES:  # checked on descriptors kept open (damage.py)
                if (fd := self.live.fd(suffix)) is not None:
                    what = "The store file" if not suffix else "A store file"
                    check_private_file(fd, self.path.with_name(self.file_name + suffix), what)
            try:
                self._open_keys()
                if not (self.settings.read_only or self._locked):
                    problem = self._check_file()
            except StoreDamaged as found:
                problem = found
        if problem is None:
            return
        if self.settings.read_only or self._locked:
            raise problem
        self.salvage(problem)
        with self._shared():
            self._open_keys()

    def _check_file(self) -> StoreDamaged | None:
        conn = self._connection()
        try:
            problem = damage.file_problem(conn, self.live, salvage.COLUMNS)
        except (sqlite3.Error, UnicodeDecodeError) as error:
            raise translate(error) from None
        return None if problem is None else damage.damaged(problem)

    @property
    def live(self) -> damage.LiveFiles:
        if self._live is None:
            raise PersistenceError("The store is closed.")
        return self._live

    @property
    def path(self) -> Path:
        return self.directory.path / self.file_name

    @property
    def where(self) -> str:
        return str(self.path)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Never called: SQLite has no push; readers poll ``data_version`` (a cheap PRAGMA)."""

    def salvaged(self) -> list[SalvageReport]:
        return list(self._salvages)

    def on_salvage(self, listener: Callable[[SalvageReport], None]) -> None:
        self._salvage_listeners.append(listener)

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Txn]:
        """A write transaction: BEGIN IMMEDIATE, COMMIT on success, ROLLBACK on any exception."""
        with self._transaction("BEGIN IMMEDIATE") as txn:
            yield txn

    @contextmanager
    def read(self) -> Iterator[Txn]:
        """A read transaction: one consistent WAL snapshot for several statements."""
        with self._transaction("BEGIN") as txn:
            yield txn

    def reading(self, body: Callable[[Txn], T]) -> T:
        """``body`` in a read transaction; run again once if it met damage that got the file
        salvaged meanwhile (a read has nothing to undo: its caller sees the salvaged store)."""
        try:
            with self.read() as txn:
                return body(txn)
        except StoreSalvaged:
            with self.read() as txn:
                return body(txn)

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[Txn]:
        try:
            with self._shared():
                conn = self._connection()
                try:
                    conn.execute(begin)
                except (sqlite3.Error, UnicodeDecodeError) as error:
                    raise translate(error) from None
                txn: Txn | None = None
                try:
                    if begin == "BEGIN IMMEDIATE":
                        self._same_key(conn)
                    txn = Txn(conn, self.ring, self.settings, self.digests)
                    yield txn
                    txn.end()
                    conn.execute("COMMIT")
                except BaseException as error:
                    if txn is not None:
                        txn.end()
                    if conn.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                    if not isinstance(error, _ANSWERS):
                        # a read stopped half-way (damage met while iterating rows) can leave its
                        # statement running, still holding its snapshot after the rollback: the
                        # next write on this connection would then fail "database is locked"
                        self._drop(conn)
                    if isinstance(error, sqlite3.Error | UnicodeDecodeError):
                        raise translate(error) from None
                    raise
        except StoreDamaged as found:
            if self.settings.read_only or self._locked or self._lock.depth:
                raise
            self.salvage(found)
            raise StoreSalvaged(
                "The store file was found damaged, set aside and salvaged; nothing was written: try again."
            ) from None
        assert txn is not None
        for committed in txn.after_commit:  # outside the try: the transaction is durable by now
            committed()

    def _drop(self, conn: sqlite3.Connection) -> None:
        """Forget and close this thread's connection: the next transaction opens a new one."""
        self._connections.forget(conn)
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    def _same_key(self, conn: sqlite3.Connection) -> None:
        """Nothing is written under a data key the store no longer has: a salvage in another
        process that found the key's row lost gave the store a new one (store/salvage.py), whose
        keys this process loads afresh (a store with members keeps its first key's row empty)."""
        row = conn.execute("SELECT wrapped FROM keys WHERE key_id = ?", (KEY_ID,)).fetchone()
        if row is not None and bytes(row[0]) != self._wrapped:
            self._load_ring(conn, bytes(row[0]), None)

    def _shared(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext() if self._locked else self._lock.shared()

    @property
    def workspace_id(self) -> str:
        return self.location.workspace_id

    def data_version(self) -> int:
        """Changes whenever another connection commits: the cheap cross-process change signal."""
        with self._shared():
            row = self._connection().execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def checkpoint_in_background(self) -> None:
        """For long-lived processes: WAL checkpoints leave the commit path for a background thread."""
        with self._connections.lock:
            if self._checkpointer is not None:
                return
            self._checkpointer = WalCheckpointer(self._connect, self._fresh, self._shared)
            for conn in self._connections.opened():
                conn.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpointer.start()

    shared_key = False  # the data key is wrapped by this machine's master key, or for members

    def rewrap_key(self, new_workspace_key: bytes) -> None:
        raise InvalidState(NO_SHARED_KEY)

    def close(self) -> None:
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        for conn in self._connections.take_all():
            try:
                conn.close()
            except sqlite3.Error:
                log.debug("closing a store connection failed", exc_info=True)
        self._live = None
        self._release()  # after the connections: closing the file's descriptors drops their locks

    def _open_fresh(self, file_name: str) -> SqliteStore:
        settings = replace(self.settings, read_only=False, create_key=False)
        return SqliteStore(self.location, settings, file_name=file_name, locked=True)

    def _connection(self) -> sqlite3.Connection:
        return self._connections.get()


def _release_files(lock: DirectoryLock, files: list[damage.LiveFiles], directory: PrivateDir) -> None:
    lock.close()
    for live in files:
        live.release()
    files.clear()
    directory.close()
