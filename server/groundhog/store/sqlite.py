"""The SQLite store: opening, connections, and the two transaction shapes.

Rules from FINDINGS.md: WAL with synchronous FULL, every write transaction ``BEGIN IMMEDIATE`` (a deferred
one that later writes gets SQLITE_BUSY at once, ignoring the busy timeout), one connection per thread and
never across ``fork()``; every SQLite error leaves as a PersistenceError that names no path.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from groundhog.errors import DataDamaged, LockError, PersistenceError
from groundhog.limits import (
    DEFAULT_AUDIT_KEEP,
    DEFAULT_AUDIT_MAX_AGE_DAYS,
    DEFAULT_FEED_KEEP,
    DEFAULT_FEED_MAX_AGE_S,
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_LOCK_TIMEOUT_S,
    DEFAULT_RECOVERY_POINTS_KEEP,
    DEFAULT_STORE_BUDGET_BYTES,
)
from groundhog.store import integrity, keys
from groundhog.store.codec import Cipher
from groundhog.store.connections import PerThread
from groundhog.store.paths import StoreLocation, ensure_private_dir, ensure_private_file
from groundhog.store.rows import Txn
from groundhog.store.schema import SCHEMA, SCHEMA_VERSION, TABLES
from groundhog.store.values import ValueDigests
from groundhog.store.wal import WAL_SIZE_LIMIT, WalCheckpointer
from groundhog.timeutil import now
from groundhog.workspace import default_config_dir

log = logging.getLogger(__name__)
T = TypeVar("T")
KEY_ID = 1


@dataclass(frozen=True)
class StoreSettings:
    history_limit: int = DEFAULT_HISTORY_LIMIT  # versions kept per context (the size limit is the tracker's)
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    busy_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    # policy, in one place: a checkpoint at least every `checkpoint_every` versions, and whenever
    # the deltas since the last one reach the state's size (at least `checkpoint_min_bytes`); a
    # delta of half the state or more (and over that floor) is written as a checkpoint instead.
    # Deltas are splices (store/splices.py), so an append log's deltas never add up to its state:
    # the count bounds how far a rebuild goes (~1000 small deltas) and how often the state is
    # written whole (once per 1000 versions, about the kept history). Each delta costs a rebuild
    # ~10 us (a row, a decrypt, an unpack) whatever its size, about what `checkpoint_delta_bytes`
    # of checkpoint cost: a checkpoint also once the deltas since the last one, counted so, reach
    # the state's size, so that no rebuild of a 1 MB state goes through more than 256 deltas (a
    # rollback's tail, issue 23: 1000 deltas took ~12 ms) while a 16 MB state keeps its 1000.
    checkpoint_every: int = 1000
    checkpoint_min_bytes: int = 64 * 1024
    checkpoint_delta_bytes: int = 4096
    feed_keep: int = DEFAULT_FEED_KEEP
    feed_max_age_s: float = DEFAULT_FEED_MAX_AGE_S
    audit_keep: int = DEFAULT_AUDIT_KEEP
    audit_max_age_s: float | None = DEFAULT_AUDIT_MAX_AGE_DAYS * 86_400.0  # None: no age limit
    recovery_points_keep: int = DEFAULT_RECOVERY_POINTS_KEEP
    budget_bytes: int = DEFAULT_STORE_BUDGET_BYTES  # store/budget.py
    config_dir: Path | None = None
    create_key: bool = True  # false for readers that must find the existing key (verify, the CLI)
    read_only: bool = False  # open an existing store without taking the write lock


class SqliteStore(integrity.Checks):
    """One workspace's database. Thread-safe: each thread gets its own connection."""

    def __init__(self, location: StoreLocation, settings: StoreSettings | None = None) -> None:
        self.location = location
        self.settings = settings or StoreSettings()
        self._connections = PerThread(self._connect)
        self._checkpointer: WalCheckpointer | None = None
        # the key first: a planted or missing key is refused before anything is created
        self._config_dir = self.settings.config_dir or default_config_dir()
        master = keys.load_or_create_master_key(self._config_dir, create=self.settings.create_key)
        ensure_private_dir(location.directory)
        for suffix in ("-wal", "-shm", "-journal"):
            ensure_private_file(Path(str(location.database) + suffix), "A store file", create=False)
        ensure_private_file(location.database)
        self.cipher, self.subkeys = self._open_keys(master)
        self.digests = ValueDigests(self.subkeys["value-digest"])

    @property
    def path(self) -> Path:
        return self.location.database

    @property
    def where(self) -> str:
        return str(self.location.database)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Never called: SQLite has no push; readers poll ``data_version`` (a cheap PRAGMA)."""

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
        """``body`` in a read transaction (run once here; see the Store protocol)."""
        with self.read() as txn:
            return body(txn)

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[Txn]:
        conn = self._connection()
        try:
            conn.execute(begin)
        except (sqlite3.Error, UnicodeDecodeError) as error:
            raise translate(error) from None
        try:
            txn = Txn(conn, self.cipher, self.subkeys, self.settings, self.digests)
            yield txn
            conn.execute("COMMIT")
        except BaseException as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error | UnicodeDecodeError):
                raise translate(error) from None
            raise
        for committed in txn.after_commit:  # outside the try: the transaction is durable by now
            committed()

    @property
    def workspace_id(self) -> str:
        return self.location.workspace_id

    def data_version(self) -> int:
        """Changes whenever another connection commits: the cheap cross-process change signal."""
        row = self._connection().execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def checkpoint_in_background(self) -> None:
        """For long-lived processes: WAL checkpoints leave the commit path for a background thread."""
        with self._connections.lock:
            if self._checkpointer is not None:
                return
            self._checkpointer = WalCheckpointer(self._connect)
            for conn in self._connections.opened():
                conn.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpointer.start()

    def close(self) -> None:
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        for conn in self._connections.take_all():
            try:
                conn.close()
            except sqlite3.Error:
                log.debug("closing a store connection failed", exc_info=True)

    # -- opening --------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        return self._connections.get()

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.location.database,
                isolation_level=None,
                check_same_thread=False,
                timeout=self.settings.busy_timeout_s,
            )
            conn.text_factory = _text
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")  # store/wal.py says why
            conn.execute(f"PRAGMA synchronous={self.settings.synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA trusted_schema=OFF")
            if self._checkpointer is not None:
                conn.execute("PRAGMA wal_autocheckpoint=0")
        except (sqlite3.Error, UnicodeDecodeError) as error:
            raise translate(error) from None
        return conn

    def _open_keys(self, master: bytes) -> tuple[Cipher, dict[str, bytes]]:
        workspace_id = self.location.workspace_id
        found = self._read_keys() if self.settings.read_only else None
        if found is not None:  # a reader (verify, the CLI, a read-only session) writes nothing
            stored_id, wrapped = found
        else:
            stored_id, wrapped = self._prepare_keys(master)
        if stored_id != workspace_id:
            raise PersistenceError("The store belongs to another workspace.")
        data_key = self._unwrap(master, wrapped)
        cipher = Cipher(keys.derive_subkey(data_key, "cipher"), workspace_id, KEY_ID)
        purposes = ("name-mac", "chain", "value-digest")
        subkeys = {purpose: keys.derive_subkey(data_key, purpose) for purpose in purposes}
        return cipher, subkeys

    def _unwrap(self, master: bytes, wrapped: bytes) -> bytes:
        """The data key; a store already re-wrapped by an unfinished master key rotation opens
        with the new key (store/rotation.py)."""
        try:
            return keys.unwrap_data_key(master, wrapped, self.location.workspace_id, KEY_ID)
        except PersistenceError:
            pending = keys.load_pending_master_key(self._config_dir)
            if pending is None:
                raise
            return keys.unwrap_data_key(pending, wrapped, self.location.workspace_id, KEY_ID)

    def _read_keys(self) -> tuple[str, bytes] | None:
        """The workspace id and wrapped data key, read without taking the write lock; None when the
        store still needs something written (a new store, missing tables, an older format)."""
        conn = self._connection()
        try:
            conn.execute("BEGIN")
            try:
                tables = {
                    row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                }
                if not tables >= TABLES:
                    return None
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                row = conn.execute("SELECT wrapped FROM keys WHERE key_id = ?", (KEY_ID,)).fetchone()
            finally:
                conn.execute("ROLLBACK")
        except (sqlite3.Error, UnicodeDecodeError) as error:
            raise translate(error) from None
        if row is None or meta.get("schema_version") != str(SCHEMA_VERSION) or "workspace_id" not in meta:
            return None
        return str(meta["workspace_id"]), bytes(row[0])

    def _prepare_keys(self, master: bytes) -> tuple[str, bytes]:
        """Create or upgrade the schema and the wrapped data key as needed (the write lock)."""
        workspace_id = self.location.workspace_id
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?),"
                    " ('workspace_id', ?), ('created', ?)",
                    (str(SCHEMA_VERSION), workspace_id, now()),
                )
                stored_id = conn.execute("SELECT value FROM meta WHERE key = 'workspace_id'").fetchone()[0]
                written_by = int(
                    conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
                )
                if written_by > SCHEMA_VERSION:
                    raise PersistenceError(
                        f"The store was written by a newer Groundhog (store format {written_by}; this one "
                        f"reads up to {SCHEMA_VERSION}); upgrade Groundhog to open it."
                    )
                if written_by < SCHEMA_VERSION:  # one way: older servers refuse the upgraded store
                    conn.execute(
                        "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
                    )
                row = conn.execute("SELECT wrapped FROM keys WHERE key_id = ?", (KEY_ID,)).fetchone()
                if row is None:
                    wrapped = keys.wrap_data_key(master, keys.new_data_key(), workspace_id, KEY_ID)
                    conn.execute(
                        "INSERT INTO keys(key_id, wrapped, created) VALUES (?, ?, ?)",
                        (KEY_ID, wrapped, now()),
                    )
                else:
                    wrapped = row[0]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            raise translate(error) from None
        return str(stored_id), bytes(wrapped)


def _text(raw: bytes) -> str:
    """Our text columns hold ASCII (times, kinds, ids): one that is not even UTF-8 was damaged on
    disk. Say so as damage (which recovery and verify handle), not as a decoding crash."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise DataDamaged("A row of the store holds text that is not UTF-8 (the file is damaged).") from None


