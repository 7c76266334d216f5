"""Snapshot values are stored once per context (store/values.py): a snapshot writes only the values its
context does not hold yet, reads back whole long after the versions it was taken from are folded away,
and its values go with its context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from storetools import count_rows, data_of, flip_byte, raw_db
from tests.conftest import StoreEnv

from groundhog import PersistenceError, RecoveryError
from groundhog.changes import Change
from groundhog.store.codec import Payload
from groundhog.store.rows import Txn
from groundhog.store.schema import SCHEMA_VERSION

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
    first = work.create_snapshot("first").id
    assert _values_of(manager, "work") == 200

    work.update(Change(set={"key-007": "changed" * 100}))
    work.create_snapshot("second")
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
    snapshot = work.create_snapshot("at 1").id
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
    ids = [a.tracker("shared").create_snapshot("a1").id, b.tracker("shared").create_snapshot("b1").id]
    a.tracker("shared").update(Change(set={"new": 1}))
    ids += [b.tracker("shared").create_snapshot("b2").id, a.tracker("shared").create_snapshot("a2").id]
    assert _values_of(a, "shared") == 201
    for snapshot_id in ids:
        assert b.tracker("shared").get_snapshot(snapshot_id).state.data.items() >= STATE.items()
    a.close()
    b.close()


def test_deleting_a_context_deletes_its_snapshot_values(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("gone", STATE)
    manager.create_context("kept", {"x": 1})
    manager.tracker("gone").create_snapshot("s")
    manager.tracker("kept").create_snapshot("s")
    path = manager.store
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


def _flip_one_value(path: Path) -> None:
    with raw_db(path) as conn:
        value_id, blob = conn.execute("SELECT id, blob FROM snapshot_values ORDER BY id LIMIT 1").fetchone()
        conn.execute("UPDATE snapshot_values SET blob = ? WHERE id = ?", (flip_byte(bytes(blob)), value_id))


def test_a_damaged_value_is_mended_by_the_next_snapshot_of_a_new_process(store_env: StoreEnv) -> None:
    """One damaged row must not spoil every later snapshot sharing its value: a process checks each
    row it finds before relying on it, and seals a damaged one again from the head's bytes."""
    manager = store_env.open()
    manager.create_context("work", STATE)
    first = manager.tracker("work").create_snapshot("first").id
    path = manager.store
    manager.close()
    _flip_one_value(path)

    manager = store_env.open()
    assert not manager.verify().ok
    second = manager.tracker("work").create_snapshot("second").id
    for snapshot_id in (first, second):
        assert manager.tracker("work").get_snapshot(snapshot_id).state.data == STATE
    assert manager.verify().ok
    manager.close()


def test_a_value_damaged_under_a_running_process_is_mended_once_a_read_fails(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("work", STATE)
    tracker = manager.tracker("work")
    first = tracker.create_snapshot("first").id
    _flip_one_value(manager.store)
    with pytest.raises(RecoveryError):
        tracker.get_snapshot(first)  # the process forgets what it believed stored
    second = tracker.create_snapshot("second").id
    assert tracker.get_snapshot(second).state.data == STATE
    assert tracker.get_snapshot(first).state.data == STATE
    manager.close()


def test_values_of_a_snapshot_that_rolled_back_are_not_believed_stored(
    store_env: StoreEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest memory learns what a context stores only once the transaction has committed."""
    manager = store_env.open()
    manager.create_context("work", {"a": "1" * 100})
    tracker = manager.tracker("work")
    real_audit = Txn.audit

    def failing_audit(self: Txn, event: str, session: str, details: dict[str, Any]) -> None:
        if event == "snapshot":
            raise RuntimeError("the disk went away")
        real_audit(self, event, session, details)

    monkeypatch.setattr(Txn, "audit", failing_audit)
    with pytest.raises(RuntimeError):
        tracker.create_snapshot("lost")
    monkeypatch.setattr(Txn, "audit", real_audit)
    kept = tracker.create_snapshot("kept").id
    assert tracker.get_snapshot(kept).state.data == {"a": "1" * 100}
    manager.close()


def test_equal_values_under_many_keys_empty_states_and_a_recreated_name(store_env: StoreEnv) -> None:
    manager = store_env.open()
    same = {f"k{i}": "same value" for i in range(50)}
    manager.create_context("twins", same)
    twins = manager.tracker("twins").create_snapshot().id
    assert _values_of(manager, "twins") == 1
    assert manager.tracker("twins").get_snapshot(twins).state.data == same

    manager.create_context("empty", {})
    empty = manager.tracker("empty").create_snapshot().id
    assert manager.tracker("empty").get_snapshot(empty).state.data == {}

    manager.delete_context("twins")  # its values go with it; the name starts again from nothing
    manager.create_context("twins", same)
    again = manager.tracker("twins").create_snapshot().id
    assert _values_of(manager, "twins") == 1
    assert manager.tracker("twins").get_snapshot(again).state.data == same
    manager.close()


def _written_by(path: Path) -> int:
    with raw_db(path) as conn:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


@pytest.mark.sqlite_only  # the SQLite file itself
def test_an_older_store_is_upgraded_and_a_newer_one_refused(store_env: StoreEnv) -> None:
    """Servers that predate shared values cannot read these snapshots: the format number says so
    (one way), and a server meeting a newer format refuses the store instead of misreading it."""
    manager = store_env.open()
    manager.create_context("work", {"a": 1})
    path = manager.store
    manager.close()
    with raw_db(path) as conn:
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    store_env.open().close()
    assert _written_by(path) == SCHEMA_VERSION == 6

    with raw_db(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(PersistenceError, match="newer Groundhog"):
        store_env.open()
    assert _written_by(path) == SCHEMA_VERSION + 1  # left as it was
