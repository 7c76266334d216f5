"""The SQLite store's file-level safety: what SQLite's errors mean, how damage below the rows is found
when a store opens, and the directory lock that lets a damaged file be set aside while other
processes use the store.

The lock: every transaction of every process holds a shared ``flock`` on the workspace directory,
each thread through its own open file description of it. A salvage (store/salvage.py) holds it
exclusively while it replaces the file, so no transaction is ever half in the old file and half in
the new. Each transaction also checks, under the lock, that the file its connection has open is still
the one at the store's path; when another process has replaced it, the connections are opened again.
So a write is never acknowledged into a file that was set aside.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import ClassVar
from urllib.parse import quote

from groundhog.errors import AccessDenied, LockError, PersistenceError, StoreDamaged
from groundhog.store.dirs import PrivateDir

CHECK_MAX_BYTES = 64 << 20  # files up to this size get SQLite's full integrity check when opened
_WAL_HEADER, _FRAME_HEADER = 32, 24


def damaged(reason: str) -> StoreDamaged:
    return StoreDamaged(
        "The store file is damaged and cannot be read; the next session that may write salvages it "
        "(or now: `groundhog verify --salvage`).",
        problem=reason,
    )


def translate(error: sqlite3.Error | UnicodeDecodeError) -> PersistenceError:
    """Every backend error becomes the library's error, with a sentence and no path; damage below
    the rows is StoreDamaged (a writable store salvages the file)."""
    if isinstance(error, UnicodeDecodeError):  # SQLite quoted damaged schema text in its message
        return damaged("the schema holds text that is not UTF-8")
    text = str(error).lower()
    name = str(getattr(error, "sqlite_errorname", "") or "")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or any(
        word in text for word in ("malformed", "not a database", "corrupt")
    ):
        return damaged(text if "/" not in text else name or "corrupt")
    if "locked" in text or "busy" in text:
        return LockError("The store is locked by another process; try again.")
    if "full" in text:
        return PersistenceError("The store cannot be written: the disk is full.")
    if "readonly" in text or "read-only" in text or "permission" in text:
        return PersistenceError("The store cannot be written: permission denied.")
    if name.startswith("SQLITE_READONLY"):
        return PersistenceError("The store cannot be written: its file system or file is read-only.")
    if name.startswith("SQLITE_IOERR") or "i/o error" in text:
        return PersistenceError(
            "The store's disk reported an I/O error (a read-only or failing file system)."
        )
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return PersistenceError("The store file cannot be opened (its directory must exist and be writable).")
    if any(words in text for words in ("no such table", "no such column", "has no column", "columns but")):
        return damaged("the schema is not the store's (a table or column is missing or misnamed)")
    detail = "" if "/" in text else f": {text}"  # SQLite's own words, never a path
    return PersistenceError(f"The store failed ({name or error.__class__.__name__}{detail}).")


def text(raw: bytes) -> str:
    """Our text columns hold ASCII (times, kinds, ids): one that is not even UTF-8 was damaged on
    disk. It reads with replacement characters, so the row fails its authentication (each text a
    reader relies on is sealed or chained) and is recovered or reported like any altered row, while
    the rows around it still read: raising here would stop a whole query at one damaged row."""
    return raw.decode(errors="replace")


class LiveFiles:
    """Descriptors of a store's file and its -wal and -shm, for checking and reading them (and, in a
    salvage's last resort, writing them) past SQLite; one set per file per process, shared by every
    store of the process on that file (``acquire``/``release``).

    They are closed only when the process's last store on the file has closed its connections:
    SQLite's locks are POSIX record locks, and closing *any* descriptor of a file drops every such
    lock the process holds on it, so a copy or a look at the WAL that opened and closed the file while
    a connection was open would leave SQLite believing it holds the WAL's write lock while another
    process takes it."""

    SUFFIXES = ("", "-wal", "-shm")
    _open: ClassVar[dict[tuple[int, int], LiveFiles]] = {}
    _registry_lock = threading.Lock()

    def __init__(self, directory: PrivateDir, name: str, database: int) -> None:
        self._directory = directory.reopen()  # its own: the store's may close first
        self._name = name
        self._fds: dict[str, int] = {"": database}
        self._spare: list[int] = []  # more descriptors of the file, kept for the same reason
        self._guard = threading.Lock()
        self._users = 0
        self._pid = os.getpid()

    @classmethod
    def acquire(cls, directory: PrivateDir, name: str) -> LiveFiles:
        """The descriptors of ``name`` in ``directory`` (which must exist), opened once per process."""
        fd = _open_live(directory.fd, name)
        info = os.fstat(fd)
        key = (info.st_dev, info.st_ino)
        with cls._registry_lock:
            live = cls._open.get(key)
            if live is None or live._pid != os.getpid():  # new, or inherited across fork()
                live = cls._open[key] = cls(directory, name, fd)
            else:
                # this one is not needed, but closing it would drop the others' locks: keep it
                live._spare.append(fd)
            live._users += 1
            return live

    def release(self) -> None:
        """Once the releasing store's SQLite connections are closed."""
        with self._registry_lock:
            self._users -= 1
            if self._users > 0:
                return
            for key, live in list(self._open.items()):
                if live is self:
                    del self._open[key]
        with self._guard:
            fds = [*self._fds.values(), *self._spare, self._directory]
            self._fds, self._spare = {}, []
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def fd(self, suffix: str) -> int | None:
        """The descriptor of ``<name><suffix>`` (None: there is no such file yet)."""
        with self._guard:
            if suffix not in self._fds:
                try:
                    self._fds[suffix] = _open_live(self._directory, f"{self._name}{suffix}")
                except FileNotFoundError:
                    return None
                except OSError as error:
                    if error.errno == errno.ELOOP:
                        raise AccessDenied(
                            "A store file is a symbolic link; refusing to follow it."
                        ) from None
                    raise PersistenceError(f"A store file cannot be opened ({error.strerror}).") from None
            return self._fds[suffix]

    def read(self, suffix: str, limit: int | None = None) -> bytes | None:
        fd = self.fd(suffix)
        if fd is None:
            return None
        size = os.fstat(fd).st_size if limit is None else limit
        parts, offset = [], 0
        while offset < size and (chunk := os.pread(fd, min(1 << 20, size - offset), offset)):
            parts.append(chunk)
            offset += len(chunk)
        return b"".join(parts)


