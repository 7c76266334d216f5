"""Another local user plants files where the server will look (a store directory under /tmp, her own
master key, a transport token, a log file) and the server, even as root, refuses every one of them
instead of trusting it. The planting is done by a real unprivileged user the test creates."""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from groundhog import AccessDenied, PersistenceError, create_manager

NEEDS_ROOT = "creating another local user needs root and useradd"


@dataclass(frozen=True)
class Neighbour:
    name: str
    uid: int
    gid: int
    shared: Path  # a sticky, world-writable directory like /tmp, where she can plant things

    def run(self, script: str) -> None:
        """Run a shell script as her, with the umask a careless or hostile user has."""
        done = subprocess.run(
            ["/bin/sh", "-c", f"umask 000; {script}"],
            user=self.uid,
            group=self.gid,
            extra_groups=[],
            cwd=self.shared,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr


@pytest.fixture
def mallory() -> Iterator[Neighbour]:
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip(NEEDS_ROOT)
    name = "ghm" + secrets.token_hex(4)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    shared = Path(tempfile.mkdtemp(prefix="groundhog-shared-", dir="/tmp"))
    os.chmod(shared, 0o1777)
    try:
        info = subprocess.run(["id", "-u", name], check=True, capture_output=True, text=True)
        group = subprocess.run(["id", "-g", name], check=True, capture_output=True, text=True)
        yield Neighbour(name, int(info.stdout), int(group.stdout), shared)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
        subprocess.run(["userdel", name], capture_output=True)


def _open(store_dir: Path, config_dir: Path, workspace: Path) -> None:
    manager = create_manager(workspace, store_dir=store_dir, config_dir=config_dir)
    manager.create_context("default")
    manager.close()


def test_a_store_directory_she_made_is_refused_and_left_untouched(mallory: Neighbour, tmp_path: Path) -> None:
    mallory.run("mkdir -p home/workspaces && chmod 777 home home/workspaces")
    with pytest.raises(AccessDenied, match="another user"):
        _open(mallory.shared / "home", tmp_path / "config", tmp_path)
    assert os.listdir(mallory.shared / "home" / "workspaces") == []  # nothing of ours went in


def test_her_master_key_is_refused(mallory: Neighbour, tmp_path: Path) -> None:
    key = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
    mallory.run(f"mkdir config && chmod 755 config && echo {key} > config/master.key")
    with pytest.raises(AccessDenied, match="another user"):
        _open(tmp_path / "store", mallory.shared / "config", tmp_path)
    assert not (tmp_path / "store").exists()  # refused before anything was created


def test_her_key_file_in_our_directory_is_refused(mallory: Neighbour, tmp_path: Path) -> None:
    config = mallory.shared / "ours"
    config.mkdir(mode=0o700)
    key = config / "master.key"
    key.write_text("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\n")
    os.chown(key, mallory.uid, mallory.gid)  # as if she had left it there before we made the dir ours
    with pytest.raises(AccessDenied, match="master key file belongs to another user"):
        _open(tmp_path / "store", config, tmp_path)


def test_a_key_file_others_may_write_is_not_trusted(tmp_path: Path) -> None:
    config = tmp_path / "config"
    _open(tmp_path / "store", config, tmp_path)
    os.chmod(config / "master.key", 0o666)
    with pytest.raises(AccessDenied, match="writable by other users"):
        _open(tmp_path / "store", config, tmp_path)


def test_a_store_file_of_another_user_is_refused(mallory: Neighbour, tmp_path: Path) -> None:
    _open(tmp_path / "store", tmp_path / "config", tmp_path)
    (database,) = (tmp_path / "store").rglob("store.db")
    os.chown(database, mallory.uid, mallory.gid)
    with pytest.raises(AccessDenied, match="store file belongs to another user"):
        _open(tmp_path / "store", tmp_path / "config", tmp_path)


def test_a_directory_every_user_may_write_without_the_sticky_bit_is_refused(tmp_path: Path) -> None:
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)
    with pytest.raises(AccessDenied, match="every user may write"):
        _open(open_dir / "store", tmp_path / "config", tmp_path)
    with pytest.raises(AccessDenied, match="every user may write"):
        _open(tmp_path / "store", open_dir / "config", tmp_path)


def test_our_own_directory_under_a_sticky_shared_one_is_fine(mallory: Neighbour, tmp_path: Path) -> None:
    _open(mallory.shared / "mine" / "store", mallory.shared / "mine" / "config", tmp_path)
    for path in (mallory.shared / "mine" / "store", mallory.shared / "mine" / "config"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700 and os.stat(path).st_uid == os.geteuid()


def _groundhog(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groundhog", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _environ(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDHOG_")}
    env.update(values)
    return env


def test_her_token_file_does_not_open_the_network_transport(mallory: Neighbour, tmp_path: Path) -> None:
    mallory.run("mkdir cfg && chmod 755 cfg && echo her-token > cfg/token && chmod 644 cfg/token")
    env = _environ(GROUNDHOG_HOME=str(tmp_path / "store"), GROUNDHOG_CONFIG_DIR=str(mallory.shared / "cfg"))
    done = _groundhog("serve", "--tcp", "127.0.0.1:0", env=env)
    assert done.returncode == 1 and "listening" not in done.stderr
    assert "another user" in done.stderr and "Traceback" not in done.stderr


def test_the_log_file_is_private_and_never_followed_through_a_link(
    mallory: Neighbour, tmp_path: Path
) -> None:
    env = _environ(GROUNDHOG_HOME=str(tmp_path / "store"), GROUNDHOG_CONFIG_DIR=str(tmp_path / "config"))
    log = tmp_path / "server.log"
    done = _groundhog("serve", "--log-file", str(log), env=env)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    target = tmp_path / "elsewhere"
    target.write_text("keep\n")
    link = tmp_path / "link.log"
    link.symlink_to(target)
    done = _groundhog("serve", "--log-file", str(link), env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert target.read_text() == "keep\n"
    mallory.run("echo planted > her.log")
    done = _groundhog("serve", "--log-file", str(mallory.shared / "her.log"), env=env)
    assert done.returncode == 1 and "another user" in done.stderr


def test_verify_never_creates_a_master_key(tmp_path: Path) -> None:
    env = _environ(GROUNDHOG_HOME=str(tmp_path / "store"), GROUNDHOG_CONFIG_DIR=str(tmp_path / "config"))
    _open(tmp_path / "store", tmp_path / "config", tmp_path)
    (tmp_path / "config" / "master.key").unlink()
    done = _groundhog("verify", "--workspace", str(tmp_path), env=env)
    assert done.returncode == 1 and "master key file is missing" in done.stderr
    assert not (tmp_path / "config" / "master.key").exists()


def test_abbreviated_options_are_not_guessed(tmp_path: Path) -> None:
    env = _environ(GROUNDHOG_HOME=str(tmp_path / "store"), GROUNDHOG_CONFIG_DIR=str(tmp_path / "config"))
    done = _groundhog("serve", "--store-d", str(tmp_path / "x"), env=env)
    assert done.returncode == 2 and "--store-d" in done.stderr
    # --store is the shared store's URL: a directory given there is refused, not taken for one
    done = _groundhog("serve", "--store", str(tmp_path / "x"), env=env)
    assert done.returncode == 2 and "postgresql://" in done.stderr


def test_a_persistence_error_names_no_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PersistenceError) as raised:
        _open(blocker / "store", tmp_path / "config", tmp_path)
    assert str(tmp_path) not in raised.value.message
