"""Every row a reader relies on is bound (issue 20.4), on both backends: rows changed behind the
store's back that once passed ``verify`` (a head record moved back while the newer version stays, a
context record deleted with its rows left behind, a snapshot's listed description altered) are each
reported by ``verify``, recovered or set aside when the store opens, and said; no later write fails
on a primary key. A context deleted through the store is none of these: its change feed rows stay
(under its negated id) and nothing is reported."""

from __future__ import annotations

from typing import Any

import pytest
from storetools import raw_db

from groundhog import ContextManager, SnapshotNotFound
from groundhog.changes import Change


def _problems(manager: ContextManager) -> str:
    report = manager.verify()
    assert not report.ok
    return "\n".join(f"{p['where']}: {p['problem']} {p.get('reason', '')}" for p in report.problems)


def _context_id(manager: ContextManager, name: str) -> int:
    with raw_db(manager.store) as conn:
        rows = conn.execute("SELECT id, head FROM contexts").fetchall()
    heads = {head: context_id for context_id, head in rows}
    return heads[manager.tracker(name).version]


def _move_head_back(manager: ContextManager, context_id: int) -> int:
    with raw_db(manager.store) as conn:
        (head,) = conn.execute("SELECT head FROM contexts WHERE id = ?", (context_id,)).fetchone()
        (older,) = conn.execute(
            "SELECT hash FROM versions WHERE context_id = ? AND version = ?", (context_id, head - 1)
        ).fetchone()
        conn.execute(
            "UPDATE contexts SET head = ?, head_hash = ? WHERE id = ?", (head - 1, older, context_id)
        )
    return int(head)


def test_a_head_moved_back_is_reported_recovered_to_the_newest_and_writes_go_on(store_env: Any) -> None:
    manager = store_env.open()
    manager.create_context("work", {"n": 1})
    for n in range(2, 6):
        manager.tracker("work").update(Change(set={"n": n}))
    head = _move_head_back(manager, _context_id(manager, "work"))
    assert "moved back" in _problems(manager)
    manager.close()

    reopened = store_env.open()
    try:
        [report] = reopened.recoveries
        assert (report.from_version, report.to_version) == (head - 1, head) and "moved back" in report.reason
        work = reopened.tracker("work")
        assert work.get_state().data == {"n": 5} and work.version == head + 1
        assert work.update(Change(set={"after": 1})).version == head + 2
    finally:
        reopened.close()


def test_a_head_moved_back_under_an_open_store_never_fails_later_writes(store_env: Any) -> None:
    manager = store_env.open()
    try:
        manager.create_context("work", {"n": 1})
        work = manager.tracker("work")
        for n in range(2, 5):
            work.update(Change(set={"n": n}))
        head = _move_head_back(manager, _context_id(manager, "work"))
        for attempt in range(3):
            assert work.update(Change(set={"again": attempt})).version > head
        assert work.get_state().data["n"] == 4
        assert any("moved back" in r.reason for r in manager.recoveries)
    finally:
        manager.close()


def test_a_deleted_context_record_is_reported_its_rows_set_aside_and_its_name_free(store_env: Any) -> None:
    manager = store_env.open()
    manager.create_context("keep", {"a": 1})
    manager.create_context("victim", {"x": 1})
    manager.tracker("victim").update(Change(set={"x": 2}))
    victim = _context_id(manager, "victim")
    with raw_db(manager.store) as conn:
        if store_env.backend == "sqlite":
            conn.execute("PRAGMA foreign_keys=OFF")
        else:  # the rows stay behind as they would in SQLite without its foreign keys
            conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM contexts WHERE id = ?", (victim,))
    assert "context record is gone" in _problems(manager)
    manager.close()

    reopened = store_env.open()
    try:
        [report] = reopened.recoveries
        assert report.context == "victim" and report.to_version is None
        assert "record was deleted" in report.reason
        with raw_db(reopened.store) as conn:  # followers of the feed learn that it is gone
            kinds = [r[0] for r in conn.execute("SELECT kind FROM feed WHERE context_id = ?", (-victim,))]
        assert kinds[-1] == "delete"
        assert reopened.create_context("victim", {"y": 1}).version == 1
        assert reopened.tracker("victim").update(Change(set={"y": 2})).version == 2
        assert "damaged row set aside" in _problems(reopened)
        assert reopened.verify(discard_damaged=True).ok and reopened.verify().ok
    finally:
        reopened.close()


def test_an_altered_snapshot_is_set_aside_and_said_not_silently_left_out(store_env: Any) -> None:
    manager = store_env.open()
    manager.create_context("work", {"a": 1})
    work = manager.tracker("work")
    kept = work.create_snapshot("kept").id
    altered = work.create_snapshot("altered").id
    with raw_db(manager.store) as conn:
        conn.execute("UPDATE snapshots SET size = size + 1 WHERE id = ?", (altered,))
    manager.close()

    reopened = store_env.open()
    try:
        [report] = reopened.recoveries
        assert altered in report.reason and "set aside" in report.reason
        listed = [s.id for s in reopened.tracker("work").snapshots()]
        assert kept in listed and altered not in listed
        with pytest.raises(SnapshotNotFound):
            reopened.tracker("work").rollback(snapshot_id=altered)
        assert "damaged row set aside" in _problems(reopened)
    finally:
        reopened.close()


def test_a_context_deleted_through_the_store_is_no_orphan(store_env: Any) -> None:
    """Its feed rows stay under its negated id until they age out: neither verify nor the check on
    open takes them for rows of a lost context."""
    manager = store_env.open()
    manager.create_context("gone", {"a": 1})
    manager.tracker("gone").update(Change(set={"a": 2}))
    manager.create_context("kept", {"b": 1})
    manager.delete_context("gone")
    with raw_db(manager.store) as conn:
        kinds = [kind for _id, kind in conn.execute("SELECT context_id, kind FROM feed WHERE context_id < 0")]
    assert "delete" in kinds
    assert manager.verify().ok, manager.verify().problems
    manager.close()
    reopened = store_env.open()
    try:
        assert reopened.recoveries == [] and reopened.verify().ok
    finally:
        reopened.close()


@pytest.mark.sqlite_only  # the SQLite file and what a salvage leaves beside it
def test_a_sound_store_of_every_table_is_never_salvaged(store_env: Any) -> None:
    """A store whose every table holds rows (sessions with their leases included) opens again as
    it was: the salvage's idea of the schema is the schema's own (a column it missed made every
    open set the file aside and salvage it)."""
    manager = store_env.open()
    manager.create_context("default")
    manager.tracker("default").update(Change(set={"k": "v"}))
    manager.tracker("default").create_snapshot("s")
    manager.register_session("s-editor", {"name": "editor"})
    manager.save_session_editor("s-editor", {"activeFile": None})
    manager.close()
    again = store_env.open()
    try:
        assert again.salvages == []
        assert again.tracker("default").get_state().data == {"k": "v"}
    finally:
        again.close()
    assert not [p.name for p in store_env.store_dir.rglob("*damaged*")]
