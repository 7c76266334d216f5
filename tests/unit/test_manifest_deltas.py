"""Snapshots and rollbacks cost the change, not the state (store/snapshots.py, undo.py): a snapshot's
manifest is a delta of its parent's (the newest user snapshot), a rollback to a recent version undoes
the steps since, and any sequence of updates, snapshots, rollbacks, reopenings, retention folds,
recovery-point pruning and budget passes reads back every snapshot and kept version exactly."""

from __future__ import annotations

import gc
import itertools
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storetools import data_of, flip_byte, raw_db
from tests.conftest import StoreEnv

from groundhog import ContextManager, RecoveryError
from groundhog.changes import Change
from groundhog.store import snapshots
from groundhog.store.codec import Payload, values_size
from groundhog.store.records import StoredState
from groundhog.store.schema import SCHEMA_VERSION
from groundhog.undo import MAX_BYTES, MAX_ENTRIES, PROCESS_MAX_BYTES, UndoLog, held_bytes, step_cost

STATE = {f"src/file_{i:03d}.py": f"summary {i} " + "s" * 200 for i in range(300)}


def _blob(manager: ContextManager, snapshot_id: str) -> Payload:
    """The opened state blob of one snapshot row."""
    with manager.store.read() as tx:
        row = tx.find_context("work")
        assert row is not None
        blob = tx.conn.execute("SELECT blob FROM snapshots WHERE id = ?", (snapshot_id,)).fetchone()[0]
        return Payload.unpack(tx.cipher.open(blob, "snapshots", row.uid, snapshot_id, "state"))


def _blob_bytes(manager: ContextManager, snapshot_id: str) -> int:
    with raw_db(manager.store) as conn:
        return len(conn.execute("SELECT blob FROM snapshots WHERE id = ?", (snapshot_id,)).fetchone()[0])


