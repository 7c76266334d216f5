"""Damage done to the database file behind the library's back (with plain sqlite3): verify finds and
names every kind, and damage at a context's head is recovered on open (or on first read) to the newest
valid version, with the damaged rows set aside, not deleted."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from storetools import count_rows, data_of, dump_store, flip_byte, raw_db

from groundhog import ContextManager, RecoveryError, SnapshotNotFound, create_manager
from groundhog.changes import Change
from groundhog.errors import NoValidSnapshot
from groundhog.manager import ContextManager as Manager
from groundhog.reports import VerifyReport
from groundhog.store.common import StoreSettings
from groundhog.store.paths import StoreLocation
from groundhog.store.sqlite import SqliteStore
from groundhog.tracker import TrackerConfig

HEAD = 10  # "work" has versions 1..10, checkpoints at 1, 5 and 9 (every 4 versions)


class Scenario:
    """Two contexts with known versions, checkpoints and snapshots, closed and ready to damage."""

    def __init__(self, store_env: Any) -> None:
        self.env = store_env
        manager = self.open_small_checkpoints()
        manager.create_context("work", {"base": "b"}, {"owner": "me"})
        work = manager.tracker("work")
        self.data: dict[int, dict[str, Any]] = {1: {"base": "b"}}
        for version in range(2, HEAD + 1):
            work.update(Change(set={f"k{version}": version, "shared": [version]}))
            self.data[version] = data_of(work)
        assert work.version == HEAD
        manager.create_context("other", {"x": 0})
        other = manager.tracker("other")
        other.update(Change(set={"x": 1}))
        other.update(Change(set={"x": 2}))
        self.snap_a = work.create_snapshot("a", {"n": 1}).id  # of version 10
        self.snap_b = other.create_snapshot("b").id
        self.store = manager.store  # closed: raw_db reaches its rows past the library
        manager.close()
        with raw_db(self.store) as conn:
            self.work_id = conn.execute(
                "SELECT context_id FROM snapshots WHERE id = ?", (self.snap_a,)
            ).fetchone()[0]
            self.other_id = conn.execute(
                "SELECT context_id FROM snapshots WHERE id = ?", (self.snap_b,)
            ).fetchone()[0]
            checkpoints = conn.execute(
                "SELECT version FROM checkpoints WHERE context_id = ? ORDER BY version", (self.work_id,)
            ).fetchall()
        assert [c[0] for c in checkpoints] == [1, 5, 9]

    def open_small_checkpoints(self) -> ContextManager:
        location = StoreLocation.for_root(self.env.workspace, self.env.store_dir)
        settings = StoreSettings(checkpoint_every=4, config_dir=self.env.config_dir)
        manager = Manager(SqliteStore(location, settings), TrackerConfig())
        manager.check_on_open()
        return manager

    def open(self) -> ContextManager:
        return create_manager(
            self.env.workspace, store_dir=self.env.store_dir, config_dir=self.env.config_dir
        )

    def damage(self, action: Callable[[sqlite3.Connection], Any]) -> None:
        with raw_db(self.store) as conn:
            action(conn)

    def blob(self, conn: sqlite3.Connection, sql: str, *args: Any) -> bytes:
        found = conn.execute(sql, args).fetchone()
        assert found is not None, sql
        return bytes(found[0])

    def set_version_blob(
        self, column: str, context: int, version: int, value: bytes
    ) -> Callable[[Any], None]:
        def action(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"UPDATE versions SET {column} = ? WHERE context_id = ? AND version = ?",
                (value, context, version),
            )

        return action

    def version_blob(self, column: str, context: int, version: int) -> bytes:
        with raw_db(self.store) as conn:
            return self.blob(
                conn, f"SELECT {column} FROM versions WHERE context_id = ? AND version = ?", context, version
            )


@pytest.fixture
def scenario(store_env: Any) -> Scenario:
    return Scenario(store_env)


@pytest.fixture
def reopened(scenario: Scenario) -> Iterator[Callable[[], ContextManager]]:
    opened: list[ContextManager] = []

    def open_() -> ContextManager:
        manager = scenario.open()
        opened.append(manager)
        return manager

    yield open_
    for manager in opened:
        manager.close()


def problems_text(report: VerifyReport) -> str:
    return "\n".join(f"{p['where']}: {p['problem']} {p.get('reason', '')}".rstrip() for p in report.problems)


def assert_names(report: VerifyReport, *fragments: str) -> None:
    """verify failed and some problem names each fragment (the row at fault)."""
    assert not report.ok
    text = problems_text(report)
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not named in:\n{text}"


# -- the untouched store verifies ------------------------------------------------------------------


def test_untouched_store_verifies(scenario: Scenario, reopened: Callable[[], ContextManager]) -> None:
    manager = reopened()
    report = manager.verify()
    assert report.ok, problems_text(report)
    assert report.checked["versions"] == HEAD + 3
    assert manager.recoveries == []
    with raw_db(scenario.store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- damage in the middle: verify names it, nothing is "recovered" away ------------------------------


def test_flipped_byte_in_a_middle_delta(scenario: Scenario, reopened: Callable[[], ContextManager]) -> None:
    blob = scenario.version_blob("delta_blob", scenario.work_id, 3)
    scenario.damage(scenario.set_version_blob("delta_blob", scenario.work_id, 3, flip_byte(blob)))
    manager = reopened()
    assert manager.recoveries == [], "the head is intact: nothing to recover"
    report = manager.verify()
    assert_names(report, "context 'work' version 3")
    assert any("altered" in p["problem"] for p in report.problems)
    work = manager.tracker("work")
    assert data_of(work) == scenario.data[HEAD], "the head still rebuilds from its checkpoint"
    assert data_of(work, 2) == scenario.data[2]
    with pytest.raises(RecoveryError):
        work.read(4)  # rebuilt through the damaged delta
    assert manager.verify().problems == report.problems, "reading changed nothing"


def test_flipped_byte_in_a_middle_checkpoint(
    scenario: Scenario, reopened: Callable[[], ContextManager]
) -> None:
    def action(conn: sqlite3.Connection) -> None:
        blob = scenario.blob(
            conn, "SELECT blob FROM checkpoints WHERE context_id = ? AND version = 5", scenario.work_id
        )
        conn.execute(
            "UPDATE checkpoints SET blob = ? WHERE context_id = ? AND version = 5",
            (flip_byte(blob, 20), scenario.work_id),
        )

    scenario.damage(action)
    manager = reopened()
    assert manager.recoveries == []
    assert_names(manager.verify(), "context 'work' checkpoint 5")
    with pytest.raises(RecoveryError):
        manager.tracker("work").read(6)


@pytest.mark.parametrize("column", ["blob", "info_blob"])
def test_flipped_byte_in_a_snapshot(
    scenario: Scenario, reopened: Callable[[], ContextManager], column: str
) -> None:
    def action(conn: sqlite3.Connection) -> None:
        blob = scenario.blob(conn, f"SELECT {column} FROM snapshots WHERE id = ?", scenario.snap_a)
        conn.execute(
            f"UPDATE snapshots SET {column} = ? WHERE id = ?", (flip_byte(blob, 30), scenario.snap_a)
        )

    scenario.damage(action)
    manager = reopened()
    if column == "blob":  # its contents: found when it is restored, and named by verify
        assert manager.recoveries == []
        assert_names(manager.verify(), f"context 'work' snapshot {scenario.snap_a}")
        with pytest.raises(RecoveryError):
            manager.tracker("work").rollback(snapshot_id=scenario.snap_a)
    else:  # what listings show: set aside when the store opens, and said, never silently left out
        [report] = manager.recoveries
        assert (report.context, report.from_version, report.to_version) == ("work", HEAD, HEAD)
        assert scenario.snap_a in report.reason and "set aside" in report.reason
        assert scenario.snap_a not in [s.id for s in manager.tracker("work").snapshots()]
        assert_names(manager.verify(), "damaged row set aside")
        with pytest.raises(SnapshotNotFound):
            manager.tracker("work").rollback(snapshot_id=scenario.snap_a)
    assert manager.tracker("work").version == HEAD


def test_flipped_byte_in_a_keys_blob(scenario: Scenario, reopened: Callable[[], ContextManager]) -> None:
    blob = scenario.version_blob("keys_blob", scenario.work_id, 4)
    scenario.damage(scenario.set_version_blob("keys_blob", scenario.work_id, 4, flip_byte(blob)))
    assert_names(reopened().verify(), "context 'work' version 4")


def test_delta_moved_to_another_version(scenario: Scenario, reopened: Callable[[], ContextManager]) -> None:
    """Version 3's own (valid) ciphertext copied over version 4's: it must not open as version 4."""
    moved = scenario.version_blob("delta_blob", scenario.work_id, 3)
    scenario.damage(scenario.set_version_blob("delta_blob", scenario.work_id, 4, moved))
    report = reopened().verify()
    assert_names(report, "context 'work' version 4")
    assert not any("version 3" in p["where"] for p in report.problems), problems_text(report)


def test_delta_moved_to_another_context(scenario: Scenario, reopened: Callable[[], ContextManager]) -> None:
    """Same version number, same table, other context: the associated data differs."""
    moved = scenario.version_blob("delta_blob", scenario.other_id, 2)
    scenario.damage(scenario.set_version_blob("delta_blob", scenario.work_id, 2, moved))
    manager = reopened()
    assert manager.recoveries == []
    assert_names(manager.verify(), "context 'work' version 2")


def test_keys_blob_moved_between_versions(scenario: Scenario, reopened: Callable[[], ContextManager]) -> None:
    moved = scenario.version_blob("keys_blob", scenario.work_id, 6)
    scenario.damage(scenario.set_version_blob("keys_blob", scenario.work_id, 7, moved))
    assert_names(reopened().verify(), "context 'work' version 7")


def test_checkpoint_moved_to_another_version(
    scenario: Scenario, reopened: Callable[[], ContextManager]
) -> None:
    def action(conn: sqlite3.Connection) -> None:
        blob = scenario.blob(
            conn, "SELECT blob FROM checkpoints WHERE context_id = ? AND version = 1", scenario.work_id
        )
        conn.execute(
            "UPDATE checkpoints SET blob = ? WHERE context_id = ? AND version = 5", (blob, scenario.work_id)
        )

    scenario.damage(action)
    manager = reopened()
    assert_names(manager.verify(), "context 'work' checkpoint 5")
    with pytest.raises(RecoveryError):
        manager.tracker("work").read(5)


def test_snapshot_moved_to_another_snapshot(
    scenario: Scenario, reopened: Callable[[], ContextManager]
) -> None:
    def action(conn: sqlite3.Connection) -> None:
        a = scenario.blob(conn, "SELECT blob FROM snapshots WHERE id = ?", scenario.snap_a)
        b = scenario.blob(conn, "SELECT blob FROM snapshots WHERE id = ?", scenario.snap_b)
        conn.execute("UPDATE snapshots SET blob = ? WHERE id = ?", (b, scenario.snap_a))
        conn.execute("UPDATE snapshots SET blob = ? WHERE id = ?", (a, scenario.snap_b))

    scenario.damage(action)
    manager = reopened()
    assert_names(
        manager.verify(),
        f"context 'work' snapshot {scenario.snap_a}",
        f"context 'other' snapshot {scenario.snap_b}",
    )
    with pytest.raises(RecoveryError):
        manager.tracker("other").get_snapshot(scenario.snap_b)


def test_snapshot_row_moved_to_another_context(
    scenario: Scenario, reopened: Callable[[], ContextManager]
) -> None:
    scenario.damage(
        lambda conn: conn.execute(
            "UPDATE snapshots SET context_id = ? WHERE id = ?", (scenario.other_id, scenario.snap_a)
        )
    )
    manager = reopened()  # its sealed description names the other context: set aside on open
    assert [r.context for r in manager.recoveries] == ["other"]
    assert_names(manager.verify(), "damaged row set aside", scenario.snap_a)


def _snapshot_values(conn: sqlite3.Connection, context_id: int) -> list[tuple[int, bytes, bytes]]:
    rows = conn.execute(
        "SELECT id, digest, blob FROM snapshot_values WHERE context_id = ? ORDER BY id", (context_id,)
    ).fetchall()
    assert len(rows) >= 2
    return [(r[0], bytes(r[1]), bytes(r[2])) for r in rows]


def _flip_a_value(conn: sqlite3.Connection, context_id: int) -> None:
    value_id, _, blob = _snapshot_values(conn, context_id)[0]
    conn.execute("UPDATE snapshot_values SET blob = ? WHERE id = ?", (flip_byte(blob), value_id))


def _move_a_value(conn: sqlite3.Connection, context_id: int) -> None:
    """Another value's valid ciphertext over this one's: sealed with its own digest as associated
    data, it must not open as this value."""
    (a_id, _, _), (_, _, b_blob) = _snapshot_values(conn, context_id)[:2]
    conn.execute("UPDATE snapshot_values SET blob = ? WHERE id = ?", (b_blob, a_id))


def _delete_a_value(conn: sqlite3.Connection, context_id: int) -> None:
    conn.execute("DELETE FROM snapshot_values WHERE id = ?", (_snapshot_values(conn, context_id)[0][0],))


@pytest.mark.parametrize(
    "damage", [_flip_a_value, _move_a_value, _delete_a_value], ids=["flip", "move", "delete"]
)
def test_damaged_shared_snapshot_value(
    scenario: Scenario, reopened: Callable[[], ContextManager], damage: Callable[[Any, int], None]
) -> None:
    scenario.damage(lambda conn: damage(conn, scenario.work_id))
    manager = reopened()
    assert manager.recoveries == []  # the head never depends on snapshot values
    assert_names(manager.verify(), f"context 'work' snapshot {scenario.snap_a}")
    with pytest.raises(RecoveryError):
        manager.tracker("work").rollback(snapshot_id=scenario.snap_a)
    assert manager.tracker("work").version == HEAD


def test_deleted_middle_version(scenario: Scenario, reopened: Callable[[], ContextManager]) -> None:
    scenario.damage(
        lambda conn: conn.execute(
            "DELETE FROM versions WHERE context_id = ? AND version = 6", (scenario.work_id,)
        )
    )
    manager = reopened()
    assert manager.recoveries == []
    assert_names(manager.verify(), "version 6 is missing")
    work = manager.tracker("work")
    assert data_of(work) == scenario.data[HEAD]
    with pytest.raises(RecoveryError):
        work.read(7)


def test_deleted_first_version(scenario: Scenario, reopened: Callable[[], ContextManager]) -> None:
    scenario.damage(
        lambda conn: conn.execute(
            "DELETE FROM versions WHERE context_id = ? AND version = 1", (scenario.work_id,)
        )
    )
    assert_names(reopened().verify(), "context 'work'", "versions before 2 are missing")


def test_renamed_version(scenario: Scenario, reopened: Callable[[], ContextManager]) -> None:
    """A version row renumbered into a gap: its chain link and its ciphertexts both object."""

    def action(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM versions WHERE context_id = ? AND version = 6", (scenario.work_id,))
        conn.execute(
            "UPDATE versions SET version = 6 WHERE context_id = ? AND version = 7", (scenario.work_id,)
        )

    scenario.damage(action)
    assert_names(reopened().verify(), "context 'work' version 6")


def test_flipped_context_name(scenario: Scenario, reopened: Callable[[], ContextManager]) -> None:
    def action(conn: sqlite3.Connection) -> None:
        blob = scenario.blob(conn, "SELECT name_blob FROM contexts WHERE id = ?", scenario.other_id)
        conn.execute("UPDATE contexts SET name_blob = ? WHERE id = ?", (flip_byte(blob), scenario.other_id))

    scenario.damage(action)
    manager = reopened()
    assert_names(manager.verify(), f"context #{scenario.other_id}", "does not decrypt")
    assert data_of(manager.tracker("work")) == scenario.data[HEAD]


def test_flipped_audit_record(scenario: Scenario, reopened: Callable[[], ContextManager]) -> None:
    def action(conn: sqlite3.Connection) -> None:
        blob = scenario.blob(conn, "SELECT blob FROM audit WHERE seq = 3")
        conn.execute("UPDATE audit SET blob = ? WHERE seq = 3", (flip_byte(blob),))

    scenario.damage(action)
    assert_names(reopened().verify(), "audit record 3")


def test_deleted_audit_record(scenario: Scenario, reopened: Callable[[], ContextManager]) -> None:
    scenario.damage(lambda conn: conn.execute("DELETE FROM audit WHERE seq = 4"))
    assert_names(reopened().verify(), "audit record 4")


# -- damage at the head: recovered on open, set aside, reported until discarded ------------------------


def assert_recovered(
    scenario: Scenario,
    manager: ContextManager,
    *,
    damaged: int,
    restored: int,
    set_aside: int,
    chained: int | None = None,
) -> None:
    """The one recovery of "work": a `recover` version after the damaged head, equal to ``restored``
    and chained to the newest valid version ``chained`` (the same, unless the snapshot of a newer
    version restored more); ``set_aside`` rows kept in quarantine; verify reports them until they
    are discarded."""
    chained = restored if chained is None else chained
    [report] = manager.recoveries
    assert (report.context, report.from_version, report.to_version) == ("work", damaged, restored)
    assert (report.snapshot_id is not None) == (chained != restored)
    assert report.version == damaged + 1, "recovery appends; it never rewrites a version number"
    work = manager.tracker("work")
    head = work.read()
    assert head.version == damaged + 1
    assert data_of(work) == scenario.data[restored]
    entries, _ = work.history(limit=2)
    assert entries[0].kind == "recover"
    assert entries[1].version == chained
    assert count_rows(scenario.store, "quarantine") == set_aside
    before = manager.verify()
    assert_names(before, "damaged row set aside")
    assert all(p["problem"] == "damaged row set aside" for p in before.problems), problems_text(before)
    assert manager.verify().problems == before.problems, "verify alone discards nothing"
    discarded = manager.verify(discard_damaged=True)
    assert discarded.ok, problems_text(discarded)
    assert count_rows(scenario.store, "quarantine") == 0
    assert manager.verify().ok
    # The context goes on from the recovered head.
    result = work.update(Change(set={"after": True}))
    assert result.version == damaged + 2
    assert data_of(work) == {**scenario.data[restored], "after": True}
    assert manager.verify().ok
    with raw_db(scenario.store) as conn:
        events = [r[0] for r in conn.execute("SELECT event FROM audit WHERE event = 'recover'")]
    assert events == ["recover"]


def test_flipped_head_delta_is_recovered_on_open(
    scenario: Scenario, reopened: Callable[[], ContextManager]
) -> None:
    blob = scenario.version_blob("delta_blob", scenario.work_id, HEAD)
    scenario.damage(scenario.set_version_blob("delta_blob", scenario.work_id, HEAD, flip_byte(blob)))
    manager = reopened()
    assert_recovered(scenario, manager, damaged=HEAD, restored=HEAD, chained=HEAD - 1, set_aside=1)
    other = manager.tracker("other")
    assert data_of(other) == {"x": 2}, "other contexts are untouched"


def test_moved_head_delta_is_recovered_on_open(
    scenario: Scenario, reopened: Callable[[], ContextManager]
) -> None:
    moved = scenario.version_blob("delta_blob", scenario.work_id, HEAD - 2)
    scenario.damage(scenario.set_version_blob("delta_blob", scenario.work_id, HEAD, moved))
    assert_recovered(scenario, reopened(), damaged=HEAD, restored=HEAD, chained=HEAD - 1, set_aside=1)


def test_flipped_head_checkpoint_is_recovered_on_open(
    scenario: Scenario, reopened: Callable[[], ContextManager]
) -> None:
    """Head 9 is a checkpoint: the newest valid version is 8 (checkpoint 5 + deltas 6..8); version 9
    and its checkpoint are both set aside."""
    manager = reopened()
    manager.tracker("work").rollback(to_version=9)  # makes version 11 = data of 9 (not a checkpoint)
    manager.close()
    scenario.data[11] = scenario.data[9]

    def action(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM versions WHERE context_id = ? AND version > 9", (scenario.work_id,))
        conn.execute("DELETE FROM checkpoints WHERE context_id = ? AND version > 9", (scenario.work_id,))
        head_hash = scenario.blob(
            conn, "SELECT hash FROM versions WHERE context_id = ? AND version = 9", scenario.work_id
        )
        conn.execute(
            "UPDATE contexts SET head = 9, head_hash = ?, cp_version = 9, cp_bytes = 0 WHERE id = ?",
            (head_hash, scenario.work_id),
        )
        blob = scenario.blob(
            conn, "SELECT blob FROM checkpoints WHERE context_id = ? AND version = 9", scenario.work_id
        )
        conn.execute(
            "UPDATE checkpoints SET blob = ? WHERE context_id = ? AND version = 9",
            (flip_byte(blob), scenario.work_id),
        )

    scenario.damage(action)
    assert_recovered(scenario, reopened(), damaged=9, restored=HEAD, chained=8, set_aside=2)


def test_head_damage_is_recovered_on_first_read(
    scenario: Scenario, reopened: Callable[[], ContextManager]
) -> None:
    """Damage that appears while the store is open is found when a tracker first reads the context."""
    manager = reopened()
    assert manager.recoveries == []
    blob = scenario.version_blob("delta_blob", scenario.work_id, HEAD)
    scenario.damage(scenario.set_version_blob("delta_blob", scenario.work_id, HEAD, flip_byte(blob)))
    assert data_of(manager.tracker("work")) == scenario.data[HEAD], "the first read recovers (its snapshot)"
    assert_recovered(scenario, manager, damaged=HEAD, restored=HEAD, chained=HEAD - 1, set_aside=1)


def test_deleted_head_version_is_recovered(
    scenario: Scenario, reopened: Callable[[], ContextManager]
) -> None:
    """A missing head is recovered like a damaged one, and recorded as set aside (a placeholder row),
    so verify keeps reporting the loss until someone discards it."""
    scenario.damage(
        lambda conn: conn.execute(
            "DELETE FROM versions WHERE context_id = ? AND version = ?", (scenario.work_id, HEAD)
        )
    )
    manager = reopened()
    assert_recovered(scenario, manager, damaged=HEAD, restored=HEAD, chained=HEAD - 1, set_aside=1)


def test_single_version_context_recovers_from_its_snapshot(
    scenario: Scenario, reopened: Callable[[], ContextManager]
) -> None:
    manager = reopened()
    manager.create_context("solo", {"only": 1})
    solo_snapshot = manager.tracker("solo").create_snapshot("keep").id
    manager.close()

    def action(conn: sqlite3.Connection) -> None:
        solo = conn.execute("SELECT context_id FROM snapshots WHERE id = ?", (solo_snapshot,)).fetchone()[0]
        blob = scenario.blob(conn, "SELECT blob FROM checkpoints WHERE context_id = ?", solo)
        conn.execute("UPDATE checkpoints SET blob = ? WHERE context_id = ?", (flip_byte(blob), solo))

    scenario.damage(action)
    manager = reopened()
    [report] = manager.recoveries
    assert (report.context, report.from_version, report.snapshot_id, report.version) == (
        "solo",
        1,
        solo_snapshot,
        2,
    )
    assert data_of(manager.tracker("solo")) == {"only": 1}
    assert_names(manager.verify(), "damaged row set aside")
    assert manager.verify(discard_damaged=True).ok


def test_unrecoverable_context_does_not_block_the_store(
    scenario: Scenario, reopened: Callable[[], ContextManager]
) -> None:
    """A context with no valid version or snapshot left answers RecoveryError (NoValidSnapshot) on its
    own reads; the store still opens and every other context still works."""
    manager = reopened()
    manager.create_context("solo", {"only": 1})
    manager.close()

    def action(conn: sqlite3.Connection) -> None:
        blob = scenario.blob(conn, "SELECT blob FROM checkpoints WHERE version = 1 ORDER BY context_id DESC")
        conn.execute("UPDATE checkpoints SET blob = ? WHERE blob = ?", (flip_byte(blob), blob))

    scenario.damage(action)
    manager = reopened()
    assert manager.recoveries == []
    with pytest.raises(NoValidSnapshot) as caught:
        manager.tracker("solo").read()
    assert caught.value.details["reason"] == "NoValidSnapshot"
    assert data_of(manager.tracker("work")) == scenario.data[HEAD]
    assert_names(manager.verify(), "context 'solo'")


@pytest.mark.sqlite_only  # the SQLite file itself
def test_sqlite_integrity_failure_is_reported(scenario: Scenario, tmp_path: Path) -> None:
    """A file damaged below SQLite's own level is a PersistenceError or a failed verify, never a crash
    with a traceback of sqlite3 internals."""
    from groundhog import ContextError

    path = scenario.store.path
    data = bytearray(path.read_bytes())
    assert not Path(str(path) + "-wal").exists() or Path(str(path) + "-wal").stat().st_size == 0
    page = 4096
    assert len(data) > 4 * page
    data[2 * page :] = b"\xde\xad\xbe\xef" * ((len(data) - 2 * page) // 4)  # every page after the second
    path.write_bytes(bytes(data))
    try:
        manager = scenario.open()
    except ContextError:
        return
    try:
        assert not manager.verify().ok
    except ContextError:
        pass
    finally:
        manager.close()


def test_read_only_session_does_not_recover(scenario: Scenario) -> None:
    """Read-only sessions persist no state (decision 15), not even a recovery: the damaged head answers
    RecoveryError there (and only the audit log records the failure); the next writable session
    recovers it."""
    blob = scenario.version_blob("delta_blob", scenario.work_id, HEAD)
    scenario.damage(scenario.set_version_blob("delta_blob", scenario.work_id, HEAD, flip_byte(blob)))
    before = dump_store(scenario.store, exclude=("audit",))
    env = scenario.env
    read_only = create_manager(
        env.workspace, store_dir=env.store_dir, config_dir=env.config_dir, read_only=True
    )
    assert read_only.recoveries == []
    with pytest.raises(RecoveryError):
        read_only.tracker("work").read()
    with pytest.raises(RecoveryError):
        read_only.tracker("work").rollback(to_version=3, dry_run=True)
    assert data_of(read_only.tracker("other")) == {"x": 2}
    assert read_only.recoveries == []
    read_only.close()
    assert dump_store(scenario.store, exclude=("audit",)) == before, "the read-only session wrote no state"
    writable = scenario.open()
    assert_recovered(scenario, writable, damaged=HEAD, restored=HEAD, chained=HEAD - 1, set_aside=1)
    writable.close()


def test_a_read_stopped_by_damage_leaves_no_lock_behind(
    scenario: Scenario, reopened: Callable[[], ContextManager]
) -> None:
    """A history read meets a damaged row half-way (RecoveryError); the rows it had started to read
    must not keep an old snapshot open on the connection: after another writer's commit, the next
    write of the same tracker went "database is locked" every time."""
    blob = scenario.version_blob("keys_blob", scenario.work_id, 4)
    scenario.damage(scenario.set_version_blob("keys_blob", scenario.work_id, 4, flip_byte(blob)))
    manager, other = reopened(), reopened()
    work = manager.tracker("work")
    with pytest.raises(RecoveryError) as caught:  # held, as a server answering it holds it a while
        work.history(limit=100)
    other.tracker("other").update(Change(set={"x": 3}))  # a commit in between
    assert work.update(Change(set={"after": 1})).version == HEAD + 1
    assert caught.value.kind == "RecoveryError"
