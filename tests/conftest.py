"""Shared fixtures: a private temporary store and key directory per test, and a manager on it.

Nothing here touches the user's real data or config dirs: GROUNDHOG_HOME and GROUNDHOG_CONFIG_DIR are
pointed at the test's temporary directory for the whole test.

The engine suite runs against every storage backend through ``store_env``: a new backend (behind
``groundhog.store.interface``) is one more entry in ``BACKENDS`` and one more branch in ``open``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from groundhog import ContextManager, create_manager


@dataclass(frozen=True)
class StoreEnv:
    """Where one test's store lives: ``store_dir`` (GROUNDHOG_HOME), ``config_dir`` (master key)
    and the workspace root the store belongs to."""

    store_dir: Path
    config_dir: Path
    workspace: Path
    backend: str = "sqlite"

    def open(self, **options: Any) -> ContextManager:
        """A manager on this store; options go to ``create_manager``."""
        if self.backend == "sqlite":
            return create_manager(
                self.workspace,
                store_dir=self.store_dir,
                config_dir=self.config_dir,
                **options,
            )
        raise AssertionError(f"no such backend: {self.backend}")


BACKENDS = ("sqlite",)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str) -> StoreEnv:
    store_dir = tmp_path / "store"
    config_dir = tmp_path / "config"
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    monkeypatch.setenv("GROUNDHOG_HOME", str(store_dir))
    monkeypatch.setenv("GROUNDHOG_CONFIG_DIR", str(config_dir))
    return StoreEnv(store_dir, config_dir, workspace, backend)


@pytest.fixture
def manager(store_env: StoreEnv) -> Iterator[ContextManager]:
    """A manager on an empty store (no context yet; create ``default`` if the test needs it)."""
    opened = store_env.open()
    yield opened
    opened.close()