def translate(error: sqlite3.Error | UnicodeDecodeError) -> PersistenceError:
    """Every backend error becomes the library's error, with a sentence and no path."""
    if isinstance(error, UnicodeDecodeError):  # SQLite quoted damaged schema text in its message
        return PersistenceError("The store file is damaged and cannot be read.")
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return LockError("The store is locked by another process; try again.")
    if "full" in text:
        return PersistenceError("The store cannot be written: the disk is full.")
    if "readonly" in text or "read-only" in text or "permission" in text:
        return PersistenceError("The store cannot be written: permission denied.")
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return PersistenceError("The store file is damaged and cannot be read.")
    name = str(getattr(error, "sqlite_errorname", "") or "")
    if name.startswith("SQLITE_READONLY"):
        return PersistenceError("The store cannot be written: its file system or file is read-only.")
    if name.startswith("SQLITE_IOERR") or "i/o error" in text:
        return PersistenceError(
            "The store's disk reported an I/O error (a read-only or failing file system)."
        )
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return PersistenceError("The store file cannot be opened (its directory must exist and be writable).")
    if name.startswith("SQLITE_NOTADB") or name.startswith("SQLITE_CORRUPT") or "no such table" in text:
        return PersistenceError("The store file is damaged and cannot be read.")
    detail = "" if "/" in text else f": {text}"  # SQLite's own words, never a path
    return PersistenceError(f"The store failed ({name or error.__class__.__name__}{detail}).")
