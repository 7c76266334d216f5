"""A store another process holds locked: a write gives up with LockError after the configured
timeout (not a fixed 10 s, and not twice: the failure is not audited through the same lock), and
nothing changes; once the lock is released, writes go through again."""

from __future__ import annotations

import sqlite3

import pytest
from tests.conftest import StoreEnv

from groundhog import InvalidParams, LockError
from groundhog.changes import Change

pytestmark = pytest.mark.sqlite_only  # the SQLite file, its directory and its locks


def test_a_held_lock_surfaces_as_lock_error_and_changes_nothing(store_env: StoreEnv) -> None:
    manager = store_env.open(lock_timeout_s=0.2)
    manager.create_context("default")
    tracker = manager.tracker("default")
    holder = sqlite3.connect(manager.store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    try:
        with pytest.raises(LockError, match="locked"):
            tracker.update(Change(set={"a": 1}))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert tracker.read().version == 1
    assert [r for r in manager.audit_records(50) if r["event"] == "error"] == []  # not audited twice over
    tracker.update(Change(set={"a": 1}))
    assert tracker.read().version == 2
    manager.close()


@pytest.mark.parametrize("value", [0, -1, True, "5"])
def test_a_lock_timeout_that_cannot_apply_is_refused(store_env: StoreEnv, value: object) -> None:
    with pytest.raises(InvalidParams, match="lockTimeoutS"):
        store_env.open(lock_timeout_s=value)


def test_readers_open_and_verify_while_a_writer_holds_the_lock(store_env: StoreEnv) -> None:
    """verify, the people CLI and read-only sessions open the store and decrypt everything without
    the write lock, so an editor in the middle of a write never holds them up (or they it)."""
    writer = store_env.open()
    writer.create_context("default")
    writer.tracker("default").update(Change(set={"a": 1}))
    path = writer.store.path
    writer.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        reader = store_env.open(read_only=True, lock_timeout_s=0.2)
        assert reader.tracker("default").read().version == 2
        assert reader.verify().ok
        assert [c.name for c in reader.list_contexts()] == ["default"]
        reader.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
