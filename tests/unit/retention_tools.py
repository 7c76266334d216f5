"""What the retention tests share: a store opened with chosen ``StoreSettings`` (limits a user cannot
set this small, ages in seconds), and a run of one-key updates."""

from __future__ import annotations

from typing import Any

from tests.conftest import StoreEnv

from groundhog import ContextManager, TrackerConfig
from groundhog.changes import Change
from groundhog.manager import ContextManager as Manager
from groundhog.manager import open_store
from groundhog.store.sqlite import StoreSettings


def open_with(env: StoreEnv, **settings: Any) -> ContextManager:
    store = open_store(
        env.workspace,
        StoreSettings(config_dir=env.config_dir, **settings),
        store_dir=env.store_dir,
        store_url=env.store_url,
    )
    manager = Manager(store, TrackerConfig())
    manager.check_on_open()
    return manager


def updates(manager: ContextManager, n: int, context: str = "c") -> None:
    """``n`` updates of context ``context``, each a new version."""
    tracker = manager.tracker(context)
    for _ in range(n):
        tracker.update(Change(set={"n": tracker.read().version}))
