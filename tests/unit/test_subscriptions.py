"""A subscriber hears every change to its context, whoever makes it: its own tracker (at once),
another tracker, another manager on the same store (as another process would be, through the change
feed), another process, and a recovery; each version once, in version order. It also hears every
failure: its own tracker's and the other trackers' of its manager at once (reads too), another
manager's or process's failed writes through the audit log; and a deletion, after which a context
created again under the name is heard from version 0 (empty) on."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from tests.conftest import StoreEnv
from tests.unit.storetools import context_id, flip_byte, raw_db

from groundhog import ContextError, ContextState, SnapshotNotFound, VersionConflict
from groundhog.changes import Change


class Recorder:
    def __init__(self) -> None:
        self.versions: list[int] = []
        self.data: list[dict[str, Any]] = []
        self.events: list[tuple[str, Any]] = []  # ("change", (old version, new version)) / ("error", kind)
        self.errors: list[ContextError] = []
        self.changed = threading.Condition()

    def on_state_change(self, old_state: ContextState, new_state: ContextState) -> None:
        with self.changed:
            assert new_state.version == old_state.version + 1
            self.versions.append(new_state.version)
            self.data.append(new_state.data)
            self.events.append(("change", (old_state.version, new_state.version)))
            self.changed.notify_all()

    def on_error(self, error: ContextError) -> None:
        with self.changed:
            self.errors.append(error)
            self.events.append(("error", error.kind))
            self.changed.notify_all()

    def wait_for(self, version: int, limit_s: float = 30.0) -> None:
        """Until ``version`` was heard (the limit only stops a hung test)."""
        self.wait_until(lambda: version in self.versions)

    def wait_until(self, condition: Any, limit_s: float = 30.0) -> None:
        deadline = time.monotonic() + limit_s
        with self.changed:
            while not condition():
                assert self.changed.wait(max(0.0, deadline - time.monotonic())), self.events


def test_every_change_from_anywhere_arrives_once_in_version_order(store_env: StoreEnv) -> None:
    mine, theirs = store_env.open(), store_env.open()  # two managers: as two processes would be
    mine.create_context("plan")
    tracker = mine.tracker("plan")
    heard = Recorder()
    unsubscribe = tracker.subscribe(heard)
    other_tracker = mine.tracker("plan")  # another tracker in this process
    remote = theirs.tracker("plan")  # another "process"
    expected = 1
    for round_ in range(10):
        tracker.update(Change(set={"mine": round_}))
        other_tracker.update(Change(set={"other": round_}))
        remote.update(Change(set={"remote": round_}))
        expected += 3
    heard.wait_for(expected)
    assert heard.versions == list(range(2, expected + 1))  # each once, in order, nothing missed
    assert heard.data[-1] == {"mine": 9, "other": 9, "remote": 9}
    unsubscribe()
    mine.close()
    theirs.close()


def test_own_changes_are_told_at_once(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("plan")
    tracker = manager.tracker("plan")
    heard = Recorder()
    tracker.subscribe(heard)
    tracker.update(Change(set={"a": 1}))
    assert heard.versions == [2]  # before update returned: no waiting for the feed
    manager.close()


def test_a_subscriber_that_writes_does_not_deadlock_or_reorder(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("plan")
    tracker = manager.tracker("plan")
    seen: list[int] = []

    class Echo:
        def on_state_change(self, old_state: ContextState, new_state: ContextState) -> None:
            seen.append(new_state.version)
            if new_state.data.get("n", 0) < 3:
                tracker.update(Change(set={"n": new_state.data.get("n", 0) + 1}))

        def on_error(self, error: ContextError) -> None:
            pass

    tracker.subscribe(Echo())
    tracker.update(Change(set={"n": 0}))
    assert seen == [2, 3, 4, 5]
    manager.close()


async def test_writes_have_async_twins_for_event_loops(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("plan")
    tracker = manager.tracker("plan")
    state = tracker.get_state()
    state.set("a", 1)
    assert (await tracker.update_state_async(state)).version == 2
    assert (await tracker.update_async(Change(set={"b": 2}))).version == 3
    snapshot = await tracker.create_snapshot_async("s")
    assert snapshot.version == 3
    rolled = await tracker.rollback_async(to_version=2)
    assert rolled.version == 4 and tracker.get_state().data == {"a": 1}
    manager.close()


def test_a_recovery_made_by_another_manager_is_heard_as_damage_then_the_recover_version(
    store_env: StoreEnv,
) -> None:
    mine = store_env.open()
    mine.create_context("plan")
    tracker = mine.tracker("plan")
    tracker.update(Change(set={"a": 1}))
    tracker.update(Change(set={"a": 2}))  # version 3: its delta is damaged below
    heard = Recorder()
    tracker.subscribe(heard)
    with raw_db(mine.store) as conn:
        cid = context_id(conn, mine, "plan")
        query = "SELECT delta_blob FROM versions WHERE context_id = ? AND version = ?"
        blob = bytes(conn.execute(query, (cid, 3)).fetchone()[0])
        damage = "UPDATE versions SET delta_blob = ? WHERE context_id = ? AND version = ?"
        conn.execute(damage, (flip_byte(blob), cid, 3))
    theirs = store_env.open()  # opening checks every head: it recovers version 3 as version 4
    assert [r.version for r in theirs.recoveries] == [4]
    heard.wait_for(4)
    assert heard.events == [("error", "RecoveryError"), ("change", (3, 4))]
    assert heard.data == [{"a": 1}]  # version 4 holds the newest valid state, version 2's
    assert "damaged" in heard.errors[0].message and heard.errors[0].details["version"] == 4
    mine.close()
    theirs.close()


def test_failures_reach_every_subscriber_of_the_context(store_env: StoreEnv) -> None:
    mine, theirs = store_env.open(), store_env.open()
    mine.create_context("plan")
    tracker = mine.tracker("plan")
    heard = Recorder()
    tracker.subscribe(heard)
    with pytest.raises(SnapshotNotFound):  # a failed read of its own tracker
        tracker.read(99)
    with pytest.raises(VersionConflict):  # another tracker of the manager: told at once
        mine.tracker("plan").update(Change(set={"a": 1}), base_version=5)
    assert heard.events == [("error", "SnapshotNotFound"), ("error", "VersionConflict")]
    with pytest.raises(VersionConflict):  # another manager: through its audit record
        theirs.tracker("plan").update(Change(set={"b": 1}), base_version=7)
    heard.wait_until(lambda: len(heard.errors) == 3)
    remote = heard.errors[2]
    assert isinstance(remote, VersionConflict) and "7" in remote.message
    assert remote.details["context"] == "plan"
    with pytest.raises(VersionConflict):  # another context's failure is not this subscriber's
        theirs.create_context("other")
        theirs.tracker("other").update(Change(set={"c": 1}), base_version=9)
    tracker.update(Change(set={"d": 1}))  # a later change, heard after everything before it
    heard.wait_for(2)
    assert [kind for kind, _ in heard.events] == ["error", "error", "error", "change"]
    mine.close()
    theirs.close()


def test_a_deleted_and_recreated_context_is_heard_from_version_0_again(store_env: StoreEnv) -> None:
    mine, theirs = store_env.open(), store_env.open()
    mine.create_context("plan", {"old": True})
    tracker = mine.tracker("plan")
    tracker.update(Change(set={"n": 1}))
    heard = Recorder()
    tracker.subscribe(heard)
    theirs.delete_context("plan")
    theirs.create_context("plan", {"new": True})
    theirs.tracker("plan").update(Change(set={"n": 2}))
    heard.wait_for(2)
    assert heard.events == [("error", "ContextNotFound"), ("change", (0, 1)), ("change", (1, 2))]
    assert heard.data == [{"new": True}, {"new": True, "n": 2}]
    tracker.update(Change(set={"n": 3}))  # its own tracker goes on with the new context, told at once
    assert heard.versions == [1, 2, 3]
    mine.close()
    theirs.close()


REMOTE = """
import sys
from groundhog import VersionConflict, create_manager
from groundhog.changes import Change
store_dir, config_dir, workspace, url = sys.argv[1:5]
manager = create_manager(workspace, store_dir=store_dir, config_dir=config_dir, store_url=url or None)
for step in sys.stdin:  # one step per line, each acknowledged
    step = step.strip()
    if step == "update":
        manager.tracker("plan").update(Change(set={"remote": 1}))
    elif step == "conflict":
        try:
            manager.tracker("plan").update(Change(set={"remote": 2}), base_version=1, on_conflict="fail")
        except VersionConflict:
            pass
    elif step == "recreate":
        manager.delete_context("plan")
        manager.create_context("plan", {"again": True})
    print("done", step, flush=True)
