"""A subscriber hears every change to its context, whoever makes it: its own tracker (at once),
another tracker, another manager on the same store (as another process would be, through the change
feed), and a recovery; each version once, in version order."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.conftest import StoreEnv

from groundhog import ContextError, ContextState
from groundhog.changes import Change


class Recorder:
    def __init__(self) -> None:
        self.versions: list[int] = []
        self.data: list[dict[str, Any]] = []
        self.changed = threading.Condition()

    def on_state_change(self, old_state: ContextState, new_state: ContextState) -> None:
        with self.changed:
            assert new_state.version == old_state.version + 1
            self.versions.append(new_state.version)
            self.data.append(new_state.data)
            self.changed.notify_all()

    def on_error(self, error: ContextError) -> None:
        pass

    def wait_for(self, version: int, limit_s: float = 30.0) -> None:
        """Until ``version`` was heard (the limit only stops a hung test)."""
        deadline = time.monotonic() + limit_s
        with self.changed:
            while version not in self.versions:
                assert self.changed.wait(max(0.0, deadline - time.monotonic())), self.versions


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
