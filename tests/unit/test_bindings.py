"""Rows that decide what a reader sees are bound to what they claim: swapping the name MACs of two
contexts does not make one serve the other's data, editing a snapshot's plaintext columns (version,
time, size, kind) is caught, and an older copy of an editor record or of the last-active record put
back in place is caught. `verify` names each; reads refuse (or ignore the record) instead of
misleading."""

from __future__ import annotations

import pytest

from groundhog import ContextManager, RecoveryError, create_adapter
from groundhog.changes import Change


def _two_contexts(manager: ContextManager) -> None:
    for name, secret in (("alice", "alice's plan"), ("bob", "bob's plan")):
        manager.create_context(name)
        manager.tracker(name).update(Change(set={"plan": secret}))


def test_swapped_name_macs_never_serve_another_contexts_data(manager: ContextManager) -> None:
    _two_contexts(manager)
    with manager.store.write() as tx:
        macs = dict(tx.conn.execute("SELECT uid, name_mac FROM contexts").fetchall())
        (uid_a, mac_a), (uid_b, mac_b) = sorted(macs.items())
        tx.conn.execute("UPDATE contexts SET name_mac = ? WHERE uid = ?", (b"x" * 32, uid_a))
        tx.conn.execute("UPDATE contexts SET name_mac = ? WHERE uid = ?", (mac_a, uid_b))
        tx.conn.execute("UPDATE contexts SET name_mac = ? WHERE uid = ?", (mac_b, uid_a))
    for name in ("alice", "bob"):
        with pytest.raises(RecoveryError, match="name binding"):
            manager.tracker(name).read()
    assert manager.list_contexts() == []  # neither answers to a name that is not its own
    report = manager.verify()
    problems = " ".join(f"{p['where']}: {p['problem']}" for p in report.problems)
    assert "name binding was altered" in problems, problems


@pytest.mark.parametrize(
    ("column", "value"),
    [("version", 99), ("ts", "2020-01-01T00:00:00.000Z"), ("size", 1), ("kind", "recovery")],
)
def test_an_edited_snapshot_column_is_caught(manager: ContextManager, column: str, value: object) -> None:
    manager.create_context("default")
    tracker = manager.tracker("default")
    tracker.update(Change(set={"a": 1}))
    snapshot = tracker.create_snapshot("before")
    tracker.update(Change(set={"a": 2}))
    with manager.store.write() as tx:
        tx.conn.execute(f"UPDATE snapshots SET {column} = ? WHERE id = ?", (value, snapshot.id))
    assert [s.id for s in tracker.snapshots()] == []  # left out of the listing, not shown altered
    with pytest.raises(RecoveryError):
        tracker.rollback(snapshot_id=snapshot.id)
    assert tracker.read().version == 3  # the head is untouched
    report = manager.verify()
    assert any(snapshot.id in p["where"] for p in report.problems), report.problems


def _problems(manager: ContextManager) -> str:
    return " ".join(f"{p['where']}: {p['problem']}" for p in manager.verify().problems)


def test_an_older_editor_record_put_back_is_caught(manager: ContextManager) -> None:
    manager.create_context("default")
    tracker = manager.tracker("default")
    tracker.save_editor({"openDocuments": [], "activeUri": "file:///old.py", "selections": []})
    with manager.store.read() as tx:
        old = tx.conn.execute("SELECT ts, blob FROM editors").fetchone()
    tracker.save_editor({"openDocuments": [], "activeUri": "file:///new.py", "selections": []})
    assert manager.verify().ok
    with manager.store.write() as tx:
        tx.conn.execute("UPDATE editors SET ts = ?, blob = ?", old)
    with pytest.raises(RecoveryError, match="replaced"):
        tracker.load_editor()
    assert "editor state" in _problems(manager) and "replaced" in _problems(manager)


def test_an_older_last_active_record_put_back_is_ignored_and_reported(manager: ContextManager) -> None:
    manager.create_context("default")
    adapter = create_adapter(manager)
    adapter.initialize_sync()
    adapter.switch_context_sync("secret-plan", create=True)
    with manager.store.read() as tx:
        old = tx.conn.execute("SELECT blob FROM settings WHERE key = 'last_active'").fetchone()[0]
    adapter.switch_context_sync("default")
    with manager.store.write() as tx:
        tx.conn.execute("UPDATE settings SET blob = ? WHERE key = 'last_active'", (old,))
    assert manager.last_active() is None  # not 'secret-plan': a replaced record chooses nothing
    assert "last_active" in _problems(manager)
    later = create_adapter(manager)
    assert later.initialize_sync() is not None and later.active_name == "default"
