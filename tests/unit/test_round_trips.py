"""PostgreSQL at the cost of its round trips: each operation's round trips, counted on the wire (a
relay in front of the cluster) and by the store itself, and a one-statement read that finds the
state changed under it run again in a transaction. Counting, never timing: the figures are the
bench's (bench/shared_store.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.pgcluster import PgCluster
from tests.wirecount import WireCounter

from groundhog import ContextManager, create_manager
from groundhog.changes import Change
from groundhog.store.postgres import PostgresStore


@pytest.fixture
def counted(pg_cluster: PgCluster, tmp_path: Path) -> Iterator[tuple[ContextManager, WireCounter]]:
    wire = WireCounter(pg_cluster.port)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    manager = create_manager(workspace, store_url=wire.url(pg_cluster.url), config_dir=tmp_path / "config")
    try:
        yield manager, wire
    finally:
        manager.close()
        wire.close()


def _round_trips(manager: ContextManager, wire: WireCounter, operation: Callable[[], Any]) -> int:
    store = manager.store
    assert isinstance(store, PostgresStore)
    before = (store.exchanges.count, wire.round_trips)
    operation()
    counted = store.exchanges.count - before[0]
    assert wire.round_trips - before[1] == counted  # the store's count is the wire's
    return counted


def test_a_read_is_one_round_trip_an_update_two(counted: tuple[ContextManager, WireCounter]) -> None:
    manager, wire = counted
    manager.create_context("plan", {f"key{i}": "x" * 100 for i in range(100)})
    tracker = manager.tracker("plan")
    tracker.update(Change(set={"step": 0}))  # the tracker holds the head from here on
    for n in range(3):  # the same every time, not just once
        assert _round_trips(manager, wire, tracker.read) == 1
        assert _round_trips(manager, wire, lambda n=n: tracker.update(Change(set={"step": n + 1}))) == 2
    merged = tracker.update(Change(set={"other": 1}), base_version=tracker.version - 1)
    assert merged.merged  # compare-and-swap and merge still hold, in the same two round trips
    assert _round_trips(manager, wire, tracker.read) == 1
    assert manager.load_state("plan").data["step"] == 3


def test_snapshots_and_rollbacks_need_a_few_round_trips_not_one_per_statement(
    counted: tuple[ContextManager, WireCounter],
) -> None:
    manager, wire = counted
    manager.create_context("plan", {f"key{i}": "x" * 100 for i in range(100)})
    tracker = manager.tracker("plan")
    tracker.create_snapshot("first")  # a process's first snapshot checks the stored values once
    for n in range(3):
        tracker.update(Change(set={"step": n}))
        # the lock and the head; the editor record; the parent snapshot; what changed since it;
        # whether the changed values are stored already; the writes with the commit
        assert _round_trips(manager, wire, lambda n=n: tracker.create_snapshot(f"s{n}")) <= 6
        tracker.update(Change(set={"step": 100 + n}))
        back = tracker.version - 1
        # the same for its recovery point, and pruning the older ones
        assert _round_trips(manager, wire, lambda back=back: tracker.rollback(to_version=back)) <= 7
        assert tracker.get_state().data["step"] == n
    assert manager.verify().ok  # every chain (versions, audit) holds


def test_a_write_that_writes_nothing_says_nothing_to_the_server(
    counted: tuple[ContextManager, WireCounter],
) -> None:
    manager, wire = counted
    manager.create_context("plan", {"a": 1})
    tracker = manager.tracker("plan")
    tracker.read()
    unchanged = _round_trips(manager, wire, lambda: tracker.update(Change(set={"a": 1})))
    assert unchanged == 2  # it had to look (lock and head), and committed nothing: no NOTIFY sent
    assert tracker.version == 1


def test_a_one_statement_read_that_meets_a_newer_state_is_read_again_in_a_transaction(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    """A lazy read's first statement runs alone; a writer commits before its second one. The
    read is run again from its start in one snapshot: it never mixes the two states."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    reader = create_manager(workspace, store_url=pg_cluster.url, config_dir=tmp_path / "config")
    writer = create_manager(workspace, store_url=pg_cluster.url, config_dir=tmp_path / "config")
    try:
        reader.create_context("plan", {"n": 0})
        runs: list[int] = []

        def body(tx: Any) -> tuple[int, int, dict[str, Any]]:
            row = tx.find_context("plan")
            runs.append(row.head)
            if len(runs) == 1:  # between the first statement and the second
                writer.tracker("plan").update(Change(set={"n": 1}))
            state = tx.load_state(row, row.head)
            return row.head, state.version, state.values

        head, version, values = reader.store.reading(body)
        assert runs == [1, 2]  # run again once, in a transaction
        assert (head, version, values) == (2, 2, {"n": b"1"})
    finally:
        writer.close()
        reader.close()