def test_a_snapshot_after_a_small_change_stores_only_that_change(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("work", STATE)
    work = manager.tracker("work")
    first = work.create_snapshot("first").id  # a process's first snapshot lists every value
    work.update(Change(set={"src/file_007.py": "changed"}, remove=["src/file_008.py"]))
    second = work.create_snapshot("second").id
    assert _blob(manager, first).extra["valuesBy"] == "digest"
    delta = _blob(manager, second)
    assert delta.extra["valuesBy"] == "delta" and delta.extra["parent"] == first
    assert delta.removed == ["src/file_008.py"]
    assert _blob_bytes(manager, second) < 400 < 10_000 < _blob_bytes(manager, first)

    expected = {**STATE, "src/file_007.py": "changed"}
    del expected["src/file_008.py"]
    assert work.get_snapshot(second).state.data == expected
    manager.close()
    reopened = store_env.open()
    assert reopened.tracker("work").get_snapshot(second).state.data == expected
    assert reopened.tracker("work").get_snapshot(first).state.data == STATE
    assert reopened.verify().ok
    reopened.close()


def test_a_rollback_writes_the_differing_keys_and_a_small_recovery_point(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("work", STATE)
    work = manager.tracker("work")
    work.create_snapshot("base")
    work.update(Change(set={"src/file_001.py": "one"}))
    work.update(Change(set={"src/file_002.py": "two", "new.py": "new"}))
    result = work.rollback(to_version=1)
    assert result.changed_keys == ["new.py", "src/file_001.py", "src/file_002.py"]
    assert data_of(work) == STATE
    assert result.recovery_point is not None
    assert _blob_bytes(manager, result.recovery_point) < 600
    point = work.get_snapshot(result.recovery_point).state.data
    assert point == {**STATE, "src/file_001.py": "one", "src/file_002.py": "two", "new.py": "new"}
    with raw_db(manager.store) as conn:
        written = conn.execute("SELECT length(delta_blob) FROM versions ORDER BY version DESC").fetchone()[0]
    assert written < 1_000  # two values of ~210 bytes and a removal, not the ~65 KB state
    manager.close()


def test_a_rollback_from_another_process_reads_the_same(store_env: StoreEnv) -> None:
    """A tracker that did not make the versions (no memory of the steps) rebuilds the target."""
    manager = store_env.open()
    manager.create_context("work", STATE)
    work = manager.tracker("work")
    work.update(Change(set={"src/file_001.py": "one"}))
    work.update(Change(remove=["src/file_002.py"], metadata={"m": 1}))
    other = store_env.open()
    result = other.tracker("work").rollback(to_version=1)
    assert result.changed_keys == ["src/file_001.py", "src/file_002.py"]
    assert other.load_state("work").data == STATE
    assert work.get_state().data == STATE and work.get_state().metadata == {}
    caught_up = work.read()  # brought forward by the other's deltas, its size from the keys they touched
    assert caught_up.measured_size() == values_size(caught_up.values)
    work.update(Change(set={"x": 1}))  # the first tracker's memory no longer reaches: it rebuilds
    assert work.rollback(to_version=2).changed_keys == ["src/file_001.py", "x"]
    assert work.get_state().data == {**STATE, "src/file_001.py": "one"}
    other.close()
    manager.close()


def test_take_snapshot_answers_the_record_of_the_same_snapshot(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("work", STATE)
    work = manager.tracker("work")
    taken = work.take_snapshot("label", {"why": "test"})
    assert work.snapshots() == [taken]
    assert (taken.label, taken.metadata) == ("label", {"why": "test"})
    assert (taken.version, taken.kind) == (1, "snapshot")
    assert work.get_snapshot(taken.id).state.data == STATE
    manager.close()


def test_a_damaged_delta_or_parent_is_detected(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("work", STATE)
    work = manager.tracker("work")
    parent = work.create_snapshot("parent").id
    work.update(Change(set={"src/file_001.py": "one"}))
    child = work.create_snapshot("child").id
    with raw_db(manager.store) as conn:
        blob = conn.execute("SELECT blob FROM snapshots WHERE id = ?", (child,)).fetchone()[0]
        conn.execute("UPDATE snapshots SET blob = ? WHERE id = ?", (flip_byte(bytes(blob)), child))
    with pytest.raises(RecoveryError):
        work.get_snapshot(child)
    report = manager.verify()
    assert [p["where"] for p in report.problems] == [f"context 'work' snapshot {child}"]
    assert work.get_snapshot(parent).state.data == STATE

    work.update(Change(set={"src/file_002.py": "two"}))
    grandchild = work.create_snapshot("grandchild").id  # a delta of 'child': unreadable too
    with raw_db(manager.store) as conn:
        conn.execute("DELETE FROM snapshots WHERE id = ?", (parent,))
    for lost in (child, grandchild):
        with pytest.raises(RecoveryError):
            work.get_snapshot(lost)
    wheres = {p["where"] for p in manager.verify().problems}
    assert wheres == {f"context 'work' snapshot {child}", f"context 'work' snapshot {grandchild}"}
    assert work.get_state().data == {**STATE, "src/file_001.py": "one", "src/file_002.py": "two"}
    manager.close()


def test_a_store_of_the_previous_format_is_upgraded_and_reads_the_same(store_env: StoreEnv) -> None:
    """Format 3 stores hold whole manifests only (each process's first snapshot is one, as every
    snapshot was then): after the upgrade they read the same and later snapshots build on them."""
    expected = {}
    for n in range(3):
        manager = store_env.open()
        if n == 0:
            manager.create_context("work", STATE)
        else:
            manager.tracker("work").update(Change(set={"n": n}))
        snapshot = manager.tracker("work").create_snapshot(f"s{n}").id
        expected[snapshot] = manager.load_state("work").data
        assert _blob(manager, snapshot).extra["valuesBy"] == "digest"
        store = manager.store
        manager.close()
    with raw_db(store) as conn:
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    upgraded = store_env.open()
    with raw_db(store) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION
        )
    work = upgraded.tracker("work")
    for snapshot, data in expected.items():
        assert work.get_snapshot(snapshot).state.data == data
    later = []
    for n in range(3, 6):
        work.update(Change(set={"n": n}))
        later.append((work.create_snapshot(f"s{n}").id, work.get_state().data))
    assert _blob(upgraded, later[-1][0]).extra["valuesBy"] == "delta"
    for snapshot, data in later:
        assert work.get_snapshot(snapshot).state.data == data
    assert upgraded.verify().ok
    upgraded.close()


_RUNS = itertools.count()
KEYS = ["a", "b", "c", "d", "e"]
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(KEYS), st.integers(0, 5)),
        st.tuples(st.just("remove"), st.sampled_from(KEYS)),
        st.tuples(st.just("meta"), st.integers(0, 3)),
        st.tuples(st.just("snapshot")),
        st.tuples(st.just("point")),
        st.tuples(st.just("rollback"), st.integers(0, 60)),
        st.tuples(st.just("restore"), st.integers(0, 60)),
        st.tuples(st.just("reopen")),
    ),
    min_size=1,
    max_size=40,
)


