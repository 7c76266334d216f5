"""Salvage: a store file damaged below its rows is kept aside and given, in place, a content made of
exactly the rows that can still be read and authenticated (store/salvage_plan.py says which).

Under the directory lock held exclusively (no transaction of any process runs meanwhile:
store/damage.py) the damaged file and its -wal/-shm are copied aside byte for byte, never deleted;
the kept rows are copied as they are (same ciphertexts, same links, same data key) into a new file
beside it, which is opened like any store so that the chains decide what is whole (a context whose
newest versions were lost recovers to its newest valid version, store/integrity.py; history that no
longer chains to it and snapshots that no longer rebuild are set aside, store/repair.py); the salvage
is recorded in it (sealed), and the live file gets that content through SQLite's backup API (it keeps
its name and inode, so no process is left on a renamed file).

The data key is in the file itself (wrapped by the master key, with a copy; or, in a store with
members, wrapped for each member, store/keyring.py): when it can no longer be opened, no row can be
authenticated, and the store starts empty with a new key of this machine's own (its members are
added again).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

from groundhog.reports import SalvageReport
from groundhog.store import pages
from groundhog.store.common import KEY_ID
from groundhog.store.damage import (
    DirectoryLock,
    LiveFiles,
    aside_name,
    copy_aside,
    overwrite,
    read_file,
    remove,
)
from groundhog.store.dirs import PrivateDir
from groundhog.store.members import MemberKey
from groundhog.store.prepare import KEY_COPY
from groundhog.store.salvage_plan import COLUMNS, TABLES, Plan, plan
from groundhog.store.schema import SCHEMA, SCHEMA_VERSION
from groundhog.timeutil import now

__all__ = ["COLUMNS", "SALVAGES", "Plan", "build", "plan", "run"]
log = logging.getLogger(__name__)


# -- the new file --------------------------------------------------------------------------------


def build(path: str, found: Plan, workspace_id: str, new_wrapped: Callable[[], bytes], when: str) -> None:
    """Write ``found``'s rows into a new SQLite file at ``path`` (which must not exist): the schema,
    this workspace's meta rows, the data key (a new one when the old is lost), then every kept row
    as it was. The store opens it next and recovers what the lost rows left broken."""
    conn = sqlite3.connect(f"file:{quote(path)}?mode=rwc", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        written_by = found.meta.get("schema_version", "")
        meta = {
            "schema_version": written_by
            if written_by.isdigit() and int(written_by) <= SCHEMA_VERSION
            else str(SCHEMA_VERSION),
            "workspace_id": workspace_id,
            "created": found.meta.get("created") or when,
        }
        wrapped = found.wrapped if found.wrapped is not None else new_wrapped()
        meta[KEY_COPY] = wrapped.hex()
        conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", sorted(meta.items()))
        conn.execute("INSERT INTO keys(key_id, wrapped, created) VALUES (?, ?, ?)", (KEY_ID, wrapped, when))
        for table, rows in found.rows.items():
            columns = TABLES[table][0]
            marks = ", ".join("?" * len(columns))
            conn.executemany(
                f"INSERT OR IGNORE INTO {table}({', '.join(columns)}) VALUES ({marks})",
                [tuple(row[column] for column in columns) for row in rows],
            )
        _continue_feed(conn, found.feed_seq)
        conn.executemany(
            "UPDATE contexts SET head = max(head, ?) WHERE id = ?",
            [(version, context_id) for context_id, version in found.written_up_to.items()],
        )
        _mend_heads(conn)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _continue_feed(conn: sqlite3.Connection, seq: int) -> None:
    """Servers still following the old file's change feed read on from its last number: the new
    feed's numbers continue above it, so none of its events is taken for one already seen."""
    if seq:
        conn.execute(
            "INSERT INTO sqlite_sequence(name, seq) SELECT 'feed', ? WHERE NOT EXISTS"
            " (SELECT 1 FROM sqlite_sequence WHERE name = 'feed')",
            (seq,),
        )
        conn.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'feed'", (seq,))


