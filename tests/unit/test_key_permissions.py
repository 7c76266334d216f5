"""Keys others could read are a problem, not a note: the server refuses a master key, a workspace key
or a transport token that other users may read or write, in one sentence that says to rotate it (it
may have been copied), and never quietly tightens it. `groundhog key rotate-master` is that rotation
for the master key: a new key re-wraps every store, the old one opens none of them, and an
interrupted rotation leaves every store readable and is finished by running it again."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from groundhog import AccessDenied, create_manager
from groundhog.cli import main
from groundhog.store import keys
from groundhog.store.rotation import rotate_master_key

pytestmark = pytest.mark.sqlite_only  # the master key wraps the embedded stores' keys


def _make(tmp_path: Path, *workspaces: str) -> tuple[Path, Path, list[Path]]:
    store, config = tmp_path / "store", tmp_path / "config"
    roots = []
    for name in workspaces:
        root = tmp_path / name
        root.mkdir()
        manager = create_manager(root, store_dir=store, config_dir=config)
        manager.create_context("default", {"name": name})
        manager.close()
        roots.append(root)
    return store, config, roots


def _read(root: Path, store: Path, config: Path) -> Any:
    manager = create_manager(root, store_dir=store, config_dir=config, read_only=True, create_key=False)
    try:
        return manager.load_state("default").data
    finally:
        manager.close()


def _environ(store: Path, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDHOG_")}
    env.update(GROUNDHOG_HOME=str(store), GROUNDHOG_CONFIG_DIR=str(config))
    return env


def _initialize_error(root: Path, env: dict[str, str]) -> dict[str, Any]:
    """Start a real `groundhog serve`, send initialize, return its error answer."""
    server = subprocess.Popen(
        [sys.executable, "-m", "groundhog", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert server.stdin is not None and server.stdout is not None
    params = {"rootUri": root.as_uri(), "capabilities": {}}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}).encode()
    server.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    server.stdin.flush()
    length = int(server.stdout.readline().split(b":")[1])
    server.stdout.readline()
    answer = json.loads(server.stdout.read(length))
    server.stdin.close()
    server.wait(timeout=60)
    assert server.stderr is not None and b"Traceback" not in server.stderr.read()
    return dict(answer["error"])


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_readable_master_key_stops_the_server_with_the_fix_and_stays_as_it_was(
    tmp_path: Path, mode: int
) -> None:
    store, config, (root,) = _make(tmp_path, "w")
    os.chmod(config / "master.key", mode)
    error = _initialize_error(root, _environ(store, config))
    assert error["data"]["kind"] == "AccessDenied"
    message = error["message"]
    assert "readable by other users" in message and "may have been copied" in message
    assert "rotate it" in message and "groundhog key rotate-master" in message
    assert str(config) not in message and str(tmp_path) not in message  # no server path to a client
    assert stat.S_IMODE(os.stat(config / "master.key").st_mode) == mode, "never quietly tightened"


def test_a_readable_workspace_key_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config"
    keys.save_workspace_key(config, "abc123", keys.new_data_key())
    path = keys.workspace_key_path(config, "abc123")
    os.chmod(path, 0o644)
    with pytest.raises(AccessDenied, match=r"readable by other users.*groundhog key rotate"):
        keys.load_workspace_key(config, "abc123")


def test_a_readable_token_keeps_the_network_transport_closed(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir(mode=0o700)
    (config / "token").write_text("a-token\n")
    os.chmod(config / "token", 0o644)
    done = subprocess.run(
        [sys.executable, "-m", "groundhog", "serve", "--tcp", "127.0.0.1:0"],
        env=_environ(tmp_path / "store", config),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1 and "listening" not in done.stderr
    assert "readable by other users" in done.stderr and "delete it and restart" in done.stderr
    assert "Traceback" not in done.stderr


def test_rotating_the_master_key_rewraps_every_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store, config, roots = _make(tmp_path, "one", "two")
    old = (config / "master.key").read_bytes()
    monkeypatch.setenv("GROUNDHOG_HOME", str(store))
    monkeypatch.setenv("GROUNDHOG_CONFIG_DIR", str(config))
    assert main(["key", "rotate-master"]) == 0
    assert "2 store(s) re-wrapped" in capsys.readouterr().err
    assert (config / "master.key").read_bytes() != old
    assert not (config / keys.PENDING_MASTER_KEY_FILE).exists()
    assert stat.S_IMODE(os.stat(config / "master.key").st_mode) == 0o600
    for root in roots:
        assert _read(root, store, config) == {"name": root.name}
    (config / "master.key").write_bytes(old)  # the old key opens nothing now (refused, saying how to join)
    for root in roots:
        with pytest.raises(AccessDenied, match="cannot be decrypted"):
            _read(root, store, config)


def test_an_interrupted_rotation_leaves_every_store_readable_and_finishes_on_the_next_run(
    tmp_path: Path,
) -> None:
    store, config, roots = _make(tmp_path, "one", "two")
    (config / "store").mkdir(mode=0o700)  # not a store: ignored
    victim = next((store / "workspaces").iterdir()) / "store.db"
    saved = victim.read_bytes()
    victim.write_bytes(b"not a database, so the first run cannot re-wrap it" * 100)
    first = rotate_master_key(config, store)
    assert not first.done and len(first.rewrapped) == 1 and len(first.failed) == 1
    assert (config / keys.PENDING_MASTER_KEY_FILE).exists(), "the new key waits beside the old one"
    victim.write_bytes(saved)
    for root in roots:  # one store under the new key, one under the old: both open
        assert _read(root, store, config) == {"name": root.name}
    second = rotate_master_key(config, store)
    assert second.done and len(second.rewrapped) == 2
    assert not (config / keys.PENDING_MASTER_KEY_FILE).exists()
    for root in roots:
        assert _read(root, store, config) == {"name": root.name}