manager.close()
"""


def test_another_process_changes_fails_deletes_and_recreates_all_heard_in_order(store_env: StoreEnv) -> None:
    mine = store_env.open()
    mine.create_context("plan")
    tracker = mine.tracker("plan")
    heard = Recorder()
    tracker.subscribe(heard)
    arguments = [store_env.store_dir, store_env.config_dir, store_env.workspace, store_env.store_url or ""]
    remote = subprocess.Popen(
        [sys.executable, "-c", REMOTE, *map(str, arguments)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert remote.stdin is not None and remote.stdout is not None

    def step(name: str, heard_it: Any) -> None:
        remote.stdin.write(name + "\n")
        remote.stdin.flush()
        assert remote.stdout.readline().split() == ["done", name]
        heard.wait_until(heard_it)

    try:
        step("update", lambda: heard.versions == [2])
        step("conflict", lambda: len(heard.errors) == 1)
        step("recreate", lambda: heard.versions == [2, 1])
    finally:
        remote.communicate(timeout=60)
    assert heard.events == [
        ("change", (1, 2)),
        ("error", "VersionConflict"),
        ("error", "ContextNotFound"),
        ("change", (0, 1)),
    ]
    assert heard.data == [{"remote": 1}, {"again": True}]
    assert heard.errors[0].details["context"] == "plan"
    mine.close()
