"""What the retention tests share: a store opened with chosen ``StoreSettings`` (limits a user cannot
set this small, ages in seconds), and a run of one-key updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.conftest import StoreEnv

from groundhog import ContextManager, TrackerConfig
from groundhog.changes import Change
from groundhog.manager import ContextManager as Manager
from groundhog.opening import open_store
from groundhog.settings import Settings
from groundhog.store.common import StoreSettings
from groundhog.timeutil import format_time


def open_with(env: StoreEnv, **settings: Any) -> ContextManager:
    chosen = Settings(store_dir=str(env.store_dir), store_url=env.store_url)
    store = open_store(env.workspace, StoreSettings(config_dir=env.config_dir, **settings), chosen)
    manager = Manager(store, TrackerConfig())
    manager.check_on_open()
    return manager


def updates(manager: ContextManager, n: int, context: str = "c") -> None:
    """``n`` updates of context ``context``, each a new version."""
    tracker = manager.tracker(context)
    for _ in range(n):
        tracker.update(Change(set={"n": tracker.read().version}))


class AuditClock:
    """The audit log's clock, moved by the test instead of slept through: records written at
    ``now`` and cut against ``now`` minus the age limit, whatever the machine's speed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from groundhog.store import audit

        self.moment = datetime(2026, 1, 1, tzinfo=UTC)
        monkeypatch.setattr(audit, "now", lambda: format_time(self.moment))
        monkeypatch.setattr(
            audit, "ago", lambda seconds: format_time(self.moment - timedelta(seconds=seconds))
        )

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)