def _still_listed(tracker: Any, taken: dict[str, Any]) -> list[str]:
    listed = {s.id for s in tracker.snapshots()}
    return sorted(i for i in taken if i in listed)


@pytest.mark.parametrize(("history", "depth"), [(1000, 64), (3, 2)])
@given(ops=OPS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_sequence_reads_back_every_snapshot_and_kept_version(
    store_env: StoreEnv, history: int, depth: int, ops: list[tuple[Any, ...]]
) -> None:
    """``history`` 3 folds history on nearly every update; ``depth`` 2 makes chains restart often;
    one recovery point is kept (pruned at every rollback) and the budget is the smallest allowed, so
    its pass runs too."""
    original = snapshots.MAX_CHAIN_DEPTH
    snapshots.MAX_CHAIN_DEPTH = depth
    name = f"p{next(_RUNS)}"  # hypothesis runs the body many times on one store
    options = {"history_limit": history, "recovery_points_keep": 1, "store_budget_bytes": 1 << 20}
    manager = store_env.open(**options)
    try:
        start: dict[str, Any] = {f"base-{i}": "b" * 100 + str(i) for i in range(20)}
        manager.create_context(name, start)
        tracker = manager.tracker(name)
        versions: dict[int, Any] = {1: (start, {})}
        taken: dict[str, Any] = {}
        for op in ops:
            head = tracker.get_state()
            if op[0] == "set":
                tracker.update(Change(set={op[1]: [op[2]] * 50}))
            elif op[0] == "remove":
                tracker.update(Change(remove=[op[1]]))
            elif op[0] == "meta":
                tracker.update(Change(metadata={"m": op[1]}))
            elif op[0] == "snapshot":
                taken[tracker.create_snapshot().id] = (head.data, head.metadata)
            elif op[0] == "point":
                taken[tracker.create_recovery_point().id] = (head.data, head.metadata)
            elif op[0] == "rollback":
                oldest = tracker.history(1)[1]
                kept = sorted(v for v in versions if v >= oldest)
                result = tracker.rollback(to_version=kept[op[1] % len(kept)])
                if result.recovery_point:
                    taken[result.recovery_point] = (head.data, head.metadata)
            elif op[0] == "restore" and (ids := _still_listed(tracker, taken)):  # the budget may take some
                result = tracker.rollback(snapshot_id=ids[op[1] % len(ids)])
                if result.recovery_point:
                    taken[result.recovery_point] = (head.data, head.metadata)
            elif op[0] == "reopen":  # a new process: no memory of values or steps
                manager.close()
                manager = store_env.open(**options)
                tracker = manager.tracker(name)
            now = tracker.get_state()
            versions[now.version] = (now.data, now.metadata)
        fresh = store_env.open(**options)
        try:
            reader = fresh.tracker(name)
            listed = {s.id: s.kind for s in reader.snapshots()}
            assert sum(kind == "recoveryPoint" for kind in listed.values()) <= 1
            for snapshot_id, (data, metadata) in taken.items():
                if snapshot_id in listed:
                    got = reader.get_snapshot(snapshot_id).state
                    assert (got.data, got.metadata) == (data, metadata), snapshot_id
            oldest = reader.history(1)[1]
            for version, (data, metadata) in versions.items():
                if version >= oldest:
                    got = fresh.load_state(name, version)
                    assert (got.data, got.metadata) == (data, metadata), version
            assert fresh.verify().ok
        finally:
            fresh.close()
    finally:
        manager.close()
        snapshots.MAX_CHAIN_DEPTH = original


def test_a_large_state_snapshots_and_rolls_back_through_deltas(store_env: StoreEnv) -> None:
    """The many-keys workload, small: every snapshot after the first and every recovery point is a
    delta, and all of them read back."""
    manager = store_env.open(recovery_points_keep=3)
    state = {f"src/{i:05d}.py": f"v0 {i}" for i in range(2_000)}
    manager.create_context("work", state)
    work = manager.tracker("work")
    expected: dict[str, Any] = {}
    for r in range(8):
        work.update(Change(set={f"src/{r:05d}.py": f"v1 {r}"}))
        snap = work.create_snapshot(f"s{r}").id
        expected[snap] = work.get_state().data
        work.update(Change(set={f"src/{r + 100:05d}.py": "later"}))
        before = work.get_state().data
        point = work.rollback(to_version=work.version - 1).recovery_point
        assert point is not None
        expected[point] = before
        kinds = {_blob(manager, i).extra["valuesBy"] for i in (snap, point)}
        assert kinds == ({"delta"} if r else {"digest", "delta"})
    listed = {s.id for s in work.snapshots()}
    assert len(listed) == 8 + 3
    for snapshot_id in listed:
        assert orjson.dumps(work.get_snapshot(snapshot_id).state.data) == orjson.dumps(expected[snapshot_id])
    assert manager.verify().ok
    manager.close()


def _state(version: int, **values: bytes) -> StoredState:
    return StoredState(version, f"t{version}", dict(values), {"v": version})


def test_the_undo_log_reaches_back_only_over_steps_it_saw_one_after_another() -> None:
    log = UndoLog()
    v1, v2, v3 = _state(1, a=b"1"), _state(2, a=b"2", b=b"x"), _state(3, b=b"x")
    log.record("u", v1, v2, ["a", "b"])
    log.record("u", v2, v3, ["a"])
    back = log.back_to("u", v3, 1)
    assert back is not None
    state, keys = back
    assert (state.values, state.metadata, state.last_modified, keys) == (
        {"a": b"1"},
        {"v": 1},
        "t1",
        {"a", "b"},
    )
    assert log.back_to("u", v3, 2) is not None
    assert log.back_to("other", v3, 1) is None  # another context under the same name
    assert log.back_to("u", _state(4), 1) is None  # the head moved on without it
    log.record("u", _state(7), _state(8), ["a"])  # not the next step: it starts again
    assert log.back_to("u", _state(8), 6) is None
    assert log.back_to("u", _state(8), 7) is not None


def test_the_undo_log_keeps_a_bounded_number_of_steps_and_bytes() -> None:
    log = UndoLog()
    states = [_state(v, k=str(v).encode()) for v in range(1, MAX_ENTRIES + 10)]
    for old, new in itertools.pairwise(states):
        log.record("u", old, new, ["k"])
    head = states[-1]
    assert log.back_to("u", head, head.version - MAX_ENTRIES) is not None
    assert log.back_to("u", head, head.version - MAX_ENTRIES - 1) is None
    big = _state(head.version + 1, k=b"x" * (MAX_BYTES + 1))
    log.record("u", head, big, ["k"])
    after = _state(big.version + 1, k=b"y")
    log.record("u", big, after, ["k"])  # would keep the big value alive: the log holds no more than its bound
    assert log.back_to("u", after, big.version) is None


def test_undo_logs_count_the_bytes_they_hold_and_share_one_bound_per_process() -> None:
    """Four trackers' logs on 1 MB states rewritten whole: each step holds ~1 MB of old values, and
    all the logs together stay within the process's bound, each keeping its newest step."""
    gc.collect()
    others = held_bytes()  # logs of trackers other tests left alive (ours may trim them too)
    logs = [UndoLog() for _ in range(4)]
    for version in range(1, 12):
        for number, log in enumerate(logs):
            old = StoredState(
                version, "t", {f"k{i}": bytes(1000) + bytes([version, number]) for i in range(1000)}
            )
            new = StoredState(
                version + 1, "t", {f"k{i}": bytes(1000) + bytes([version + 1]) for i in range(1000)}
            )
            log.record(f"u{number}", old, new, list(old.values))
            assert log.back_to(f"u{number}", new, version) is not None  # the newest step stays
    cost = step_cost(dict(old.values))
    assert cost > 1000 * 1000 + 1000 * 33  # each bytes object's header counts, not only its length
    assert held_bytes() <= PROCESS_MAX_BYTES
    assert held_bytes() - sum(each.held for each in logs) <= others
    del logs, log
    gc.collect()
    assert held_bytes() <= others  # a log that goes counts no more


def test_recovery_points_without_a_user_snapshot_build_on_a_hidden_base(store_env: StoreEnv) -> None:
    """A context nobody snapshots: the first recovery point puts its whole manifest in a base row
    (never listed), later ones are deltas of it, and the base goes once no kept point builds on it."""
    manager = store_env.open(recovery_points_keep=2)
    manager.create_context("work", STATE)
    work = manager.tracker("work")
    points: dict[str, Any] = {}
    for n in range(6):
        work.update(Change(set={f"src/file_{n:03d}.py": f"round {n}"}))
        before = work.get_state().data
        point = work.rollback(to_version=work.version - 1).recovery_point
        assert point is not None
        points[point] = before
        assert _blob(manager, point).extra["valuesBy"] == "delta"
    listed = work.snapshots()
    assert [s.kind for s in listed] == ["recoveryPoint"] * 2
    for info in listed:
        assert work.get_snapshot(info.id).state.data == points[info.id]
    with raw_db(manager.store) as conn:
        kinds = sorted(k for (k,) in conn.execute("SELECT kind FROM snapshots").fetchall())
    assert kinds == ["base", "recoveryPoint", "recoveryPoint"]
    assert manager.tracker("work").version == 13 and manager.verify().ok

    fresh = store_env.open(recovery_points_keep=2)  # no memory of values: its first point is whole
    other = fresh.tracker("work")
    for n in range(2):
        other.update(Change(set={"late": n}))
        other.rollback(to_version=other.version - 1)
    fresh.tracker("work").update(Change(set={"late": 9}))
    other.rollback(to_version=other.version - 1)  # the old base's last point is pruned: it goes
    with raw_db(fresh.store) as conn:
        kinds = sorted(k for (k,) in conn.execute("SELECT kind FROM snapshots").fetchall())
    assert kinds == ["base", "recoveryPoint", "recoveryPoint"]
    assert all(other.get_snapshot(s.id).state.data["late"] in (1, 9) for s in other.snapshots())
    assert fresh.verify().ok
    fresh.close()
    manager.close()


def test_a_value_dropped_in_the_same_write_as_it_was_stored_is_stored_again(store_env: StoreEnv) -> None:
    """Over its budget, a rollback's recovery point (the only one) goes in the write that stored its
    value, and the value with it: a later delta listing the same value must store it again."""
    manager = store_env.open(store_budget_bytes=1 << 20)
    manager.create_context("work", {"big": "x" * 900_000, "k": "start"})  # head + snapshot: over 1 MB
    work = manager.tracker("work")
    work.create_snapshot("whole")  # this process has checked every value: later snapshots are deltas
    work.update(Change(set={"k": "X" * 600}))
    work.rollback(to_version=work.version - 1)
    assert [s.kind for s in work.snapshots()] == ["snapshot"]  # the budget took the recovery point
    work.update(Change(set={"k": "X" * 600}))
    again = work.create_snapshot("again").id
    assert _blob(manager, again).extra["valuesBy"] == "delta"
    assert work.get_snapshot(again).state.data["k"] == "X" * 600
    assert manager.verify().ok
    manager.close()
