"""A store another process holds locked: a write gives up with LockError after the configured
timeout (not a fixed 10 s), nothing changes, and the failure is audited once the lock is free (its
record waits in the manager's audit queue, not in the request: auditing.py); once the lock is
released, writes go through again. A read-only session's refused write answers at once, whoever
holds the lock, and its audit record follows."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.conftest import StoreEnv

from groundhog import AccessDenied, ContextManager, InvalidParams, LockError
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
    failures = [r["details"] for r in manager.audit_records(50) if r["event"] == "error"]
    assert [(f["kind"], f["action"], f["context"]) for f in failures] == [("LockError", "update", "default")]
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


@contextmanager
def locked_by_another_process(database: Path) -> Iterator[subprocess.Popen[str]]:
    """A real second process holding the store's write lock (BEGIN IMMEDIATE) until released."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        if holder.poll() is None:
            holder.communicate("release\n", timeout=30)


HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def _refusals(manager: ContextManager) -> list[dict[str, object]]:
    return [
        r["details"]
        for r in manager.audit_records(100)
        if r["event"] == "error" and r["details"].get("kind") == "AccessDenied"
    ]


def test_a_read_only_refusal_answers_while_another_process_holds_the_lock(store_env: StoreEnv) -> None:
    writer = store_env.open()
    writer.create_context("plan")
    path = writer.store.path
    writer.close()
    reader = store_env.open(read_only=True)  # the default lock timeout: 5 s
    tracker = reader.tracker("plan")
    with locked_by_another_process(path):
        with pytest.raises(AccessDenied):
            tracker.update(Change(set={"a": 1}))
        with pytest.raises(AccessDenied):
            reader.create_context("other")
        assert tracker.read().version == 1  # reads go on too
        # answered, and nothing written yet: the records wait for the lock
        assert reader._audits.flush(0) is False
    deadline = time.monotonic() + 60  # only stops a hung test: the records follow the lock's release
    while len(_refusals(reader)) < 2 and time.monotonic() < deadline:
        pass
    refused = _refusals(reader)
    assert sorted((r["action"], r["context"]) for r in refused) == [("create", "other"), ("update", "plan")]
    reader.close()


UNCLOSED = """
import sqlite3, sys
from groundhog import AccessDenied, create_manager
from groundhog.changes import Change
store_dir, config_dir, workspace = sys.argv[1:4]
reader = create_manager(workspace, store_dir=store_dir, config_dir=config_dir, read_only=True)
holder = sqlite3.connect(reader.store.path, isolation_level=None)
holder.execute("BEGIN IMMEDIATE")  # the record cannot be written yet: it waits in the queue
try:
    reader.tracker("plan").update(Change(set={"a": 1}))
except AccessDenied:
    print("refused", flush=True)
holder.execute("ROLLBACK")
# no reader.close(): a script that just ends, its record still queued (retried after a backoff)
"""


def test_a_script_that_never_closes_its_manager_still_leaves_its_audit_records(store_env: StoreEnv) -> None:
    writer = store_env.open()
    writer.create_context("plan")
    writer.close()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            UNCLOSED,
            str(store_env.store_dir),
            str(store_env.config_dir),
            str(store_env.workspace),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split() == ["refused"]
    reader = store_env.open()
    assert [(r["action"], r["context"]) for r in _refusals(reader)] == [("update", "plan")]
    reader.close()
