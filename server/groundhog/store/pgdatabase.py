"""The shared database itself, below any one workspace's store: the connection settings every
connection uses, connection strings as people may see them, psycopg's errors as our one-sentence
ones, and the database-wide registry (``groundhog store init`` creates it; a store checks it)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors as pg_errors

from groundhog.errors import LockError, PersistenceError
from groundhog.store.schema import SCHEMA_VERSION
from groundhog.timeutil import now

REGISTRY = "groundhog"  # the database-wide schema: the format, written by `groundhog store init`
CONNECT_TIMEOUT_S = 5
# libpq's TCP keepalives: a server that vanished without closing (a network partition) is noticed
# within ~25 s instead of a request hanging on a dead connection
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


def schema_name(workspace_id: str) -> str:
    return f"gh_{workspace_id}"


def describe_url(url: str) -> str:
    """The connection string as logs and messages may show it: never its password."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(an unreadable connection string)"
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


def translate(error: psycopg.Error, url: str) -> PersistenceError:
    """Every PostgreSQL error becomes the library's error, with a sentence and no password."""
    where = describe_url(url)
    if isinstance(
        error, pg_errors.LockNotAvailable | pg_errors.SerializationFailure | pg_errors.DeadlockDetected
    ):
        return LockError("The workspace is locked by another server; try again.")
    if isinstance(error, pg_errors.InsufficientPrivilege):
        return PersistenceError(f"The PostgreSQL user may not do this at {where} (permission denied).")
    if isinstance(error, pg_errors.DiskFull):
        return PersistenceError("The PostgreSQL server's disk is full.")
    text = str(error).lower()  # libpq's words; only matched, never shown (they may name the user)
    if "authentication" in text or "password" in text:
        return PersistenceError(
            f"The PostgreSQL server at {where} refused the login (check the user and password)."
        )
    if "does not exist" in text and "database" in text:
        return PersistenceError(
            f"The database at {where} does not exist: create it, then `groundhog store init --store <url>`."
        )
    if isinstance(error, psycopg.OperationalError):
        return PersistenceError(
            f"The PostgreSQL server at {where} cannot be reached; it will be tried again on the next request."
        )
    state = getattr(error, "sqlstate", None) or error.__class__.__name__
    return PersistenceError(f"The PostgreSQL store failed ({state}).")


def check_registry(conn: psycopg.Connection[Any], url: str) -> None:
    found = conn.execute(
        "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'meta'", (REGISTRY,)
    ).fetchone()
    if found is None:
        raise PersistenceError(
            f"The database at {describe_url(url)} has no Groundhog schema: run "
            "`groundhog store init --store <url>` once (it needs CREATE on the database)."
        )
    row = conn.execute(f"SELECT value FROM {REGISTRY}.meta WHERE key = 'format'").fetchone()
    written_by = int(row[0]) if row is not None and str(row[0]).isdigit() else 0
    if written_by > SCHEMA_VERSION:
        raise PersistenceError(
            f"The database was set up by a newer Groundhog (store format {written_by}; this one "
            f"reads up to {SCHEMA_VERSION}); upgrade Groundhog to use it."
        )


def init_database(url: str) -> str:
    """Create the database-wide ``groundhog`` schema (idempotent); returns what was done."""
    try:
        with (
            psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn,
            conn.transaction(),
        ):
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {REGISTRY}")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {REGISTRY}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            found = conn.execute(f"SELECT value FROM {REGISTRY}.meta WHERE key = 'format'").fetchone()
            if found is not None and int(found[0]) > SCHEMA_VERSION:
                raise PersistenceError("The database was set up by a newer Groundhog; upgrade Groundhog.")
            conn.execute(
                f"INSERT INTO {REGISTRY}.meta(key, value) VALUES ('format', %s), ('created', %s)"
                " ON CONFLICT (key) DO NOTHING",
                (str(SCHEMA_VERSION), now()),
            )
    except psycopg.Error as error:
        raise translate(error, url) from None
    return "already set up" if found is not None else "set up"
