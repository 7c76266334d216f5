"""Fixtures for the Neovim plugin tests (helpers live in nvim_harness.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nvim_harness import LspPeer, Nvim, Workspace, server_command


@pytest.fixture
def nvim_env(tmp_path: Path) -> dict[str, str]:
    """Environment for both Neovim and any extra server: temp store, key and XDG dirs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "NVIM", "VIM"))}
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        path = tmp_path / "xdg" / name.lower()
        path.mkdir(parents=True)
        env[f"XDG_{name}_HOME"] = str(path)
    env["GROUNDHOG_HOME"] = str(tmp_path / "store")
    env["GROUNDHOG_CONFIG_DIR"] = str(tmp_path / "groundhog-config")
    return env


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    ws = Workspace(root)
    contents = {
        "alpha.txt": "first line\nsecond line\nthird line\nfourth line\n",
        "beta.py": "def f():\n    return 'héllo 😀 wörld'\n\nprint(f())\n",
        "gamma.md": "# Title\n\nSome text here.\nMore text.\nEnd.\n",
    }
    for name, text in contents.items():
        path = root / name
        path.write_text(text, encoding="utf-8")
        ws.files[name] = path
    return ws


@pytest.fixture
def nvim(nvim_env: dict[str, str], tmp_path: Path) -> Iterator[Nvim]:
    yield Nvim(env=nvim_env, tmp=tmp_path)


@pytest.fixture
def peer_factory(nvim_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[Path], LspPeer]]:
    """Start second server processes on the same store (closed at the end of the test)."""
    peers: list[LspPeer] = []

    def start(root: Path) -> LspPeer:
        log = tmp_path / f"peer-{len(peers) + 1}.stderr"
        peer = LspPeer(server_command(), env=nvim_env, cwd=root, stderr_path=log)
        peers.append(peer)
        peer.initialize(root)
        return peer

    yield start
    for peer in peers:
        peer.close()
