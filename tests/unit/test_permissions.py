"""File-system rules of the store: directories 0700, files 0600 whatever the umask, and no symlink
followed where the store lives (a planted link is refused with AccessDenied, its target untouched)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from groundhog import AccessDenied, create_adapter, create_manager
from groundhog.changes import Change
from groundhog.workspace import workspace_id_for

pytestmark = pytest.mark.sqlite_only  # the SQLite file, its directory and its locks


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def workspace_dir(store_env: Any) -> Path:
    return Path(store_env.store_dir) / "workspaces" / workspace_id_for(store_env.workspace)


def test_modes_under_an_open_umask(store_env: Any, open_umask: None) -> None:
    manager = store_env.open()
    adapter = create_adapter(manager)
    tracker = adapter.initialize_sync()
    assert tracker is not None
    for number in range(20):
        tracker.update(Change(set={f"k{number}": "x" * 1000}))
    tracker.create_snapshot("s")
    directory = workspace_dir(store_env)
    database = directory / "store.db"
    wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
    assert wal.exists() and shm.exists(), "WAL mode keeps -wal and -shm while open"

    for path in (store_env.store_dir, store_env.store_dir / "workspaces", directory, store_env.config_dir):
        assert stat.S_ISDIR(os.lstat(path).st_mode)
        assert mode(path) == 0o700, f"{path}: {oct(mode(path))}"
    for path in (database, wal, shm, store_env.config_dir / "master.key"):
        assert stat.S_ISREG(os.lstat(path).st_mode)
        assert mode(path) == 0o600, f"{path}: {oct(mode(path))}"
    leftovers = [p.name for p in Path(store_env.config_dir).iterdir() if p.name != "master.key"]
    assert leftovers == [], "the key file's temporary file is gone"
    adapter.close()
    manager.close()


def test_loose_modes_are_tightened_on_open(store_env: Any) -> None:
    store_env.open().close()
    directory = workspace_dir(store_env)
    os.chmod(directory, 0o755)
    os.chmod(directory / "store.db", 0o644)
    manager = store_env.open()
    assert mode(directory) == 0o700
    assert mode(directory / "store.db") == 0o600
    manager.close()


def test_symlink_at_the_database_path_is_refused(store_env: Any, tmp_path: Path) -> None:
    directory = workspace_dir(store_env)
    directory.mkdir(parents=True)
    target = tmp_path / "victim.txt"
    target.write_bytes(b"precious contents\n")
    os.chmod(target, 0o644)
    before = os.stat(target)
    (directory / "store.db").symlink_to(target)

    with pytest.raises(AccessDenied):
        store_env.open()
    after = os.stat(target)
    assert target.read_bytes() == b"precious contents\n"
    assert (after.st_mode, after.st_size, after.st_mtime_ns) == (
        before.st_mode,
        before.st_size,
        before.st_mtime_ns,
    )
    assert not Path(f"{target}-wal").exists() and not Path(f"{target}-shm").exists()
    assert sorted(p.name for p in directory.iterdir()) == ["store.db"], "nothing created beside the link"


def test_dangling_symlink_at_the_database_path_is_refused(store_env: Any, tmp_path: Path) -> None:
    directory = workspace_dir(store_env)
    directory.mkdir(parents=True)
    target = tmp_path / "would-be-created.db"
    (directory / "store.db").symlink_to(target)
    with pytest.raises(AccessDenied):
        store_env.open()
    assert not target.exists()


@pytest.mark.parametrize("suffix", ["-wal", "-shm"])
def test_symlink_at_a_wal_file_is_refused(store_env: Any, tmp_path: Path, suffix: str) -> None:
    store_env.open().close()
    database = workspace_dir(store_env) / "store.db"
    Path(f"{database}{suffix}").unlink(missing_ok=True)
    target = tmp_path / "victim"
    target.write_bytes(b"keep me")
    Path(f"{database}{suffix}").symlink_to(target)
    with pytest.raises(AccessDenied):
        store_env.open()
    assert target.read_bytes() == b"keep me"


def test_symlink_at_the_workspace_dir_is_refused(store_env: Any, tmp_path: Path) -> None:
    (Path(store_env.store_dir) / "workspaces").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "unrelated.txt").write_text("hello")
    os.chmod(elsewhere, 0o755)
    workspace_dir(store_env).symlink_to(elsewhere, target_is_directory=True)

    with pytest.raises(AccessDenied):
        store_env.open()
    assert sorted(p.name for p in elsewhere.iterdir()) == ["unrelated.txt"]
    assert (elsewhere / "unrelated.txt").read_text() == "hello"
    assert mode(elsewhere) == 0o755, "the link target's mode is not changed"


def test_symlink_at_the_master_key_is_refused(store_env: Any, tmp_path: Path) -> None:
    Path(store_env.config_dir).mkdir(mode=0o700)
    target = tmp_path / "attacker.key"
    target.write_bytes(b"AAAA\n")
    (Path(store_env.config_dir) / "master.key").symlink_to(target)
    with pytest.raises(AccessDenied):
        store_env.open()
    assert target.read_bytes() == b"AAAA\n"


def test_store_files_of_another_user_umask_stay_private(store_env: Any) -> None:
    """A store opened by a process with the usual umask 022 is just as private."""
    previous = os.umask(0o022)
    try:
        manager = create_manager(
            store_env.workspace, store_dir=store_env.store_dir, config_dir=store_env.config_dir
        )
        manager.create_context("default")
        database = manager.store.path
        assert mode(database) == 0o600
        assert mode(Path(f"{database}-wal")) == 0o600
        manager.close()
    finally:
        os.umask(previous)


def test_a_store_dir_under_a_plain_file_is_a_persistence_error(tmp_path: Path) -> None:
    from groundhog.errors import PersistenceError
    from groundhog.store.paths import ensure_private_dir

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(PersistenceError, match="cannot be created"):
        ensure_private_dir(blocker / "store" / "workspaces")
    with pytest.raises(PersistenceError, match="not a directory"):
        ensure_private_dir(blocker)
