"""Nothing grows without bound: the change feed keeps what lagging readers can still need, the audit
log keeps its newest records with the kept chain still verifiable (anchored, not just cut), rows of
sessions whose process died are removed, and each context keeps a bounded number of recovery points
(user snapshots are never pruned) without leaving their values behind."""

from __future__ import annotations

from tests.conftest import StoreEnv
from tests.unit.storetools import raw_db

from groundhog import ContextManager, TrackerConfig
from groundhog.changes import Change
from groundhog.manager import ContextManager as Manager
from groundhog.store.common import StoreSettings
from groundhog.store.paths import StoreLocation
from groundhog.store.sqlite import SqliteStore


def _open(env: StoreEnv, **settings: int) -> ContextManager:
    location = StoreLocation.for_root(env.workspace, env.store_dir)
    manager = Manager(
        SqliteStore(location, StoreSettings(config_dir=env.config_dir, **settings)), TrackerConfig()
    )
    manager.check_on_open()
    return manager


def _count(manager: ContextManager, table: str, where: str = "1") -> int:
    with raw_db(manager.store) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])


def test_the_change_feed_keeps_only_what_lagging_readers_can_need(store_env: StoreEnv) -> None:
    manager = _open(store_env, feed_keep=50, history_limit=10)
    manager.create_context("c")
    tracker = manager.tracker("c")
    for n in range(400):
        tracker.update(Change(set={"n": n}))
    # was one row per version, forever; now the newest 50 (+ a tenth between passes) and the rows
    # whose version is still kept (young, so a held-up reader can use them: test_feed_retention.py)
    assert _count(manager, "feed") <= 55 + _count(manager, "versions")
    assert _count(manager, "versions") <= 1000
    manager.close()


def test_the_audit_log_keeps_its_newest_records_and_stays_verifiable(store_env: StoreEnv) -> None:
    manager = _open(store_env, audit_keep=40)
    manager.create_context("c")
    tracker = manager.tracker("c")
    for n in range(200):
        tracker.update(Change(set={"n": n}))
    assert _count(manager, "audit") <= 44
    records = manager.audit_records(100)
    assert records[0]["details"]["version"] == 201  # the newest are the ones kept
    assert manager.verify().ok  # the kept part chains to its sealed anchor
    with raw_db(manager.store) as conn:  # now remove the oldest kept record as well
        conn.execute("DELETE FROM audit WHERE seq = (SELECT min(seq) FROM audit)")
    problems = [p["where"] for p in manager.verify().problems]
    assert any(where.startswith("audit record") for where in problems), problems
    manager.close()


def test_rows_of_sessions_whose_process_died_are_removed(store_env: StoreEnv) -> None:
    manager = _open(store_env)
    manager.create_context("c")
    with manager.store.write() as tx:
        for n in range(5):
            sid = f"s-dead{n}"
            blob = tx.cipher.seal_json({"name": "killed editor"}, "sessions", sid)
            tx.conn.execute(
                "INSERT INTO sessions(id, pid, started, active_mac, client_blob) VALUES (?, ?, ?, NULL, ?)",
                (sid, 2**22 + 1000 + n, "2026-01-01T00:00:00.000Z", blob),
            )
    assert _count(manager, "sessions") == 5
    manager.register_session("s-new", {"name": "code", "kind": "lsp"})
    assert _count(manager, "sessions") == 1
    manager.close()


def test_each_context_keeps_a_bounded_number_of_recovery_points_and_no_orphan_values(
    store_env: StoreEnv,
) -> None:
    manager = _open(store_env, recovery_points_keep=3)
    manager.create_context("c")
    tracker = manager.tracker("c")
    mine = tracker.create_snapshot("mine")  # a user snapshot: never pruned
    for n in range(12):
        tracker.update(Change(set={f"k{n}": "v" * 2000 + str(n)}))
        tracker.rollback(to_version=tracker.read().version - 1)  # records a recovery point each time
    kinds = sorted(s.kind for s in tracker.snapshots())
    assert kinds == ["recoveryPoint"] * 3 + ["snapshot"]
    assert tracker.get_snapshot(mine.id).state.data == {}
    points = [s for s in tracker.snapshots() if s.kind == "recoveryPoint"]
    for point in points:  # the kept ones still restore
        assert tracker.get_snapshot(point.id).state.data
    assert _count(manager, "snapshot_values") <= 3 * 1 + 2  # only what the kept snapshots refer to
    assert manager.verify().ok
    manager.close()


def test_values_dropped_by_one_process_are_not_trusted_by_another(store_env: StoreEnv) -> None:
    first = _open(store_env, recovery_points_keep=1)
    second = _open(store_env, recovery_points_keep=1)
    first.create_context("c")
    a, b = first.tracker("c"), second.tracker("c")
    a.update(Change(set={"big": "x" * 3000}))  # v2
    b.update(Change(set={"big": "y" * 3000}))  # v3
    b.rollback(to_version=2)  # b stores 'y' in a recovery point, and remembers it stored
    a.update(Change(set={"big": "z" * 3000}))
    a.rollback(to_version=4)  # a's recovery point replaces b's: 'y' is referenced no more, dropped
    b.update(Change(set={"big": "y" * 3000}))
    snap = b.create_snapshot("needs 'y' stored again")  # b must not trust its memory of it
    assert first.tracker("c").get_snapshot(snap.id).state.data == {"big": "y" * 3000}
    assert first.verify().ok
    first.close()
    second.close()
