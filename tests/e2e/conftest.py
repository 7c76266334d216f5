"""End-to-end fixtures: each test gets a private environment and clients it starts itself, once per
client profile (VS Code-like and Neovim-like capabilities)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Client, Env, start_client


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env.make(tmp_path)


@pytest.fixture(params=["vscode", "neovim"])
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
