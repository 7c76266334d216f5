"""Shared fixtures: a private temporary store and key directory per test, and a manager on it.

Nothing here touches the user's real data or config dirs: GROUNDHOG_HOME and GROUNDHOG_CONFIG_DIR are
pointed at the test's temporary directory for the whole test.

The engine suite runs against every storage backend through ``store_env``: a new backend (behind
``groundhog.store.interface``) is one more entry in ``BACKENDS``. The PostgreSQL backend runs on a
throwaway cluster started once per run (tests/pgcluster.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from groundhog import ContextManager, create_manager

from .pgcluster import PgCluster


@dataclass(frozen=True)
class StoreEnv:
    """Where one test's store lives: ``store_dir`` (GROUNDHOG_HOME), ``config_dir`` (master key)
    and the workspace root the store belongs to."""

    store_dir: Path
    config_dir: Path
    workspace: Path
    backend: str = "sqlite"
    store_url: str | None = None  # the PostgreSQL backend's database

    def open(self, **options: Any) -> ContextManager:
        """A manager on this store; options go to ``create_manager``."""
        if self.backend not in BACKENDS:
            raise AssertionError(f"no such backend: {self.backend}")
        return create_manager(
            self.workspace,
            store_dir=self.store_dir,
            config_dir=self.config_dir,
            store_url=self.store_url,
            **options,
        )


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test using ``backend`` (through ``store_env`` or ``manager``) runs on each backend,
    but for tests marked ``sqlite_only``: they reach into the SQLite file itself."""
    if "backend" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker
        end_to_end = "/tests/e2e/" in str(metafunc.definition.path)  # a named subset: postgresql_too
        only = marked("sqlite_only") is not None or (end_to_end and marked("postgresql_too") is None)
        metafunc.parametrize("backend", ("sqlite",) if only else BACKENDS)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL cluster for the whole run (each test gets its own workspace)."""
    cluster = PgCluster()
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def store_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, backend: str
) -> StoreEnv:
    store_dir = tmp_path / "store"
    config_dir = tmp_path / "config"
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    monkeypatch.setenv("GROUNDHOG_HOME", str(store_dir))
    monkeypatch.setenv("GROUNDHOG_CONFIG_DIR", str(config_dir))
    monkeypatch.delenv("GROUNDHOG_STORE_URL", raising=False)
    url = request.getfixturevalue("pg_cluster").url if backend == "postgresql" else None
    return StoreEnv(store_dir, config_dir, workspace, backend, url)


@pytest.fixture(scope="module")
def damage_base(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A store with every kind of row and its written versions remembered, built once per module
    for the damage suites to copy and damage (tests/damage_tools.py)."""
    from tests.damage_tools import build

    return build(tmp_path_factory.mktemp("damage"))


@pytest.fixture
def manager(store_env: StoreEnv) -> Iterator[ContextManager]:
    """A manager on an empty store (no context yet; create ``default`` if the test needs it)."""
    opened = store_env.open()
    yield opened
    opened.close()
