"""End-to-end fixtures: each test gets a private environment and clients it starts itself, once per
client profile (VS Code-like and Neovim-like capabilities). Tests of what happens below the editor
(processes, the store, damage, limits) are marked ``one_profile`` and run with the first profile
only: the client's capabilities cannot change them, and each server start costs about a second."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import PROFILES, Client, Env, start_client


@pytest.fixture
def env(tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> Env:
    """Modules marked ``postgresql_too`` run on both stores (tests/conftest.py); they cover every
    LSP request and MCP tool on the shared store."""
    url = request.getfixturevalue("pg_cluster").url if backend == "postgresql" else None
    return Env.make(tmp_path, url)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "one_profile: run with one client profile, not each")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "profile" in metafunc.fixturenames and "profile" not in _overridden(metafunc):
        one = metafunc.definition.get_closest_marker("one_profile") is not None
        metafunc.parametrize("profile", list(PROFILES)[:1] if one else list(PROFILES), indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the shared store, one client profile: the profile changes nothing below the editor, and
    each server start there costs a second."""
    first = next(iter(PROFILES))
    keep, drop = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        chosen = params.params if params is not None else {}
        if chosen.get("backend") == "postgresql" and chosen.get("profile", first) != first:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _overridden(metafunc: pytest.Metafunc) -> set[str]:
    """Fixtures a test module defines itself (the module then chooses its profile)."""
    return {name for name in vars(metafunc.module) if name == "profile"}


@pytest.fixture
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def open_client(env: Env, profile: str) -> AsyncIterator[Callable[..., Any]]:
    """``await open_client(**kw)`` starts a client (closed at teardown)."""
    started: list[Client] = []

    async def open_(**kwargs: Any) -> Client:
        kwargs.setdefault("profile", profile)
        client = await start_client(env, **kwargs)
        started.append(client)
        return client

    yield open_
    for client in started:
        await client.close()


@pytest.fixture
async def client(open_client: Callable[..., Any]) -> Client:
    result: Client = await open_client()
    return result
