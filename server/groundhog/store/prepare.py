"""Opening an SQLite store file: its schema, format and wrapped data key, created or upgraded as
needed (writers) or only read (readers), before any transaction runs."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from groundhog.errors import PersistenceError
from groundhog.store import keys
from groundhog.store.common import KEY_ID
from groundhog.store.damage import damaged, translate
from groundhog.store.schema import SCHEMA, SCHEMA_VERSION, TABLES, missing_columns
from groundhog.timeutil import now

# A second copy of the wrapped data key, in another table (so another page): a damaged key row is
# then told from a master key that is not this store's (both copies fail only with the wrong key)
KEY_COPY = "data_key_copy"
Keys = tuple[str, bytes, bytes | None]  # workspace id, wrapped data key, its copy (older stores: None)


def _copy(meta: dict[str, str]) -> bytes | None:
    try:
        return bytes.fromhex(meta[KEY_COPY])
    except (KeyError, ValueError):
        return None


def read_keys(conn: sqlite3.Connection) -> Keys | None:
    """The workspace id and wrapped data key, read without taking the write lock; None when the
    store still needs something written (a new store, missing tables, an older format)."""
    try:
        conn.execute("BEGIN")
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
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
    return str(meta["workspace_id"]), bytes(row[0]), _copy(meta)


def prepare_keys(conn: sqlite3.Connection, workspace_id: str, master: Callable[[], bytes]) -> Keys:
    """Create or upgrade the schema and the wrapped data key as needed (under the write lock). A
    store that holds contexts but lost its key row is damage, never a reason to make a new key.
    ``master`` gives this machine's master key, read only for a new store (a store with members
    opens by its members' keys: its first key's row is empty, store/keyring.py)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = _prepare(conn, workspace_id, master)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except (sqlite3.Error, UnicodeDecodeError) as error:
        raise translate(error) from None
    return found


def _prepare(conn: sqlite3.Connection, workspace_id: str, master: Callable[[], bytes]) -> Keys:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?), ('workspace_id', ?),"
        " ('created', ?)",
        (str(SCHEMA_VERSION), workspace_id, now()),
    )
    stored_id = conn.execute("SELECT value FROM meta WHERE key = 'workspace_id'").fetchone()[0]
    format_text = str(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    if not format_text.isdigit():
        raise damaged("the row naming the store's format is damaged")
    written_by = int(format_text)
    if written_by > SCHEMA_VERSION:
        raise PersistenceError(
            f"The store was written by a newer Groundhog (store format {written_by}; this one "
            f"reads up to {SCHEMA_VERSION}); upgrade Groundhog to open it."
        )
    if written_by < SCHEMA_VERSION:  # one way: older servers refuse the upgraded store
        for statement in missing_columns(written_by, lambda table, column: _has_column(conn, table, column)):
            conn.execute(statement)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
    row = conn.execute("SELECT wrapped FROM keys WHERE key_id = ?", (KEY_ID,)).fetchone()
    copy = conn.execute("SELECT value FROM meta WHERE key = ?", (KEY_COPY,)).fetchone()
    if row is not None:
        wrapped = bytes(row[0])
    elif copy is not None:
        wrapped = b""  # the key row is lost, its copy is not: the caller finds it damaged
    elif conn.execute("SELECT 1 FROM contexts LIMIT 1").fetchone() is not None:
        raise damaged("the row holding the store's data key is missing")
    else:  # a new store
        wrapped = keys.wrap_data_key(master(), keys.new_data_key(), workspace_id, KEY_ID)
        conn.execute("INSERT INTO keys(key_id, wrapped, created) VALUES (?, ?, ?)", (KEY_ID, wrapped, now()))
    if copy is None:  # a new store, or one written before the copy was kept
        conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (KEY_COPY, wrapped.hex()))
        return str(stored_id), wrapped, wrapped
    return str(stored_id), wrapped, _copy({KEY_COPY: str(copy[0])})


def store_key_copy(conn: sqlite3.Connection, wrapped: bytes) -> None:
    """Make the copy of the wrapped data key the key row's again (it was damaged)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (wrapped.hex(), KEY_COPY))
        conn.execute("COMMIT")
    except (sqlite3.Error, UnicodeDecodeError) as error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise translate(error) from None


def _has_column(conn: sqlite3.Connection, table: str, column: str) -> bool:
    return any(row[1] == column for row in conn.execute(f"PRAGMA table_info({table})"))
