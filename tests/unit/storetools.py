"""Helpers the unit tests share: raw looks at the SQLite file, and decoded reads of versions.

The tests open the database with the plain ``sqlite3`` module (or psycopg, for the PostgreSQL backend)
to see (and damage) exactly what is stored; they never go through the library for that.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg

from groundhog import ContextManager, ContextTracker
from groundhog.store.codec import decode_values
from groundhog.store.pgwire import pg_sql
from groundhog.store.postgres import PostgresStore


class RawPg:
    """A psycopg connection taking the row layer's ``?`` SQL, each statement sent at once."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        return self.raw.execute(pg_sql(sql), parameters)


@contextlib.contextmanager
def raw_db(where: Path | Any) -> Iterator[Any]:
    """A plain autocommit connection to a store, past the library: the SQLite file (a path or a
    SqliteStore; WAL readers see committed data), or a PostgresStore's schema (same ``?`` SQL)."""
    if isinstance(where, PostgresStore):
        pg = psycopg.connect(where.url, autocommit=True)
        pg.execute(f'SET search_path TO "{where.schema}"')
        try:
            yield RawPg(pg)
        finally:
            pg.close()
        return
    conn = sqlite3.connect(getattr(where, "path", where), isolation_level=None, timeout=10)
    try:
        yield conn
    finally:
        conn.close()


def tables(conn: Any) -> list[str]:
    if isinstance(conn, RawPg):
        query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    return [r[0] for r in conn.execute(query).fetchall()]


def dump_store(path: Path | Any, exclude: tuple[str, ...] = ("audit",)) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (except ``exclude``), sorted: equal dumps mean an unchanged store."""
    with raw_db(path) as conn:
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in tables(conn)
            if table not in exclude
        }


def count_rows(path: Path | Any, table: str) -> int:
    with raw_db(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def flip_byte(blob: bytes, offset: int = -5) -> bytes:
    """The same blob with one bit of one byte changed."""
    data = bytearray(blob)
    data[offset] ^= 0x01
    return bytes(data)


def context_id(conn: sqlite3.Connection, manager: ContextManager, name: str) -> int:
    with manager.store.read() as tx:
        row = tx.find_context(name)
    assert row is not None, name
    return row.id


def data_of(tracker: ContextTracker, version: int | None = None) -> dict[str, Any]:
    """The decoded data of one version."""
    return decode_values(tracker.read(version).values)


def canonical(data: Any) -> bytes:
    """Compact JSON with sorted keys: equal JSON gives equal bytes (ints and floats aside)."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def digest(data: Any) -> str:
    return hashlib.sha256(canonical(data)).hexdigest()[:24]


WRITER = Path(__file__).with_name("writer_process.py")


def spawn_writer(store_env: Any, mode: str, *extra: str) -> subprocess.Popen[bytes]:
    """Start writer_process.py (beside this file) in ``mode`` on the store of ``store_env``."""
    return subprocess.Popen(
        [
            sys.executable,
            str(WRITER),
            mode,
            "--store-dir",
            str(store_env.store_dir),
            "--config-dir",
            str(store_env.config_dir),
            "--workspace",
            str(store_env.workspace),
            *(["--store-url", store_env.store_url] if store_env.store_url else []),
            *extra,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
