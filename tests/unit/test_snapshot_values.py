"""Snapshot values are stored once per context (store/values.py): a snapshot writes only the values its
context does not hold yet, reads back whole long after the versions it was taken from are folded away,
and its values go with its context."""

from __future__ import annotations

from typing import Any

from storetools import count_rows, data_of
from tests.conftest import StoreEnv

from groundhog.changes import Change
from groundhog.store.codec import Payload

STATE = {f"key-{i:03d}": f"{i:03d}" + "v" * 997 for i in range(200)}  # 200 values of ~1 KB


def _values_of(manager: Any, name: str) -> int:
    """How many values the store holds for context ``name``."""
    with manager.store.read() as tx:
        row = tx.find_context(name)
        assert row is not None
        found = tx.conn.execute("SELECT count(*) FROM snapshot_values WHERE context_id = ?", (row.id,))
        return int(found.fetchone()[0])


def test_a_snapshot_stores_only_values_its_context_does_not_hold(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("work", STATE)
    work = manager.tracker("work")
    first = work.snapshot("first").id
    assert _values_of(manager, "work") == 200

    work.update(Change(set={"key-007": "changed" * 100}))
    work.snapshot("second")
    assert _values_of(manager, "work") == 201  # the one changed value

    result = work.rollback(snapshot_id=first)  # records a recovery point of the head: nothing new
    assert result.recovery_point is not None
    assert _values_of(manager, "work") == 201
    assert data_of(work) == STATE
    manager.close()


def test_snapshots_read_back_whole_after_their_versions_are_folded_away(store_env: StoreEnv) -> None:
    manager = store_env.open(history_limit=3)
    manager.create_context("work", STATE)
    work = manager.tracker("work")
    snapshot = work.snapshot("at 1").id
    for i in range(30):
        work.update(Change(set={f"key-{i % 7:03d}": i}, remove=[f"key-{100 + i:03d}"]))
    entries, oldest = work.history(limit=100)
    assert oldest > 1 and entries[-1].version > 1  # version 1 is gone from the kept history

    assert work.get_snapshot(snapshot).state.data == STATE
    work.rollback(snapshot_id=snapshot)
    assert data_of(work) == STATE
    manager.close()
    reopened = store_env.open(history_limit=3)
    assert reopened.tracker("work").get_snapshot(snapshot).state.data == STATE
    assert reopened.verify().ok
    reopened.close()


def test_two_stores_on_one_file_share_values_without_duplicates(store_env: StoreEnv) -> None:
    """Two processes' stores: neither remembers what the other stored, so each asks the file."""
    a, b = store_env.open(), store_env.open()
    a.create_context("shared", STATE)
    ids = [a.tracker("shared").snapshot("a1").id, b.tracker("shared").snapshot("b1").id]
    a.tracker("shared").update(Change(set={"new": 1}))
    ids += [b.tracker("shared").snapshot("b2").id, a.tracker("shared").snapshot("a2").id]
    assert _values_of(a, "shared") == 201
    for snapshot_id in ids:
        assert b.tracker("shared").get_snapshot(snapshot_id).state.data.items() >= STATE.items()
    a.close()
    b.close()


def test_deleting_a_context_deletes_its_snapshot_values(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("gone", STATE)
    manager.create_context("kept", {"x": 1})
    manager.tracker("gone").snapshot("s")
    manager.tracker("kept").snapshot("s")
    path = manager.store.path
    assert count_rows(path, "snapshot_values") == 201
    manager.delete_context("gone")
    assert count_rows(path, "snapshot_values") == 1
    manager.close()


def test_snapshots_stored_whole_by_earlier_versions_still_read(store_env: StoreEnv) -> None:
    """Stores written before values were shared hold each snapshot's values inline in its blob."""
    manager = store_env.open()
    manager.create_context("old", {"a": 1, "b": [2]})
    with manager.store.write() as tx:
        row = tx.find_context("old")
        assert row is not None
        inline = Payload(
            values={"a": b"1", "b": b"[2]"}, metadata={}, extra={"editor": None, "lastModified": "x"}
        )
        tx.conn.execute(
            "INSERT INTO snapshots(id, context_id, version, ts, size, kind, info_blob, blob)"
            " VALUES (?, ?, 1, '2026-01-01T00:00:00.000Z', 15, 'snapshot', ?, ?)",
            (
                "legacy",
                row.id,
                tx.cipher.seal(b'{"label":"legacy","metadata":{}}', "snapshots", row.uid, "legacy"),
                tx.cipher.seal(inline.pack(), "snapshots", row.uid, "legacy", "state"),
            ),
        )
    tracker = manager.tracker("old")
    tracker.update(Change(set={"a": 5}))
    assert tracker.get_snapshot("legacy").state.data == {"a": 1, "b": [2]}
    tracker.rollback(snapshot_id="legacy")
    assert data_of(tracker) == {"a": 1, "b": [2]}
    assert manager.verify().ok
    manager.close()
