"""The tracker's library API beyond updates: threads, subscribers, validators, history paging, diff,
snapshots, context copies, delete and re-create."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from storetools import data_of, dump_store

from groundhog import (
    ContextError,
    ContextManager,
    ContextNotFound,
    ContextState,
    InvalidParams,
    SnapshotNotFound,
    create_adapter,
)
from groundhog.changes import Change
from groundhog.manager import Source


def test_threads_share_one_tracker_and_many(manager: ContextManager) -> None:
    manager.create_context("work")
    shared = manager.tracker("work")
    errors: list[BaseException] = []
    per_thread = 40

    def writer(number: int) -> None:
        own = manager.tracker("work", session=f"s-{number}") if number % 2 else shared
        try:
            for step in range(per_thread):
                own.update(Change(set={f"t{number}": step, f"t{number}-{step}": True}))
                if step % 10 == 0:
                    own.read()
                    own.history(limit=5)
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    total = 1 + 6 * per_thread
    assert shared.version == total
    entries, _ = shared.history(limit=1000)
    assert [e.version for e in entries] == list(range(total, 0, -1))
    data = data_of(shared)
    for number in range(6):
        assert data[f"t{number}"] == per_thread - 1
        assert all(data[f"t{number}-{step}"] for step in range(per_thread))
    assert len(data) == 6 * (per_thread + 1)
    assert manager.verify().ok


class Recorder:
    def __init__(self) -> None:
        self.changes: list[tuple[int, int, dict[str, Any]]] = []
        self.errors: list[str] = []

    def on_state_change(self, old_state: ContextState, new_state: ContextState) -> None:
        self.changes.append((old_state.version, new_state.version, new_state.data))
        new_state.data["mutated"] = True  # a subscriber's copy: must not reach the store

    def on_error(self, error: ContextError) -> None:
        self.errors.append(error.kind)


class Broken:
    def on_state_change(self, old_state: ContextState, new_state: ContextState) -> None:
        raise RuntimeError("broken subscriber")

    def on_error(self, error: ContextError) -> None:
        raise RuntimeError("broken subscriber")


def test_subscribers(manager: ContextManager) -> None:
    manager.create_context("work")
    tracker = manager.tracker("work")
    broken, recorder = Broken(), Recorder()
    tracker.subscribe(broken)
    unsubscribe = tracker.subscribe(recorder)
    tracker.update(Change(set={"a": 1}))
    tracker.update(Change(set={"a": 1}))  # nothing changes: nobody is told
    with pytest.raises(InvalidParams):
        tracker.update(Change(patch=[{"op": "remove", "path": "/missing"}]))
    tracker.rollback(to_version=1)
    assert recorder.changes == [(1, 2, {"a": 1, "mutated": True}), (2, 3, {"mutated": True})]
    assert recorder.errors == ["InvalidParams"]
    assert data_of(tracker) == {}
    unsubscribe()
    tracker.update(Change(set={"b": 1}))
    assert len(recorder.changes) == 2


def test_validators_reject_before_anything_is_written(manager: ContextManager, store_env: Any) -> None:
    manager.create_context("work", {"count": 0})
    tracker = manager.tracker("work")
    seen: list[dict[str, Any]] = []

    def no_negative(state: ContextState) -> None:
        seen.append(state.data)
        state.data["sneaky"] = 1  # a copy: never stored
        if state.get("count", 0) < 0:
            raise ValueError("count must not be negative")

    tracker.add_validator(no_negative)
    tracker.update(Change(set={"count": 2}))
    before = dump_store(manager.store)
    with pytest.raises(InvalidParams) as caught:
        tracker.update(Change(set={"count": -1}))
    assert "count must not be negative" in caught.value.message
    assert dump_store(manager.store) == before
    assert data_of(tracker) == {"count": 2}
    assert seen[0] == {"count": 2, "sneaky": 1}


def test_history_paging_and_diff(manager: ContextManager) -> None:
    manager.create_context("work", {"keep": 1, "drop": 1})
    tracker = manager.tracker("work")
    for number in range(2, 8):
        tracker.update(Change(set={"n": number}))
    tracker.update(Change(remove=["drop"], set={"new": [1]}))
    entries, oldest = tracker.history(limit=3)
    assert [e.version for e in entries] == [8, 7, 6] and oldest == 1
    entries, _ = tracker.history(limit=3, before=6)
    assert [e.version for e in entries] == [5, 4, 3]
    assert entries[0].changed_keys == ["n"]
    assert [e.kind for e in tracker.history(limit=100)[0]][-1] == "create"
    assert tracker.diff(7) == (
        7,
        8,
        [{"op": "remove", "path": "/drop"}, {"op": "add", "path": "/new", "value": [1]}],
    )
    assert tracker.diff(8, 1)[2] == [
        {"op": "add", "path": "/drop", "value": 1},
        {"op": "remove", "path": "/n"},
        {"op": "remove", "path": "/new"},
    ]
    assert tracker.diff(5, 5)[2] == []


def test_snapshots_and_copies(manager: ContextManager) -> None:
    manager.create_context("work", {"a": 1}, {"owner": "me"})
    tracker = manager.tracker("work")
    tracker.save_editor({"activeUri": "file:///a.py", "openDocuments": [], "selections": []})
    first = tracker.create_snapshot("first", {"why": "test"})
    tracker.update(Change(set={"a": 2}))
    point = tracker.create_recovery_point()
    assert first.state.data == {"a": 1} and first.label == "first" and first.metadata == {"why": "test"}
    assert first.editor == {"activeUri": "file:///a.py", "openDocuments": [], "selections": []}
    assert point.metadata == {"kind": "recoveryPoint"} and point.state.version == 2
    listed = tracker.snapshots()
    assert [s.id for s in listed] == [point.id, first.id], "newest first"
    assert listed[1].size == len(b'{"a":1}')

    manager.create_context("copy", source=Source("work", snapshot_id=first.id), metadata={"extra": 1})
    assert manager.load_state("copy").data == {"a": 1}
    assert manager.load_state("copy").metadata == {"owner": "me", "extra": 1}
    manager.create_context("copy2", source=Source("work", version=1))
    assert manager.load_state("copy2").data == {"a": 1}
    manager.create_context("copy3", source=Source("work"))
    assert manager.load_state("copy3").data == {"a": 2}
    with pytest.raises(SnapshotNotFound):
        manager.tracker("copy").get_snapshot(first.id)


def test_delete_and_create_again_starts_over(manager: ContextManager) -> None:
    manager.create_context("work", {"a": 1})
    tracker = manager.tracker("work")
    tracker.update(Change(set={"a": 2}))
    snapshot = tracker.create_snapshot("s").id
    manager.delete_context("work")
    with pytest.raises(ContextNotFound):
        tracker.read()
    manager.create_context("work", {"b": 1})
    assert tracker.version == 1, "the old tracker follows the new context of that name"
    assert data_of(tracker) == {"b": 1}
    with pytest.raises(SnapshotNotFound):
        tracker.rollback(snapshot_id=snapshot)
    entries, _ = tracker.history()
    assert [(e.version, e.kind) for e in entries] == [(1, "create")]
    assert manager.verify().ok


def test_adapter_sessions(manager: ContextManager) -> None:
    first = create_adapter(manager, client={"name": "one"})
    assert first.initialize_sync() is not None
    first.switch_context_sync("feature/x", create=True)
    assert manager.list_contexts()[1].sessions == 1
    first.close()
    second = create_adapter(manager)
    assert second.initialize_sync() is not None
    assert second.active_name == "feature/x", "the last switch wins for the next session"
    assert second.deactivate() == "feature/x"
    assert second.active_name is None
    second.close()