def _mend_heads(conn: sqlite3.Connection) -> None:
    """Each context's row names the newest version that survived above the head it recorded (lost
    rows never make a version number come back), and its oldest kept version and checkpoint."""
    conn.execute(
        "UPDATE contexts SET"
        " head = max(head, coalesce((SELECT max(version) FROM versions v"
        " WHERE v.context_id = contexts.id), 0)),"
        " anchor = coalesce((SELECT min(version) FROM versions v WHERE v.context_id = contexts.id), anchor)"
    )
    conn.execute(
        "UPDATE contexts SET cp_version = coalesce((SELECT max(version) FROM checkpoints c"
        " WHERE c.context_id = contexts.id AND c.version <= contexts.head), cp_version)"
    )


# -- the whole salvage ---------------------------------------------------------------------------


class _Salvaging(Protocol):
    """What a salvage needs of the damaged store (store/sqlite.py)."""

    @property
    def directory(self) -> PrivateDir: ...
    @property
    def file_name(self) -> str: ...
    @property
    def live(self) -> LiveFiles: ...
    @property
    def workspace_id(self) -> str: ...
    def unwrap(self, wrapped: bytes) -> bytes: ...
    def member_key(self) -> MemberKey | None: ...
    def new_wrapped_key(self) -> bytes: ...
    def recheck(self) -> str | None: ...


def run(store: _Salvaging, lock: DirectoryLock, open_fresh: Callable[[str], Any]) -> SalvageReport | None:
    """Keep the damaged file aside and give the store's file a new content made of what can still
    be read and authenticated, under the directory lock held exclusively (store/damage.py), so no
    transaction of any process runs meanwhile. None when the file is whole by then (another
    process salvaged it first). ``open_fresh(name)`` opens the new content, built beside, as a store."""
    directory, name = store.directory, store.file_name
    with lock.exclusive(timeout_s=SALVAGE_LOCK_TIMEOUT_S):
        when = now()
        aside = aside_name(directory, name, when.replace("-", "").replace(":", "").replace(".", ""))
        copy_aside(store.live, directory, aside)  # first: checking the file may make SQLite checkpoint it
        problem = store.recheck()
        if problem is None:
            remove(directory, aside)
            return None
        raw = pages.load(read_file(directory, aside), _wal_of(directory, aside))
        found_plan = plan(raw, store.workspace_id, store.unwrap, store.member_key)
        fresh = f"{aside}.salvaged"
        build(directory.sqlite_path(fresh), found_plan, store.workspace_id, store.new_wrapped_key, when)
        report = _repair(open_fresh(fresh), found_plan, aside, when, problem)
        overwrite(directory, name, fresh, store.live, SALVAGE_LOCK_TIMEOUT_S)
        remove(directory, fresh)
        os.fsync(directory.fd)
    log.warning("the store file was damaged (%s); kept as %s and salvaged", problem, aside)
    return report


def _wal_of(directory: PrivateDir, name: str) -> bytes | None:
    try:
        return read_file(directory, f"{name}-wal")
    except FileNotFoundError:
        return None


SALVAGE_LOCK_TIMEOUT_S = 60.0  # the other processes' transactions in flight end well before this


def _repair(fresh: Any, found: Plan, aside: str, when: str, problem: str) -> SalvageReport:
    """Open the new file as a store, make it whole, and record the salvage in it (sealed)."""
    from groundhog.store.repair import repair_salvaged

    try:
        recoveries, whole = repair_salvaged(fresh, SALVAGE_SESSION)
        report = SalvageReport(
            when=when,
            set_aside=aside,
            problem="; ".join([problem, *found.problems]),
            recoveries=recoveries,
            whole=whole,
            lost_rows={table: n for table, n in found.lost.items() if n},
            data_key_lost=found.wrapped is None,
        )
        with fresh.write() as tx:
            earlier = tx.get_setting(SALVAGES) or []
            tx.put_setting(SALVAGES, [*earlier, report.to_json()])
            tx.audit("salvage", SALVAGE_SESSION, report.to_json())
    finally:
        fresh.close()
    return report


SALVAGE_SESSION = "salvage"
SALVAGES = ".salvages"  # the settings row listing this store's salvages (verify reports them)
