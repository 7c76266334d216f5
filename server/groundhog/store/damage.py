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
import fcntl
import os
import sqlite3
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

from groundhog.errors import LockError, PersistenceError, StoreDamaged

CHECK_MAX_BYTES = 64 << 20  # files up to this size get SQLite's full integrity check when opened
_WAL_HEADER, _FRAME_HEADER = 32, 24


def damaged(reason: str) -> StoreDamaged:
    return StoreDamaged("The store file is damaged and cannot be read.", problem=reason)


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


# -- finding damage when a store opens -----------------------------------------------------------


def file_problem(conn: sqlite3.Connection, database: Path, tables: dict[str, tuple[str, ...]]) -> str | None:
    """What is damaged in the file below its rows, or None: a table missing or with other columns
    than ``tables`` (a damaged schema), SQLite's integrity check (for files up to CHECK_MAX_BYTES;
    larger ones are checked by ``verify``), and commits of the WAL that SQLite skipped because a
    frame before them is damaged (it would do so silently)."""
    for table, columns in tables.items():
        found = tuple(str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})").fetchall())
        if found != columns:
            return f"the schema's entry for a table ({table}) is damaged"
    try:
        size = database.stat().st_size
    except OSError:
        size = 0
    if size <= CHECK_MAX_BYTES:
        result = [row[0] for row in conn.execute("PRAGMA integrity_check(20)").fetchall()]
        if result != ["ok"]:
            lines = [line for text in result for line in str(text).splitlines() if not line.startswith("***")]
            return "SQLite's integrity check: " + "; ".join(lines[:2])
    conn.execute("BEGIN IMMEDIATE")  # no writer appends to the WAL while it is read
    try:
        return wal_problem(database)
    finally:
        conn.execute("ROLLBACK")


def wal_problem(database: Path) -> str | None:
    """Whether the WAL holds a commit of its current generation after the last frame SQLite
    accepted (the wal-index's ``mxFrame``): a frame before it failed its checksum. Call it while
    holding the write lock."""
    try:
        wal = Path(f"{database}-wal").read_bytes()
        index = Path(f"{database}-shm").read_bytes()[:48]
    except FileNotFoundError:
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


def file_identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


def aside_path(database: Path, stamp: str) -> Path:
    """Where a damaged file goes: ``<name>.damaged-<stamp>`` beside it (never over another)."""
    aside = database.with_name(f"{database.name}.damaged-{stamp}")
    number = 1
    while os.path.lexists(aside):
        number += 1
        aside = database.with_name(f"{database.name}.damaged-{stamp}-{number}")
    return aside


def copy_aside(database: Path, aside: Path) -> None:
    """Keep the damaged file and its -wal/-shm, byte for byte, as ``aside`` (and its -wal/-shm).

    Copied, not renamed: other processes may hold the file open, and SQLite deletes a WAL and its
    index by name when its last connection to a file closes, so a connection left on a renamed file
    would one day delete the live file's WAL. The live file keeps its name and inode and gets the
    salvaged content through SQLite itself (``overwrite``)."""
    for suffix in ("", "-wal", "-shm"):
        try:
            source = os.open(f"{database}{suffix}", os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            continue
        try:
            target = os.open(f"{aside}{suffix}", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                while chunk := os.read(source, 1 << 20):
                    os.write(target, chunk)
                os.fsync(target)
            finally:
                os.close(target)
        finally:
            os.close(source)


def overwrite(database: Path, fresh: Path, timeout_s: float) -> None:
    """Give the live file the content of ``fresh`` through SQLite's backup API: one write
    transaction of the live file, which every other connection sees as another process's commit.
    A first page SQLite cannot read is replaced first (it could not begin the transaction); as a
    last resort the file and its WAL start empty."""
    for mend in (None, _first_page, _empty):
        if mend is not None:
            mend(database, fresh)
        try:
            _backup(fresh, database, timeout_s)
            return
        except sqlite3.DatabaseError:
            if mend is _empty:
                raise


def _backup(fresh: Path, database: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s

    def waited(status: int, remaining: int, total: int) -> None:  # sqlite3 retries BUSY forever
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and time.monotonic() > deadline:
            raise sqlite3.OperationalError("the store stayed locked during its salvage")

    source = sqlite3.connect(f"file:{quote(str(fresh))}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(f"file:{quote(str(database))}?mode=rw", uri=True, timeout=1)
        try:
            source.backup(target, progress=waited, sleep=0.01)
        finally:
            target.close()
    finally:
        source.close()


def _first_page(database: Path, fresh: Path) -> None:
    with open(fresh, "rb") as handle:
        size = struct.unpack(">H", handle.read(18)[16:18])[0]
        handle.seek(0)
        page = handle.read(65536 if size == 1 else size)
    fd = os.open(database, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        os.pwrite(fd, page, 0)
        os.fsync(fd)
    finally:
        os.close(fd)


def _empty(database: Path, fresh: Path) -> None:
    for suffix in ("", "-wal"):
        with contextlib.suppress(FileNotFoundError):
            os.truncate(f"{database}{suffix}", 0)
    with contextlib.suppress(FileNotFoundError):
        size = os.path.getsize(f"{database}-shm")
        with open(f"{database}-shm", "r+b") as handle:
            handle.write(bytes(size))  # every process rebuilds its WAL index


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
