"""Deleting a snapshot (deletions.py, store/snapshot_deletion.py): the snapshots whose manifests
build on it are re-based and still read back byte-identical, the values nothing refers to any more
are reclaimed, recovery points are the retention's (refused), unknown ids are SnapshotNotFound, a
read-only session is refused, everything is audited; and any sequence of snapshots, updates,
deletions, rollbacks and reopenings leaves every remaining snapshot reading back what it captured,
with ``verify`` clean."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import StoreEnv

from groundhog import AccessDenied, ContextManager, InvalidState, SnapshotNotFound
from groundhog.changes import Change
from groundhog.store.codec import Payload
from groundhog.store.snapshot_deletion import compose

STATE = {f"src/file_{i:03d}.py": f"summary {i} " + "s" * 200 for i in range(100)}


def _payload(manager: ContextManager, name: str, snapshot_id: str) -> Payload:
    with manager.store.read() as tx:
        row = tx.find_context(name)
        assert row is not None
        return tx._payload(row, snapshot_id)


def _values_stored_and_referenced(manager: ContextManager, name: str) -> tuple[int, int]:
    """(value rows the context stores, distinct values its rows' manifests name): equal after a
    deletion, whose sweep drops every value no row refers to."""
    with manager.store.read() as tx:
        row = tx.find_context(name)
        assert row is not None
        stored = tx.conn.execute("SELECT count(*) FROM snapshot_values WHERE context_id = ?", (row.id,))
        named: set[bytes] = set()
        for (sid,) in tx.conn.execute("SELECT id FROM snapshots WHERE context_id = ?", (row.id,)).fetchall():
            named |= set(tx._resolve_manifest(row, sid, tx._payload(row, sid)).values())
        return int(stored.fetchone()[0]), len(named)


def _same(manager: ContextManager, name: str, snapshot_id: str, data: dict[str, Any]) -> bool:
    """Byte-identical: the same top-level keys, each value the bytes the captured value encodes to
    (top-level keys are the unit of a state, PROTOCOL.md; a rollback may put them in another order)."""
    got = manager.tracker(name).get_snapshot(snapshot_id).state.data

    def encoded(values: dict[str, Any]) -> dict[str, bytes]:
        return {key: orjson.dumps(value) for key, value in values.items()}

    return encoded(got) == encoded(data)


def test_deleting_a_parent_rebases_its_children_and_reclaims_its_own_values(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("work", STATE)
    work = manager.tracker("work")
    first = work.create_snapshot("first").id  # whole
    work.update(Change(set={"src/file_001.py": "only in second"}, remove=["src/file_002.py"]))
    second = work.create_snapshot("second").id  # a delta of first
    work.update(Change(set={"src/file_001.py": "third's", "src/file_003.py": "third"}))
    third = work.create_snapshot("third").id  # a delta of second
    expected = {sid: work.get_snapshot(sid).state.data for sid in (first, second, third)}
    assert _payload(manager, "work", third).extra["parent"] == second
    stored_before, _ = _values_stored_and_referenced(manager, "work")

    deleted = work.delete_snapshot(second)
    assert (deleted.id, deleted.label, deleted.kind) == (second, "second", "snapshot")
    rebased = _payload(manager, "work", third)
    assert (rebased.extra["valuesBy"], rebased.extra["parent"]) == ("delta", first)  # both steps in one
    assert sorted(rebased.removed) == ["src/file_002.py"]
    assert _same(manager, "work", first, expected[first]) and _same(manager, "work", third, expected[third])
    stored, referenced = _values_stored_and_referenced(manager, "work")
    assert stored == referenced == stored_before - 1  # "only in second" went with it
    assert {s.id for s in work.snapshots()} == {first, third}

    work.delete_snapshot(first)  # a whole parent: its child is written whole
    assert _payload(manager, "work", third).extra["valuesBy"] == "digest"
    assert _same(manager, "work", third, expected[third])
    assert manager.verify().ok
    manager.close()
    reopened = store_env.open()  # another process reads the rewritten rows
    assert _same(reopened, "work", third, expected[third])
    work = reopened.tracker("work")
    work.update(Change(set={"after": 1}))
    fourth = work.create_snapshot("fourth").id  # builds on what is left
    assert _same(reopened, "work", fourth, {**expected[third], "after": 1})
    assert reopened.verify().ok
    reopened.close()


def test_what_cannot_be_deleted_and_who_cannot_delete(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("work", {"a": 1})
    manager.create_context("other", {"b": 1})
    work = manager.tracker("work")
    mine = work.create_snapshot("mine").id
    work.update(Change(set={"a": 2}))
    point = work.rollback(to_version=1).recovery_point
    assert point is not None
    with pytest.raises(InvalidState, match="recovery point"):
        work.delete_snapshot(point)
    with pytest.raises(SnapshotNotFound):
        work.delete_snapshot("no-such-id")
    with pytest.raises(SnapshotNotFound):  # another context's snapshot is not this context's
        manager.tracker("other").delete_snapshot(mine)
    assert {s.id for s in work.snapshots()} == {mine, point}
    manager.close()
    reader = store_env.open(read_only=True)
    with pytest.raises(AccessDenied):
        reader.tracker("work").delete_snapshot(mine)
    assert {s.id for s in reader.tracker("work").snapshots()} == {mine, point}
    reader.close()
    writer = store_env.open()
    writer.tracker("work").delete_snapshot(mine)
    with pytest.raises(SnapshotNotFound):  # twice: it is gone
        writer.tracker("work").delete_snapshot(mine)
    records = writer.audit_records(50)
    deleted = [r["details"] for r in records if r["event"] == "delete-snapshot"]
    assert deleted == [{"context": "work", "snapshot": mine, "version": 1, "label": "mine"}]
    failures = sorted(
        (r["details"]["kind"], r["details"]["action"]) for r in records if r["event"] == "error"
    )
    assert failures == [
        ("AccessDenied", "delete snapshot"),
        ("InvalidState", "delete snapshot"),
        ("SnapshotNotFound", "delete snapshot"),
        ("SnapshotNotFound", "delete snapshot"),
        ("SnapshotNotFound", "delete snapshot"),
    ]
    writer.close()


def test_composing_two_manifest_deltas_does_what_applying_both_does() -> None:
    base = {"a": b"1", "b": b"2", "c": b"3"}

    def apply(manifest: dict[str, bytes], delta: tuple[dict[str, bytes], list[str]]) -> dict[str, bytes]:
        out = {k: v for k, v in manifest.items() if k not in delta[1]}
        return {**out, **delta[0]}

    first = ({"b": b"B", "d": b"D"}, ["a"])
    then = ({"a": b"A2"}, ["d", "c"])
    assert apply(base, compose(first, then)) == apply(apply(base, first), then) == {"a": b"A2", "b": b"B"}


_RUNS = itertools.count()
KEYS = ["a", "b", "c", "d", "e", "f"]
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(KEYS), st.integers(0, 4)),
        st.tuples(st.just("remove"), st.sampled_from(KEYS)),
        st.tuples(st.just("snapshot")),
        st.tuples(st.just("delete"), st.integers(0, 40)),
        st.tuples(st.just("rollback"), st.integers(0, 40)),
        st.tuples(st.just("restore"), st.integers(0, 40)),
        st.tuples(st.just("reopen")),
    ),
    min_size=1,
    max_size=35,
)


@given(ops=OPS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_sequence_with_deletions_reads_back_every_remaining_snapshot(
    store_env: StoreEnv, ops: list[tuple[Any, ...]]
) -> None:
    """Two recovery points kept (so pruning and hidden base rows take part); after each deletion
    the values stored are exactly those some row names."""
    name = f"d{next(_RUNS)}"  # hypothesis runs the body many times on one store
    options = {"recovery_points_keep": 2}
    manager = store_env.open(**options)
    try:
        manager.create_context(name, {f"base-{i}": "b" * 50 + str(i) for i in range(10)})
        tracker = manager.tracker(name)
        taken: dict[str, dict[str, Any]] = {}
        for op in ops:
            head = tracker.get_state().data
            listed = sorted(s.id for s in tracker.snapshots() if s.kind == "snapshot")
            if op[0] == "set":
                tracker.update(Change(set={op[1]: [op[2]] * 20}))
            elif op[0] == "remove":
                tracker.update(Change(remove=[op[1]]))
            elif op[0] == "snapshot":
                taken[tracker.create_snapshot().id] = head
            elif op[0] == "delete" and listed:
                tracker.delete_snapshot(listed[op[1] % len(listed)])
                stored, referenced = _values_stored_and_referenced(manager, name)
                assert stored == referenced
            elif op[0] == "rollback":
                oldest = tracker.history(1)[1]
                result = tracker.rollback(to_version=oldest + op[1] % (tracker.version - oldest + 1))
                if result.recovery_point:
                    taken[result.recovery_point] = head
            elif op[0] == "restore" and listed:
                result = tracker.rollback(snapshot_id=listed[op[1] % len(listed)])
                if result.recovery_point:
                    taken[result.recovery_point] = head
            elif op[0] == "reopen":  # a new process: no memory of values or steps
                manager.close()
                manager = store_env.open(**options)
                tracker = manager.tracker(name)
        fresh = store_env.open(**options)
        try:
            for snapshot in fresh.tracker(name).snapshots():
                assert _same(fresh, name, snapshot.id, taken[snapshot.id]), snapshot.id
            assert fresh.verify().ok
        finally:
            fresh.close()
    finally:
        manager.close()
