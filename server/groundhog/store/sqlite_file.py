"""The SQLite store's file: connections opened through the checked directory, the data key, and what
is done when the file is damaged below its rows (store/salvage.py), for ``SqliteStore`` (which mixes
this in: the split keeps each module to one subject)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from groundhog.errors import AccessDenied, PersistenceError, StoreDamaged
from groundhog.reports import SalvageReport
from groundhog.store import damage, keys, members, prepare, salvage
from groundhog.store.common import KEY_ID
from groundhog.store.connections import PerThread
from groundhog.store.damage import DirectoryLock, translate
from groundhog.store.dirs import PrivateDir
from groundhog.store.keyring import KeyRing
from groundhog.store.paths import StoreLocation
from groundhog.store.values import ValueDigests
from groundhog.store.wal import WAL_SIZE_LIMIT, WalCheckpointer

log = logging.getLogger("groundhog.store.sqlite")
JOIN_EMBEDDED = (
    "If another machine made this store (a store directory shared with a dev container), run "
    "`groundhog key show-public` here and, on that machine, `groundhog members add NAME <that line>`."
)


class SqliteFile:
    """What ``SqliteStore`` sets up (store/sqlite.py), declared for the type checker."""

    location: StoreLocation
    settings: Any
    directory: PrivateDir
    file_name: str
    ring: KeyRing
    digests: ValueDigests
    _master: bytes | None
    _config_dir: Path
    _wrapped: bytes
    _lock: DirectoryLock
    _checkpointer: WalCheckpointer | None
    _connections: PerThread[sqlite3.Connection]
    _salvages: list[SalvageReport]
    _salvage_listeners: list[Callable[[SalvageReport], None]]

    @property
    def live(self) -> damage.LiveFiles:
        raise NotImplementedError

    @property
    def path(self) -> Path:
        raise NotImplementedError

    @property
    def workspace_id(self) -> str:
        raise NotImplementedError

    def _shared(self) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def _connection(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _open_fresh(self, file_name: str) -> Any:
        raise NotImplementedError

    def checkpoint_in_background(self) -> None:
        raise NotImplementedError

    # -- damage ---------------------------------------------------------------------------------

    def salvage(self, found: StoreDamaged) -> SalvageReport | None:
        """Keep the damaged file aside and give the store a new file made of what can still be
        read and authenticated (store/salvage.py). None when another process already did."""
        log.warning("the store file is damaged (%s); salvaging it", found.details.get("problem"))
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        try:
            report = salvage.run(self, self._lock, self._open_fresh)
            with self._shared():
                self._open_keys()  # a new data key if the old was lost
        finally:
            if checkpointer is not None:
                self.checkpoint_in_background()
        if report is not None:
            self._salvages.append(report)
            for listener in list(self._salvage_listeners):
                try:
                    listener(report)
                except Exception:
                    log.warning("a salvage listener failed; ignored", exc_info=True)
        return report

    def recheck(self) -> str | None:
        """What is damaged in the file below its rows now (None: it is whole); for a salvage,
        which holds the directory lock exclusively."""
        try:
            conn = self._connect()
            try:
                prepare.prepare_keys(conn, self.location.workspace_id, self._master_key)
                return damage.file_problem(conn, self.live, salvage.COLUMNS)
            finally:
                conn.close()
        except (sqlite3.Error, UnicodeDecodeError) as error:
            found: PersistenceError = translate(error)
        except StoreDamaged as error:
            found = error
        return str(found.details.get("problem") or found.message) if isinstance(found, StoreDamaged) else None

    def file_problems(self) -> list[str]:
        """Commits of the WAL that SQLite skips because a frame before them is damaged (it would
        do so silently); checked with the write lock held, so no writer is appending meanwhile."""
        try:
            with self._shared():
                conn = self._connection()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    problem = damage.wal_problem(self.live)
                finally:
                    conn.execute("ROLLBACK")
        except (sqlite3.Error, PersistenceError):
            return []  # locked or read-only: verify says what the rows say
        return [] if problem is None else [problem]

    def discard_set_aside(self, names: list[str]) -> None:
        """Delete the damaged files a salvage kept beside this store (and their -wal/-shm)."""
        for name in names:
            if "/" not in name and name.startswith(f"{self.file_name}.damaged-"):  # ours only
                damage.remove(self.directory, name)

    def unwrap(self, wrapped: bytes) -> bytes:
        """The data key ``wrapped`` holds; a store already re-wrapped by an unfinished master key
        rotation opens with the new key (store/rotation.py)."""
        workspace_id = self.location.workspace_id
        try:
            return keys.unwrap_data_key(self._master_key(), wrapped, workspace_id, KEY_ID)
        except PersistenceError:
            pending = keys.load_pending_master_key(self._config_dir)
            if pending is None:
                raise
            return keys.unwrap_data_key(pending, wrapped, workspace_id, KEY_ID)

    def new_wrapped_key(self) -> bytes:
        return keys.wrap_data_key(self._master_key(), keys.new_data_key(), self.location.workspace_id, KEY_ID)

    def member_key(self) -> members.MemberKey | None:
        """This machine's member key, for a salvage of a store with members (None: it has none)."""
        return self.ring.member or members.load_member_key(self._config_dir)

    def _master_key(self) -> bytes:
        if self._master is None:
            self._master = keys.load_or_create_master_key(self._config_dir, create=self.settings.create_key)
        return self._master

    # -- connections and keys ------------------------------------------------------------------

    def _fresh(self, conn: sqlite3.Connection) -> bool:
        """Whether ``conn`` still has the file at the store's path open (a salvage in another
        process replaces it); a stale one is closed (its thread opens the new file)."""
        if getattr(conn, "identity", None) == damage.file_identity(self.directory, self.file_name):
            return True
        with contextlib.suppress(sqlite3.Error):
            conn.close()
        return False

    def _connect(self) -> sqlite3.Connection:
        """A connection to the file at the store's path, never creating it (``mode=rw``: a file a
        salvage is rewriting must not be made anew empty); one that fails is closed at once (a
        damaged file fails its first statements, and a connection left open keeps a lock)."""
        try:
            conn = sqlite3.connect(
                f"file:{urllib.parse.quote(self.directory.sqlite_path(self.file_name))}?mode=rw",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                timeout=self.settings.busy_timeout_s,
                factory=_Connection,
            )
        except (sqlite3.Error, UnicodeDecodeError) as error:
            raise translate(error) from None
        try:
            conn.text_factory = damage.text
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")  # store/wal.py says why
            conn.execute(f"PRAGMA synchronous={self.settings.synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA trusted_schema=OFF")
            if self._checkpointer is not None:
                conn.execute("PRAGMA wal_autocheckpoint=0")
        except (sqlite3.Error, UnicodeDecodeError) as error:
            conn.close()
            raise translate(error) from None
        assert isinstance(conn, _Connection)
        conn.identity = damage.file_identity(self.directory, self.file_name)
        if conn.identity is None or _opened(conn) != conn.identity:
            conn.close()  # SQLite opened the file by path: it must be the one the descriptor shows
            log.warning("refused %s: SQLite opened another file than the one checked", self.path)
            raise AccessDenied("The store file changed while it was being opened; refusing to use it.")
        return conn

    def _open_keys(self) -> None:
        """Create or upgrade the schema as needed (a reader only reads it), then load the store's
        data keys: by this machine's member key when the workspace has members, else the first by
        its master key (store/keyring.py)."""
        workspace_id = self.location.workspace_id
        conn = self._connection()
        found = prepare.read_keys(conn) if self.settings.read_only else None
        if found is None:  # a reader (verify, the CLI, a read-only session) writes nothing
            found = prepare.prepare_keys(conn, workspace_id, self._master_key)
        stored_id, wrapped, copy = found
        if stored_id != workspace_id:
            raise PersistenceError("The store belongs to another workspace.")
        try:
            conn.execute("BEGIN")
            try:
                self._load_ring(conn, wrapped, copy)
            finally:
                conn.execute("ROLLBACK")
        except (sqlite3.Error, UnicodeDecodeError) as error:
            raise translate(error) from None
        if copy != wrapped and not self.settings.read_only:  # a copy of another key: the row's
            prepare.store_key_copy(conn, wrapped)

    def _load_ring(self, conn: sqlite3.Connection, wrapped: bytes, copy: bytes | None) -> None:
        """A new key ring of the store's keys, read within ``conn``'s transaction (the first key's
        row as the caller read it, ``wrapped``: empty once the workspace has members)."""
        ring = KeyRing(self.location.workspace_id, self._config_dir)
        ring.member = self.ring.member
        ring.load(lambda sql, parameters: conn.execute(sql, parameters).fetchall(), self._first_key(copy))
        self.ring, self._wrapped = ring, wrapped
        self.digests = ValueDigests(ring.subkeys["value-digest"])

    def _first_key(self, copy: bytes | None) -> Callable[[bytes], bytes]:
        """The first data key of a store without members, by this machine's master key. A key row
        the master key does not open while its copy does is damage; a store neither opens was most
        likely made by another machine sharing the store directory (a laptop's, mounted into a dev
        container): the refusal says how this one joins."""

        def first(wrapped: bytes) -> bytes:
            try:
                return self.unwrap(wrapped)
            except PersistenceError as error:
                if copy is not None and copy != wrapped and self._opens(copy):
                    raise damage.damaged("the row holding the store's data key is damaged") from None
                raise AccessDenied(f"{error.message.rstrip('.')}. {JOIN_EMBEDDED}") from None

        return first

    def _opens(self, wrapped: bytes) -> bool:
        try:
            self.unwrap(wrapped)
        except PersistenceError:
            return False
        return True


def live_files(directory: PrivateDir, name: str) -> damage.LiveFiles:
    try:
        return damage.LiveFiles.acquire(directory, name)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise AccessDenied("The store file is a symbolic link; refusing to follow it.") from None
        raise PersistenceError(f"The store file cannot be opened ({error.strerror}).") from None


def _opened(conn: sqlite3.Connection) -> tuple[int, int] | None:
    """The identity of the file ``conn`` has open, by the name SQLite resolved it to."""
    name = conn.execute("PRAGMA database_list").fetchone()[2]
    try:
        info = os.stat(name)
    except OSError:
        return None
    return info.st_dev, info.st_ino


class _Connection(sqlite3.Connection):
    """A connection that remembers which file it opened (``SqliteStore._fresh``)."""

    identity: tuple[int, int] | None = None
