"""A laptop and a dev container as two members of one embedded store, end to end: two homes (their
own HOME, so their own config dir, master key and member key), one store directory between them
(GROUNDHOG_HOME, as a bind mount would give), one checkout path. Real `groundhog serve` processes
and the people CLI, as docs/team.md tells a user to do it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Env, start_client

pytestmark = pytest.mark.one_profile


@dataclass
class Home(Env):
    """A machine known only by its HOME: no GROUNDHOG_CONFIG_DIR, no XDG variables."""

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GROUNDHOG_", "XDG_"))}
        env.update(HOME=str(self.root), GROUNDHOG_HOME=str(self.store_dir), **extra)
        return env


def _machine(tmp_path: Path, name: str) -> Home:
    home = tmp_path / name
    home.mkdir(mode=0o700)
    workspace = tmp_path / "project"
    workspace.mkdir(exist_ok=True)
    return Home(home, tmp_path / "shared-store", home / ".config" / "groundhog", workspace)


def _cli(env: Home, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groundhog", *args],
        env=env.environ(**extra),
        cwd=env.workspace,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    import json

    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_a_laptop_and_a_dev_container_are_two_members_of_one_embedded_store(tmp_path: Path) -> None:
    """The laptop's editor made the store; the container is refused with the way in; the laptop
    adds the container's member key while its editor runs; then each side's editor sees the
    other's writes live, both read everything, and `key export` points at members, not a key."""
    laptop, container = _machine(tmp_path, "laptop"), _machine(tmp_path, "container")
    left = await start_client(laptop, client_name="laptop-editor")
    clients = [left]
    try:
        await left.request("context/create", {"name": "plan"})
        await left.request("context/update", {"context": "plan", "set": {"goal": "ship"}})
        refused = _cli(container, "status")
        assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert "groundhog key show-public" in refused.stderr and "members add" in refused.stderr
        shown = _cli(container, "key", "show-public")
        assert shown.returncode == 0 and shown.stdout.startswith("groundhog-member-1:"), shown.stderr
        assert (container.root / ".config" / "groundhog" / "member.key").stat().st_mode & 0o777 == 0o600
        added = _cli(
            laptop, "members", "add", "container", shown.stdout.strip(), GROUNDHOG_MEMBER_NAME="laptop"
        )
        assert added.returncode == 0, added.stderr
        listed = _json(_cli(container, "members", "--json"))["members"]
        assert [(m["name"], m["addedBy"], m["you"]) for m in listed] == [
            ("laptop", None, False),
            ("container", "laptop", True),
        ]

        right = await start_client(container, client_name="container-editor")
        clients.append(right)
        got = await right.request("context/get", {"context": "plan"})
        assert (got["version"], got["data"]) == (2, {"goal": "ship"})
        await left.request("context/update", {"context": "plan", "set": {"by": "laptop"}})  # a new key now
        seen = await right.wait_for(
            "context/didChange", lambda e: e["context"] == "plan" and e["version"] == 3
        )
        assert seen["changedKeys"] == ["by"]
        await right.request("context/update", {"context": "plan", "set": {"from": "container"}})
        await left.wait_for("context/didChange", lambda e: e["context"] == "plan" and e["version"] == 4)
        for client in (left, right):
            got = await client.request("context/get", {"context": "plan"})
            assert got["data"] == {"goal": "ship", "by": "laptop", "from": "container"}
    finally:
        for client in reversed(clients):
            await client.close()
    for machine in (laptop, container):
        assert _cli(machine, "verify").returncode == 0
        assert [c["name"] for c in _json(_cli(machine, "contexts", "--json"))["contexts"]] == [
            "default",
            "plan",
        ]
    exported = _cli(container, "key", "export")
    assert exported.returncode == 1 and exported.stdout == ""
    assert "embedded store has no workspace key" in exported.stderr and "members add" in exported.stderr
