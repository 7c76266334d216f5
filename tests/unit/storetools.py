"""Helpers the unit tests share: raw looks at the SQLite file, and decoded reads of versions.

The tests open the database with the plain ``sqlite3`` module to see (and damage) exactly what is on
disk; they never go through the library for that.
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

from groundhog import ContextManager, ContextTracker
from groundhog.store.codec import decode_values


@contextlib.contextmanager
def raw_db(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain autocommit connection to a store file (WAL readers see committed data)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        yield conn
    finally:
        conn.close()


def tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]


def dump_store(path: Path, exclude: tuple[str, ...] = ("audit",)) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (except ``exclude``), sorted: equal dumps mean an unchanged store."""
    with raw_db(path) as conn:
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in tables(conn)
            if table not in exclude
        }


def count_rows(path: Path, table: str) -> int:
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
            *extra,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