def _open_live(directory: int, name: str) -> int:
    flags = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        return os.open(name, os.O_RDWR | flags, dir_fd=directory)
    except PermissionError:  # a read-only file: readers still look at it
        return os.open(name, os.O_RDONLY | flags, dir_fd=directory)


# -- finding damage when a store opens -----------------------------------------------------------


def file_problem(conn: sqlite3.Connection, live: LiveFiles, tables: dict[str, tuple[str, ...]]) -> str | None:
    """What is damaged in the file below its rows, or None: a table missing or with other columns
    than ``tables`` (a damaged schema), SQLite's integrity check (for files up to CHECK_MAX_BYTES;
    larger ones are checked by ``verify``), and commits of the WAL that SQLite skipped because a
    frame before them is damaged (it would do so silently)."""
    for table, columns in tables.items():
        found = tuple(str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})").fetchall())
        if found != columns:
            return f"the schema's entry for a table ({table}) is damaged"
    database = live.fd("")
    if database is None or os.fstat(database).st_size <= CHECK_MAX_BYTES:
        result = [row[0] for row in conn.execute("PRAGMA integrity_check(20)").fetchall()]
        if result != ["ok"]:
            lines = [line for text in result for line in str(text).splitlines() if not line.startswith("***")]
            return "SQLite's integrity check: " + "; ".join(lines[:2])
    conn.execute("BEGIN IMMEDIATE")  # no writer appends to the WAL while it is read
    try:
        return wal_problem(live)
    finally:
        conn.execute("ROLLBACK")


def wal_problem(live: LiveFiles) -> str | None:
    """Whether the WAL holds a commit of its current generation after the last frame SQLite
    accepted (the wal-index's ``mxFrame``): a frame before it failed its checksum. Call it while
    holding the write lock."""
    wal, index = live.read("-wal"), live.read("-shm", 48)
    if wal is None or index is None:
        return None
    if len(wal) <= _WAL_HEADER or len(index) < 48:
        return None
    page_size, salts = struct.unpack(">I", wal[8:12])[0], wal[16:24]
    order = "<" if sys.byteorder == "little" else ">"
    accepted = struct.unpack(f"{order}I", index[16:20])[0]
    frame = _FRAME_HEADER + page_size
    offset = _WAL_HEADER + accepted * frame
    first_skipped = offset
    while offset + _FRAME_HEADER <= len(wal):
        commit = struct.unpack(">I", wal[offset + 4 : offset + 8])[0]
        if wal[offset + 8 : offset + 16] == salts and commit:
            where = (first_skipped - _WAL_HEADER) // frame + 1
            return f"frame {where} of the WAL is damaged: commits written after it were skipped"
        offset += frame
    return None


def read_file(directory: PrivateDir, name: str, limit: int = -1) -> bytes:
    fd = directory.open(name, os.O_RDONLY)
    try:
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit)
    finally:
        os.close(fd)


def file_identity(directory: PrivateDir, name: str) -> tuple[int, int] | None:
    info = directory.entry(name)
    return None if info is None else (info.st_dev, info.st_ino)


