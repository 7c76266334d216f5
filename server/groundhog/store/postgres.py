"""The shared store on PostgreSQL (psycopg 3): the same rows, chains, keys and semantics as the
embedded SQLite store, for a team whose editors and agents run on several machines.

- **One schema per workspace** (``gh_<workspace id>``) holding the row layer's tables
  (store/schema.py, translated to PostgreSQL's types), so every statement of the row layer runs
  unchanged; a database-wide ``groundhog`` schema records the format, created once by
  ``groundhog store init``.
- **One writer per workspace at a time**, as with SQLite's ``BEGIN IMMEDIATE``: a write transaction
  first takes the workspace's transaction-scoped advisory lock, so compare-and-swap on a context's
  version, key-level merge and the feed's order (its sequence is drawn under the lock) hold exactly
  as they do on one machine. Reads are REPEATABLE READ snapshots and take no lock.
- **Encrypted on the client**: the database holds ciphertext, keyed hashes and the data key wrapped
  by the workspace key, which its members hold (store/keys.py) and which never enters it.
- **Live**: each write transaction ends with ``NOTIFY``; one listener connection per process
  receives them, and after a lost connection it reconnects with backoff and tells readers to catch
  up from their feed cursor (none missed, none doubled: the cursor is the feed's sequence).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TypeVar

import psycopg
from psycopg.pq import TransactionStatus

from groundhog.errors import AccessDenied, InvalidState, PersistenceError
from groundhog.store import checks, keys
from groundhog.store.common import KEY_ID, StoreSettings
from groundhog.store.connections import PerThread
from groundhog.store.keyring import KeyRing
from groundhog.store.membership import Membership
from groundhog.store.pgdatabase import (
    CONNECT_TIMEOUT_S,
    KEEPALIVES,
    check_registry,
    describe_url,
    schema_name,
    translate,
)
from groundhog.store.pglisten import Listener
from groundhog.store.pgopen import prepare_workspace
from groundhog.store.pgpipe import RawConnection
from groundhog.store.pgrows import AUDIT_ENDS, NEWEST_KEY, PgTxn, Upkeep
from groundhog.store.pgwire import Exchanges, Mode, PgConnection, Statement, TornRead, pg_sql
from groundhog.store.rows import Txn
from groundhog.store.values import ValueDigests
from groundhog.userconfig import default_config_dir

log = logging.getLogger(__name__)
T = TypeVar("T")
# -- the store ----------------------------------------------------------------------------------


class PostgresStore(checks.Checks, Membership):
    """One workspace in a shared PostgreSQL database. Thread-safe: one connection per thread."""

    def __init__(
        self, url: str, workspace_root: str, workspace_id: str, settings: StoreSettings | None = None
    ) -> None:
        self.url = url
        self.workspace_root = workspace_root
        self._workspace_id = workspace_id
        self.settings = settings or StoreSettings()
        self.schema = schema_name(workspace_id)
        self._lock_key = int(workspace_id[:15], 16)  # the workspace's advisory lock (60 bits)
        self._connections = PerThread(self._connect, lambda conn: not (conn.closed or conn.broken))
        self._listener: Listener | None = None
        self.exchanges = Exchanges()  # round trips, for the tests that count them
        self.upkeep = Upkeep()
        self._config_dir = self.settings.config_dir or default_config_dir()
        self.ring = KeyRing(workspace_id, self._config_dir)
        self._open_keys()
        self.digests = ValueDigests(self.ring.subkeys["value-digest"])

    @property
    def workspace_id(self) -> str:
        return self._workspace_id

    @property
    def where(self) -> str:
        return f"{describe_url(self.url)}#{self.schema}"

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Txn]:
        with self._transaction("write") as txn:
            yield txn

    @contextmanager
    def read(self) -> Iterator[Txn]:
        with self._transaction("read") as txn:
            yield txn

    def reading(self, body: Callable[[Txn], T]) -> T:
        """``body`` in a read: one statement alone is its own snapshot (one round trip); a read of
        more runs in a transaction, and runs again from its start if its first answer had changed
        by the time the transaction began (store/pgwire.py)."""
        raw = self._connection()
        conn = PgConnection(raw, "lazy", self.exchanges)
        try:  # not through _transaction: its context manager cost a tenth of a one-row read
            result = body(self._txn(conn))
            conn.finish()
            return result
        except TornRead:
            self._abandon(raw)
        except BaseException as error:
            self._abandon(raw)
            if isinstance(error, psycopg.Error):
                raise translate(error, self.url) from None
            raise
        with self._transaction("read") as txn:
            return body(txn)

    def _txn(
        self, conn: PgConnection, audit_ends: Statement | None = None, newest_key: Statement | None = None
    ) -> PgTxn:
        return PgTxn(
            conn,
            self.ring,
            self.settings,
            self.digests,
            upkeep=self.upkeep,
            audit_ends=audit_ends,
            newest_key=newest_key,
        )

    @contextmanager
    def _transaction(self, mode: Mode) -> Iterator[PgTxn]:
        raw = self._connection()
        conn = PgConnection(raw, mode, self.exchanges)
        ends = newest = None
        if mode == "write":  # sent with the first statement that must go: one round trip
            *_, ends, newest = conn.open(
                "BEGIN ISOLATION LEVEL READ COMMITTED",
                f"SELECT pg_advisory_xact_lock({int(self._lock_key)})",  # waits up to lock_timeout
                AUDIT_ENDS,
                NEWEST_KEY,
            )
        elif mode == "read":
            conn.open("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            txn = self._txn(conn, ends, newest)
            yield txn
            txn.end()
            # a write NOTIFYs the workspace's listeners on every machine, delivered at COMMIT and
            # sent with it (the channel is our own schema name: no quoting needed)
            conn.finish((f'NOTIFY "{self.schema}"',) if conn.wrote else ())
        except BaseException as error:
            self._abandon(raw)
            if isinstance(error, psycopg.Error):
                raise translate(error, self.url) from None
            raise
        self.upkeep.wrote(conn.written)
        for committed in txn.after_commit:  # outside the try: the transaction is durable by now
            committed()

    def _abandon(self, conn: RawConnection) -> None:
        """Roll back whatever is open; a broken connection is dropped so the next call reconnects."""
        if conn.closed or conn.broken:
            self._forget(conn)
            return
        if conn.info.transaction_status != TransactionStatus.IDLE:
            try:
                self.exchanges.add()
                conn.execute("ROLLBACK")
            except psycopg.Error:
                self._forget(conn)

    # -- connections ----------------------------------------------------------------------------

    def _connection(self) -> RawConnection:
        return self._connections.get()  # a closed or broken connection is replaced

    def _connect(self) -> RawConnection:
        try:
            conn = RawConnection.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="groundhog",
                **KEEPALIVES,
            )
            # our statements wait for no lock but the workspace's, so the session's timeout is its
            timeout_ms = max(1, int(self.settings.busy_timeout_s * 1000))
            conn.execute(f'SET search_path TO "{self.schema}"; SET lock_timeout = {timeout_ms}')
        except psycopg.Error as error:
            raise translate(error, self.url) from None
        return conn

    def _forget(self, conn: RawConnection) -> None:
        self._connections.forget(conn)
        with suppress(psycopg.Error):
            conn.close()

    # -- change signals -------------------------------------------------------------------------

    def data_version(self) -> int:
        """Counts the workspace's commits this process heard of (NOTIFY), and reconnections."""
        return self._ensure_listener().version

    def on_change(self, callback: Callable[[], None]) -> None:
        """``callback`` runs (on the listener's thread) whenever another commit may have happened."""
        self._ensure_listener().callbacks.append(callback)

    def _ensure_listener(self) -> Listener:
        with self._connections.lock:
            if self._listener is None:
                self._listener = Listener(self.url, self.schema)
                self._listener.start()
            listener = self._listener
        listener.ready.wait(CONNECT_TIMEOUT_S)
        return listener

    def checkpoint_in_background(self) -> None:
        """Nothing to do: PostgreSQL checkpoints on its own."""

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
        for conn in self._connections.take_all():
            try:
                conn.close()
            except psycopg.Error:
                log.debug("closing a store connection failed", exc_info=True)

    # -- opening: the registry, the workspace's schema and its key ------------------------------

    def _open_keys(self) -> None:
        conn = self._connection()
        try:
            conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            try:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                check_registry(conn, self.url)
                if prepare_workspace(conn, self.schema, self._workspace_id, self.settings, self._config_dir):
                    log.info("created workspace %s in the shared store", self.schema)
                self.ring.load(
                    lambda sql, parameters: conn.execute(pg_sql(sql), parameters).fetchall(), self._single
                )
                conn.execute("COMMIT")
            except BaseException:
                self._abandon(conn)
                raise
        except psycopg.Error as error:
            raise translate(error, self.url) from None

    def _single(self, wrapped: bytes) -> bytes:
        """The first data key of a single-key workspace, by this machine's workspace key."""
        if not wrapped:
            raise PersistenceError("The workspace's key row is missing from the shared store.")
        workspace_key = keys.load_workspace_key(self._config_dir, self._workspace_id)
        if workspace_key is None:
            raise AccessDenied(
                "This machine does not have the workspace's key. On a machine that has it, run "
                "`groundhog key export`, then here `groundhog key import` with that string (or set "
                f"{keys.WORKSPACE_KEY_ENV})."
            )
        try:
            return keys.unwrap_data_key(workspace_key, wrapped, self._workspace_id, KEY_ID)
        except PersistenceError:
            raise AccessDenied(
                "This machine's key for the workspace does not open it: the key was rotated (import "
                "the current one with `groundhog key import`), or another project uses the same "
                "workspace id (choose another with --workspace-id)."
            ) from None

    shared_key = True  # a workspace key its people hold wraps the data key (unless it has members)

    def rewrap_key(self, new_workspace_key: bytes) -> None:
        """Rotate the workspace key: the data key is wrapped again under ``new_workspace_key`` (the
        old key no longer opens the workspace). The caller saves and shares the new key."""
        if self.members():
            raise InvalidState(
                "This workspace has members, each with a key of their own: `groundhog members remove "
                "NAME` takes one out (nothing to rotate)."
            )
        data_key = _unwrapped_data_key(self)
        wrapped = keys.wrap_data_key(new_workspace_key, data_key, self._workspace_id, KEY_ID)
        with self.write() as tx:
            tx.conn.execute("UPDATE keys SET wrapped = ? WHERE key_id = ?", (wrapped, KEY_ID))


def _unwrapped_data_key(store: PostgresStore) -> bytes:
    config_dir = store.settings.config_dir or default_config_dir()
    workspace_key = keys.load_workspace_key(config_dir, store.workspace_id)
    if workspace_key is None:
        raise AccessDenied("This machine does not have the workspace's key.")
    with store.read() as tx:
        found = tx.conn.execute("SELECT wrapped FROM keys WHERE key_id = ?", (KEY_ID,)).fetchone()
    return keys.unwrap_data_key(workspace_key, bytes(found[0]), store.workspace_id, KEY_ID)
