"""The workspace's storage budget: past it, the oldest history goes first, then the oldest recovery
points; a user's snapshot and a head are never touched; a workspace that still does not fit says so
(status, log, audit) and keeps accepting writes."""

from __future__ import annotations

import pytest
from tests.conftest import StoreEnv

from groundhog import ContextManager, TrackerConfig
from groundhog.changes import Change
from groundhog.manager import ContextManager as Manager
from groundhog.store.common import StoreSettings
from groundhog.store.paths import StoreLocation
from groundhog.store.sqlite import SqliteStore


def _open(env: StoreEnv, budget: int) -> ContextManager:
    location = StoreLocation.for_root(env.workspace, env.store_dir)
    settings = StoreSettings(config_dir=env.config_dir, budget_bytes=budget, checkpoint_every=20)
    manager = Manager(SqliteStore(location, settings), TrackerConfig(snapshot_max_bytes=1 << 24))
    manager.check_on_open()
    manager.record_budget(budget)
    return manager


def test_past_the_budget_history_then_recovery_points_go_never_snapshots_or_heads(
    store_env: StoreEnv,
) -> None:
    budget = 3_000_000
    manager = _open(store_env, budget)
    manager.create_context("c")
    tracker = manager.tracker("c")
    mine = tracker.create_snapshot("mine")
    expected = ""
    for n in range(120):  # ~60 KB rewritten each time: history alone would be ~7 MB
        tracker.update(Change(set={"big": f"{n}" * 30_000}))
        expected, before = f"{n}" * 30_000, expected
        if n % 10 == 9:
            tracker.rollback(to_version=tracker.read().version - 1)
            expected = before
    storage = manager.storage()
    assert storage.used_bytes <= budget * 1.1, storage  # within a checkpoint of it
    assert not storage.over_budget
    assert manager.tracker("c").get_state().data == {"big": expected}  # the head is intact
    assert tracker.get_snapshot(mine.id).state.data == {}  # the user's snapshot is intact
    oldest = tracker.history(1)[1]
    assert oldest > 1  # history was folded to fit
    assert manager.verify().ok
    manager.close()


def test_a_workspace_that_cannot_fit_says_so_and_keeps_accepting_writes(store_env: StoreEnv) -> None:
    budget = 1 << 20
    manager = _open(store_env, budget)
    manager.create_context("c")
    tracker = manager.tracker("c")
    for n in range(3):  # user snapshots of 600 KB states: more than the budget, and never pruned
        tracker.update(Change(set={"big": f"{n}" * 600_000}))
        tracker.create_snapshot(f"keep {n}")
    tracker.update(Change(set={"small": 1}))  # writes still succeed
    storage = manager.storage()
    assert storage.over_budget and storage.used_bytes > budget
    events = [r["event"] for r in manager.audit_records(100)]
    assert events.count("over-budget") == 1  # said once, not on every write
    assert len(tracker.snapshots()) == 3
    manager.close()


def test_a_process_on_the_default_budget_does_not_replace_a_chosen_one(store_env: StoreEnv) -> None:
    chosen = store_env.open(store_budget_bytes=2 << 30)
    chosen.close()
    hook = store_env.open()  # a hook or an agent not told the editor's budget
    try:
        assert hook.storage().budget_bytes == 2 << 30
    finally:
        hook.close()
    smaller = store_env.open(store_budget_bytes=1 << 29)
    try:
        assert smaller.storage().budget_bytes == 1 << 29  # a chosen budget replaces another
    finally:
        smaller.close()


@pytest.mark.sqlite_only  # the SQLite store's own settings (synchronous NORMAL: a quicker build)
def test_the_audit_log_counts_in_the_budget_and_goes_last_down_to_its_newest_records(
    store_env: StoreEnv,
) -> None:
    """A workspace of small updates grows by its audit log alone (one record each): past the budget,
    once history and recovery points are gone, the oldest audit records go too, in halves, never the
    newest 1,000, the kept chain anchored, and the trim is itself recorded. status shows the log."""
    location = StoreLocation.for_root(store_env.workspace, store_env.store_dir)

    def opened(budget: int) -> Manager:
        settings = StoreSettings(
            config_dir=store_env.config_dir, budget_bytes=budget, synchronous="NORMAL", history_limit=5
        )
        manager = Manager(SqliteStore(location, settings))
        manager.record_budget(budget)
        return manager

    roomy = opened(1 << 30)
    roomy.create_context("c")
    tracker = roomy.tracker("c")
    for n in range(7_000):  # ~7,000 audit records of ~200 bytes: about 1.4 MB of log
        tracker.update(Change(set={"n": n}))
    roomy.close()
    manager = opened(budget := 1 << 20)
    before = manager.storage()
    assert before.audit_records > 7_000 and before.audit_bytes > budget
    manager.tracker("c").update(Change(set={"big": "x" * 100_000}))  # a checkpoint: the budget pass
    after = manager.storage()
    assert 1_000 <= after.audit_records < before.audit_records
    assert after.audit_bytes < before.audit_bytes and after.used_bytes <= budget
    assert not after.over_budget
    assert any(r["event"] == "audit-trimmed" for r in manager.audit_records(10))
    assert manager.verify().ok  # the kept chain is anchored where it was cut
    manager.close()