def aside_name(directory: PrivateDir, name: str, stamp: str) -> str:
    """Where a damaged file goes: ``<name>.damaged-<stamp>`` beside it (never over another)."""
    aside, number = f"{name}.damaged-{stamp}", 1
    while directory.entry(aside) is not None:
        number += 1
        aside = f"{name}.damaged-{stamp}-{number}"
    return aside


def copy_aside(live: LiveFiles, directory: PrivateDir, aside: str) -> None:
    """Keep the damaged file and its -wal/-shm, byte for byte, as ``aside`` (and its -wal/-shm).

    Copied, not renamed: other processes may hold the file open, and SQLite deletes a WAL and its
    index by name when its last connection to a file closes, so a connection left on a renamed file
    would one day delete the live file's WAL. The live file keeps its name and inode and gets the
    salvaged content through SQLite itself (``overwrite``)."""
    for suffix in LiveFiles.SUFFIXES:
        data = live.read(suffix)
        if data is None:
            continue
        target = directory.open(f"{aside}{suffix}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(target, data)
            os.fsync(target)
        finally:
            os.close(target)
    os.fsync(directory.fd)


def remove(directory: PrivateDir, name: str) -> None:
    """Delete ``name`` and its -wal/-shm from ``directory``, those that are there."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{name}{suffix}", dir_fd=directory.fd)


def overwrite(directory: PrivateDir, name: str, fresh: str, live: LiveFiles, timeout_s: float) -> None:
    """Give the live file ``name`` the content of ``fresh`` through SQLite's backup API: one write
    transaction of the live file, which every other connection sees as another process's commit.
    A first page SQLite cannot read is replaced first (it could not begin the transaction); as a
    last resort the file and its WAL start empty."""
    for mend in (None, _first_page, _empty):
        if mend is not None:
            mend(directory, fresh, live)
        try:
            _backup(directory, fresh, name, timeout_s)
            return
        except sqlite3.DatabaseError:
            if mend is _empty:
                raise


def _backup(directory: PrivateDir, fresh: str, name: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s

    def waited(status: int, remaining: int, total: int) -> None:  # sqlite3 retries BUSY forever
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and time.monotonic() > deadline:
            raise sqlite3.OperationalError("the store stayed locked during its salvage")

    source = sqlite3.connect(f"file:{quote(directory.sqlite_path(fresh))}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(f"file:{quote(directory.sqlite_path(name))}?mode=rw", uri=True, timeout=1)
        try:
            source.backup(target, progress=waited, sleep=0.01)
        finally:
            target.close()
    finally:
        source.close()


def _first_page(directory: PrivateDir, fresh: str, live: LiveFiles) -> None:
    header = read_file(directory, fresh, 100)
    size = struct.unpack(">H", header[16:18])[0]
    page = read_file(directory, fresh, 65536 if size == 1 else size)
    fd = live.fd("")
    if fd is not None:
        os.pwrite(fd, page, 0)
        os.fsync(fd)


def _empty(directory: PrivateDir, fresh: str, live: LiveFiles) -> None:
    for suffix in ("", "-wal"):
        if (fd := live.fd(suffix)) is not None:
            os.ftruncate(fd, 0)
    if (fd := live.fd("-shm")) is not None:
        os.pwrite(fd, bytes(os.fstat(fd).st_size), 0)  # every process rebuilds its WAL index


# -- the directory lock --------------------------------------------------------------------------


class DirectoryLock:
    """Shared for transactions, exclusive for a salvage (see the module docstring). ``open_fd``
    opens a new file description of the workspace directory."""

    def __init__(self, open_fd: Callable[[], int], timeout_s: float) -> None:
        self._open_fd = open_fd
        self._timeout_s = timeout_s
        self._local = threading.local()
        self._fds: list[int] = []
        self._guard = threading.Lock()
        self._pid = os.getpid()

    @property
    def depth(self) -> int:
        return int(getattr(self._local, "depth", 0))

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        if os.getpid() != self._pid:  # a forked child: the parent's descriptions are not its own
            self._pid, self._local, self._fds = os.getpid(), threading.local(), []
        fd = getattr(self._local, "fd", None)
        if fd is None:
            fd = self._local.fd = self._open_fd()
            with self._guard:
                self._fds.append(fd)
        if self.depth == 0:  # a nested transaction of this thread already holds it
            _flock(fd, fcntl.LOCK_SH, self._timeout_s)
        self._local.depth = self.depth + 1
        try:
            yield
        finally:
            self._local.depth -= 1
            if self._local.depth == 0:
                fcntl.flock(fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def exclusive(self, timeout_s: float) -> Iterator[None]:
        fd = self._open_fd()
        try:
            _flock(fd, fcntl.LOCK_EX, timeout_s)
            yield
        finally:
            os.close(fd)

    def close(self) -> None:
        with self._guard:
            fds, self._fds = self._fds, []
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._local = threading.local()


def _flock(fd: int, operation: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise LockError("The store is locked by another process; try again.") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
