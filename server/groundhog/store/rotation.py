"""Rotating this machine's master key (``groundhog key rotate-master``): a new key wraps every
embedded store's data key, and the old key opens none of them any more.

What it protects: a copy of the old key no longer opens the stores as they are from now on. What it
cannot: a copy of a store taken while the old key was exposed still opens with that key, and so does
its data key (the data is not re-encrypted); docs/data.md says so.

Crash-safe in three steps: the new key goes to ``master.key.next`` first; each store is re-wrapped in
its own transaction (a store already re-wrapped is left alone, so a second run finishes the first);
only when every store is done does ``master.key.next`` replace ``master.key``. Until then a store
that no longer opens with ``master.key`` opens with ``master.key.next`` (``pending_master_key``).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from groundhog.errors import PersistenceError
from groundhog.store import keys
from groundhog.store.common import KEY_ID
from groundhog.store.paths import DATABASE_FILE
from groundhog.store.prepare import KEY_COPY


@dataclass
class Rotation:
    rewrapped: list[str] = field(default_factory=list)  # workspace ids
    failed: dict[str, str] = field(default_factory=dict)  # workspace id -> why

    @property
    def done(self) -> bool:
        return not self.failed


def rotate_master_key(config_dir: Path, store_dir: Path) -> Rotation:
    old = keys.load_or_create_master_key(config_dir, create=False)
    new = keys.load_pending_master_key(config_dir) or keys.create_pending_master_key(config_dir)
    result = Rotation()
    workspaces = store_dir / "workspaces"
    names = sorted(os.listdir(workspaces)) if workspaces.is_dir() else []
    for name in names:
        database = workspaces / name / DATABASE_FILE
        if not database.is_file():
            continue
        try:
            _rewrap(database, name, old, new)
            result.rewrapped.append(name)
        except (PersistenceError, sqlite3.Error) as error:
            result.failed[name] = getattr(error, "message", None) or type(error).__name__
    if result.done:
        keys.promote_pending_master_key(config_dir)
    return result


def _rewrap(database: Path, workspace_id: str, old: bytes, new: bytes) -> None:
    conn = sqlite3.connect(database, isolation_level=None, timeout=5)
    try:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT wrapped FROM keys WHERE key_id = ?", (KEY_ID,)).fetchone()
        stored = conn.execute("SELECT value FROM meta WHERE key = 'workspace_id'").fetchone()
        if row is None or stored is None or stored[0] != workspace_id:
            raise PersistenceError("The store holds no data key of its own.")
        if not row[0]:  # a store with members: its members' keys open it, not this machine's master key
            conn.execute("ROLLBACK")
            return
        try:
            keys.unwrap_data_key(new, bytes(row[0]), workspace_id, KEY_ID)
            conn.execute("ROLLBACK")  # re-wrapped by an earlier, interrupted run
            return
        except PersistenceError:
            data_key = keys.unwrap_data_key(old, bytes(row[0]), workspace_id, KEY_ID)
        wrapped = keys.wrap_data_key(new, data_key, workspace_id, KEY_ID)
        conn.execute("UPDATE keys SET wrapped = ? WHERE key_id = ?", (wrapped, KEY_ID))
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (wrapped.hex(), KEY_COPY))  # its copy too
        conn.execute("COMMIT")
    finally:
        conn.close()
