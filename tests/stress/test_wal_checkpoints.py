"""Background WAL checkpoints (what a long-lived server turns on)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable

import pytest

from groundhog.changes import Change
from groundhog.store.wal import WAL_SIZE_LIMIT
from tests.conftest import StoreEnv

pytestmark = pytest.mark.sqlite_only  # SQLite's WAL file and its checkpoints


def _wait_until(condition: Callable[[], bool], limit_s: float = 60.0) -> None:
    """Poll for ``condition``; the limit only stops a hung test, it is no performance budget."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def _fill(env: StoreEnv, background: bool) -> tuple[int, int]:
    manager = env.open()
    if background:
        manager.store.checkpoint_in_background()
    manager.create_context("big")
    tracker = manager.tracker("big")
    db = manager.store.path
    before = os.path.getsize(db)
    for i in range(20):  # 2 MB through the WAL, in a state that stays under the size limit
        tracker.update(Change(set={f"k{i % 5}": str(i) * 100_000}))
    if background:  # the thread copies the WAL into the database within a few of its intervals
        _wait_until(lambda: os.path.getsize(db) - before > 1_000_000)
    after = os.path.getsize(db)
    autocheckpoint = manager.store._connection().execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    manager.close()
    return after - before, autocheckpoint


def test_background_thread_moves_the_wal_into_the_database(store_env: StoreEnv) -> None:
    grown, autocheckpoint = _fill(store_env, background=True)
    assert autocheckpoint == 0, "commits no longer checkpoint inline"
    assert grown > 1_000_000, "the checkpoint thread copied the WAL into the database file"


def test_without_it_sqlite_checkpoints_inline_as_usual(store_env: StoreEnv) -> None:
    _, autocheckpoint = _fill(store_env, background=False)
    assert autocheckpoint == 1000


def test_closing_stops_the_thread_and_leaves_a_consistent_store(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.store.checkpoint_in_background()
    manager.create_context("c", {"a": 1})
    path = manager.store.path
    manager.close()
    _wait_until(lambda: not any(t.name == "groundhog-wal" and t.is_alive() for t in threading.enumerate()))
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def _wal_salt(db: object) -> bytes:
    """Salt-1 of the WAL header: SQLite changes it each time the WAL starts again from the beginning."""
    with open(f"{db}-wal", "rb") as wal:
        return wal.read(20)[16:20]


def test_a_writer_that_never_pauses_still_gets_the_wal_restarted(store_env: StoreEnv) -> None:
    """Without the RESTART step, frames written during each PASSIVE checkpoint kept the WAL from ever
    starting again: it grew with every update and every commit extended the file."""
    manager = store_env.open()
    manager.store.checkpoint_in_background()
    manager.create_context("busy")
    tracker = manager.tracker("busy")
    db = manager.store.path
    tracker.update(Change(set={"k": "start"}))
    salts = {_wal_salt(db)}
    hung = time.monotonic() + 120  # only stops a hung test: a loaded machine just takes longer
    written = 0
    while len(salts) == 1:  # back to back, never pausing for the checkpoint thread
        assert time.monotonic() < hung, f"the WAL never restarted during {written} back-to-back updates"
        tracker.update(Change(set={f"k{written % 10}": str(written) * 1000}))
        salts.add(_wal_salt(db))
        written += 1
    manager.close()


def _wal_bytes(db: object) -> int:
    try:
        return os.path.getsize(f"{db}-wal")
    except FileNotFoundError:
        return 0


def test_an_idle_servers_wal_is_emptied_after_a_large_write(store_env: StoreEnv) -> None:
    """SQLite never shrinks a WAL by itself: after a 1 MB transcript the file stayed at 13 MB for as
    long as the server ran. Once the checkpoint thread finds it all copied and nothing new, it is
    cut to nothing; and every connection bounds what a restarted WAL keeps."""
    manager = store_env.open()
    manager.store.checkpoint_in_background()
    manager.create_context("transcript", {"log": []})
    tracker = manager.tracker("transcript")
    for n in range(1000):  # a 1 MB transcript, one 1 KB append at a time
        tracker.update(Change(patch=[{"op": "add", "path": "/log/-", "value": f"{n:04d}" + "x" * 996}]))
    db = manager.store.path
    limit = manager.store._connection().execute("PRAGMA journal_size_limit").fetchone()[0]
    _wait_until(lambda: _wal_bytes(db) == 0)  # bytes, not time: the limit only stops a hung test
    assert limit == WAL_SIZE_LIMIT
    log = tracker.read().values["log"]
    assert log.count(b'"') == 2000 and b'"0999' in log, "every append is in the database file"
    manager.close()
