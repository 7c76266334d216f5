"""Update semantics with a base version (PROTOCOL.md context/update and decisions 6-10): merge of
disjoint keys, conflicts with their details, fail, overwrite, the nothing-changes rule, rollback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from storetools import data_of

from groundhog import ContextManager, ContextState, ContextTracker, VersionConflict
from groundhog.changes import Change


@pytest.fixture
def work(manager: ContextManager) -> Iterator[ContextTracker]:
    """Version 1 {a, b, c}; version 2 changes a; version 3 changes b; version 4 metadata only."""
    manager.create_context("work", {"a": 0, "b": 0, "c": 0})
    tracker = manager.tracker("work")
    tracker.update(Change(set={"a": 1}))
    tracker.update(Change(set={"b": 1}))
    tracker.update(Change(metadata={"note": "x"}))
    assert tracker.version == 4
    yield tracker


def kinds(tracker: ContextTracker) -> list[tuple[int, str, list[str]]]:
    entries, _ = tracker.history(limit=100)
    return [(e.version, e.kind, e.changed_keys) for e in entries]


def conflict(
    tracker: ContextTracker, change: Change, base: int, on_conflict: Any = "merge"
) -> dict[str, Any]:
    before = kinds(tracker)
    with pytest.raises(VersionConflict) as caught:
        tracker.update(change, base_version=base, on_conflict=on_conflict)
    assert kinds(tracker) == before, "a conflict makes no version"
    return caught.value.details


def test_disjoint_keys_merge(work: ContextTracker) -> None:
    result = work.update(Change(set={"c": 5, "d": 1}), base_version=1)
    assert (result.version, result.merged, result.kind, result.changed_keys) == (5, True, "merge", ["c", "d"])
    assert data_of(work) == {"a": 1, "b": 1, "c": 5, "d": 1}
    assert kinds(work)[0] == (5, "merge", ["c", "d"])
    assert work.read().metadata == {"note": "x"}, "the merge applies to the head, not to the base"


def test_overlapping_keys_conflict(work: ContextTracker) -> None:
    assert conflict(work, Change(set={"a": 9, "c": 9}), base=1) == {
        "currentVersion": 4,
        "conflictingKeys": ["a"],
    }
    assert conflict(work, Change(remove=["b"]), base=2) == {"currentVersion": 4, "conflictingKeys": ["b"]}
    assert conflict(work, Change(set={"a": 9, "b": 9}), base=1) == {
        "currentVersion": 4,
        "conflictingKeys": ["a", "b"],
    }


def test_base_after_the_change_merges(work: ContextTracker) -> None:
    """Only versions after the base count: a changed at 2, so base 2 may change a."""
    result = work.update(Change(set={"a": 7}), base_version=2)
    assert result.merged and result.version == 5


def test_metadata_only_versions_never_conflict(work: ContextTracker) -> None:
    result = work.update(Change(set={"b": 5}), base_version=3)
    assert result.merged
    assert data_of(work)["b"] == 5


def test_metadata_is_shallow_merged_and_versioned(work: ContextTracker) -> None:
    result = work.update(Change(metadata={"other": [1]}))
    assert (result.version, result.changed_keys) == (5, [])
    assert work.read().metadata == {"note": "x", "other": [1]}
    assert work.read(4).metadata == {"note": "x"}
    assert work.update(Change(metadata={"note": "x"})).kind is None, "same metadata: nothing changes"


def test_fail_answers_a_conflict_even_when_disjoint(work: ContextTracker) -> None:
    assert conflict(work, Change(set={"c": 1}), base=1, on_conflict="fail") == {
        "currentVersion": 4,
        "conflictingKeys": [],
    }
    assert conflict(work, Change(set={"a": 1, "c": 1}), base=1, on_conflict="fail") == {
        "currentVersion": 4,
        "conflictingKeys": ["a"],
    }
    assert work.update(Change(set={"c": 3}), base_version=4, on_conflict="fail").version == 5


def test_overwrite_applies_to_the_head(work: ContextTracker) -> None:
    result = work.update(Change(set={"a": 42}), base_version=1, on_conflict="overwrite")
    assert (result.version, result.merged, result.kind) == (5, False, "update")
    assert data_of(work)["a"] == 42


def test_base_above_the_head_is_a_conflict(work: ContextTracker) -> None:
    for mode in ("merge", "fail", "overwrite"):
        assert conflict(work, Change(set={"z": 1}), base=5, on_conflict=mode) == {
            "currentVersion": 4,
            "conflictingKeys": [],
        }


def test_base_older_than_the_kept_history(manager: ContextManager, store_env: Any) -> None:
    manager.close()
    small = store_env.open(history_limit=3)
    small.create_context("work", {"a": 0})
    tracker = small.tracker("work")
    for number in range(1, 6):
        tracker.update(Change(set={"a": number}))
    assert tracker.history()[1] == 4
    assert conflict(tracker, Change(set={"q": 1, "r": 2}), base=2) == {
        "currentVersion": 6,
        "conflictingKeys": ["q", "r"],
    }
    patch = Change(
        patch=[{"op": "add", "path": "/q", "value": 1}, {"op": "move", "from": "/a", "path": "/m"}]
    )
    assert conflict(tracker, patch, base=1)["conflictingKeys"] == ["a", "m", "q"]
    assert tracker.update(Change(set={"q": 1}), base_version=4).merged
    small.close()


def test_patch_keys_count_for_merge(work: ContextTracker) -> None:
    ops = [{"op": "add", "path": "/c", "value": [1]}, {"op": "copy", "from": "/c", "path": "/e"}]
    assert work.update(Change(patch=ops), base_version=1).merged
    assert conflict(work, Change(patch=[{"op": "move", "from": "/a", "path": "/f"}]), base=1)[
        "conflictingKeys"
    ] == ["a"]
    # A path of "" touches every key: it conflicts with everything changed since the base.
    whole = Change(patch=[{"op": "replace", "path": "", "value": {"only": 1}}])
    assert conflict(work, whole, base=1)["conflictingKeys"] == ["a", "b", "c", "e"]
    assert work.update(whole, base_version=work.version).version == 6
    assert data_of(work) == {"only": 1}


def test_failed_patch_test_is_a_conflict_naming_the_key(work: ContextTracker) -> None:
    details = conflict(work, Change(patch=[{"op": "test", "path": "/a", "value": 0}]), base=4)
    assert details["conflictingKeys"] == ["a"]
    assert work.update(Change(patch=[{"op": "test", "path": "/a", "value": 1}])).kind is None


def test_nothing_changes_rule(work: ContextTracker) -> None:
    head = work.version
    for change in (
        Change(set={"a": 1}),
        Change(set={"a": 1.0}),
        Change(remove=["missing"]),
        Change(set={}),
        Change(),
        Change(patch=[]),
        Change(patch=[{"op": "copy", "from": "/a", "path": "/a"}]),
        Change(metadata={}),
        Change(metadata={"note": "x"}),
    ):
        result = work.update(change)
        assert (result.version, result.kind, result.changed_keys, result.merged) == (head, None, [], False)
    result = work.update(Change(set={"c": 0}), base_version=1)  # stale but nothing changes
    assert (result.version, result.kind) == (head, None)
    assert work.rollback(to_version=head).recovery_point is None
    assert work.version == head
    assert work.update(Change(set={"a": True})).version == head + 1, "true is not 1"


def test_update_state_merge(work: ContextTracker) -> None:
    stale = work.get_state()
    work.update(Change(set={"a": 2}))
    stale.set("c", 3)
    with pytest.raises(VersionConflict):
        work.update_state(stale)
    merged = work.update_state(stale, merge=True)
    assert merged.version == 6
    assert merged.data == {"a": 2, "b": 1, "c": 3}
    conflicting = ContextState(version=4, data=data_of(work, 4), metadata=work.read(4).metadata)
    conflicting.set("a", 5)
    with pytest.raises(VersionConflict) as caught:
        work.update_state(conflicting, merge=True)
    assert caught.value.details["conflictingKeys"] == ["a"]


def test_rollback_to_a_version_and_to_a_snapshot(work: ContextTracker) -> None:
    snapshot = work.create_snapshot("before")
    work.update(Change(set={"a": 100}, remove=["c"]))
    dry = work.rollback(to_version=2, dry_run=True)
    assert (dry.version, dry.recovery_point, sorted(dry.changed_keys)) == (5, None, ["a", "b", "c"])
    assert work.version == 5

    result = work.rollback(to_version=2)
    assert (result.version, result.restored_from, sorted(result.changed_keys)) == (
        6,
        {"version": 2},
        ["a", "b", "c"],
    )
    assert data_of(work) == data_of(work, 2)
    assert work.read().metadata == {}, "metadata is restored with the data"
    point = work.get_snapshot(result.recovery_point or "")
    assert point.label == "recovery point" and point.metadata == {"kind": "recoveryPoint"}
    assert (point.version, point.state.data) == (5, data_of(work, 5))

    result = work.rollback(snapshot_id=snapshot.id)
    assert result.restored_from == {"snapshotId": snapshot.id}
    assert data_of(work) == data_of(work, 4)
    assert [k for _, k, _ in kinds(work)[:3]] == ["restore", "rollback", "update"]
    # A rollback is a change like any other for merges: its keys conflict.
    assert conflict(work, Change(set={"a": 0}), base=5)["conflictingKeys"] == ["a"]
    assert work.update(Change(set={"a": 0}), base_version=6).merged, "the restore changed only b"
