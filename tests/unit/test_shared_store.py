"""What only a shared (PostgreSQL) store has: workspace keys held by people, workspace names that
meet across machines, the database's set-up and format, and its errors. The engine's semantics on
it are the engine suite's (every ``store_env`` test runs on both backends)."""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
from pathlib import Path

import psycopg
import pytest
from tests.pgcluster import PgCluster

from groundhog import create_manager
from groundhog.changes import Change
from groundhog.errors import AccessDenied, InvalidState, LockError, PersistenceError
from groundhog.store import keys
from groundhog.store.pgdatabase import describe_url, init_database
from groundhog.workspace import normalize_remote, shared_identity, shared_workspace_id
from groundhog.workspace_keys import rotate_workspace_key

_databases = itertools.count()


def _machine(tmp_path: Path, name: str) -> Path:
    """A machine's own config dir (where its workspace keys live)."""
    config = tmp_path / name / "config"
    config.mkdir(parents=True)
    return config


def _open(url: str, workspace: Path, config: Path, **options: object):  # type: ignore[no-untyped-def]
    return create_manager(workspace, store_url=url, config_dir=config, **options)  # type: ignore[arg-type]


def _fresh_database(cluster: PgCluster, *, initialized: bool = True) -> str:
    name = f"t{os.getpid()}_{next(_databases)}"
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = cluster.url.rsplit("/", 1)[0] + f"/{name}"
    if initialized:
        init_database(url)
    return url


def _checkout(path: Path, remote: str | None) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    if remote is not None:
        subprocess.run(["git", "-C", str(path), "remote", "add", "origin", remote], check=True)
    return path


# -- workspace identity ----------------------------------------------------------------------------


def test_two_checkouts_of_one_repository_meet_and_unrelated_folders_do_not(tmp_path: Path) -> None:
    laptop = _checkout(tmp_path / "laptop" / "proj", "git@github.com:team/proj.git")
    container = _checkout(tmp_path / "container" / "src" / "p", "https://me:secret@GitHub.com/team/proj")
    assert shared_workspace_id(laptop) == shared_workspace_id(container)
    assert "secret" not in shared_identity(container)  # a password in the remote never names anything
    (laptop / "docs").mkdir()
    (container / "docs").mkdir()
    assert shared_workspace_id(laptop / "docs") == shared_workspace_id(container / "docs")
    assert shared_workspace_id(laptop / "docs") != shared_workspace_id(laptop)
    other = _checkout(tmp_path / "other", "git@github.com:team/other.git")
    assert shared_workspace_id(other) != shared_workspace_id(laptop)
    # no remote: nothing to meet on, so the folder stays this machine's (never shared by accident)
    local = _checkout(tmp_path / "local", None)
    assert shared_identity(local).startswith("path:")
    # an explicit id names the workspace whatever the folder
    assert shared_workspace_id(local, "team/proj") == shared_workspace_id(other, "team/proj")
    with pytest.raises(ValueError):
        shared_workspace_id(local, "../../etc")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("git@github.com:Team/proj.git", "github.com/Team/proj"),
        ("ssh://git@github.com:22/Team/proj", "github.com/Team/proj"),
        ("https://user:pw@GITHUB.com/Team/proj.git/", "github.com/Team/proj"),
        ("/srv/git/proj.git", "/srv/git/proj.git"),
    ],
)
def test_remote_spellings_of_one_repository_are_one_name(url: str, expected: str) -> None:
    assert normalize_remote(url) == expected


# -- single-key workspaces (as every shared workspace was before members) -----------------------------


def _single_key(config: Path, workspace: Path) -> None:
    """This machine is given a workspace key for ``workspace`` before it exists: it makes a
    single-key workspace (without one, the first machine becomes its first member)."""
    keys.save_workspace_key(config, shared_workspace_id(workspace), keys.new_data_key())


def test_a_member_without_the_key_is_told_how_to_import_it_then_reads_the_same_contexts(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    alice, bob = _machine(tmp_path, "alice"), _machine(tmp_path, "bob")
    _single_key(alice, workspace)
    first = _open(pg_cluster.url, workspace, alice)
    first.create_context("plan", {"step": 1})
    first.close()
    with pytest.raises(AccessDenied) as refused:
        _open(pg_cluster.url, workspace, bob)
    assert "groundhog key import" in refused.value.message
    workspace_id = shared_workspace_id(workspace)
    exported = keys.key_string(workspace_id, keys.load_workspace_key(alice, workspace_id) or b"")
    imported_id, key = keys.parse_key_string(exported)
    keys.save_workspace_key(bob, imported_id, key)
    second = _open(pg_cluster.url, workspace, bob)
    try:
        assert second.load_state("plan").data == {"step": 1}
    finally:
        second.close()


def test_the_key_from_the_environment_opens_the_workspace(
    pg_cluster: PgCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    alice, ci = _machine(tmp_path, "alice"), _machine(tmp_path, "ci")
    _single_key(alice, workspace)
    _open(pg_cluster.url, workspace, alice).close()
    workspace_id = shared_workspace_id(workspace)
    monkeypatch.setenv(
        keys.WORKSPACE_KEY_ENV,
        keys.key_string(workspace_id, keys.load_workspace_key(alice, workspace_id) or b""),
    )
    _open(pg_cluster.url, workspace, ci).close()
    assert not keys.workspace_key_path(ci, workspace_id).exists()  # read from the variable, not copied


def test_a_wrong_key_and_a_rotated_key_are_refused(pg_cluster: PgCluster, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    alice, mallory, bob = (_machine(tmp_path, n) for n in ("alice", "mallory", "bob"))
    workspace_id = shared_workspace_id(workspace)
    _single_key(alice, workspace)
    manager = _open(pg_cluster.url, workspace, alice)
    manager.create_context("plan", {"secret": 1})
    old_key = keys.load_workspace_key(alice, workspace_id)
    assert old_key is not None
    keys.save_workspace_key(mallory, workspace_id, keys.new_data_key())  # another project's key
    with pytest.raises(AccessDenied) as wrong:
        _open(pg_cluster.url, workspace, mallory)
    assert "does not open" in wrong.value.message
    keys.save_workspace_key(bob, workspace_id, old_key)  # a member who leaves keeps a copy
    new_key = keys.new_data_key()
    manager.store.rewrap_key(new_key)  # through the store interface: every store has it
    keys.save_workspace_key(alice, workspace_id, new_key, replace=True)
    manager.close()
    with pytest.raises(AccessDenied):
        _open(pg_cluster.url, workspace, bob)
    reopened = _open(pg_cluster.url, workspace, alice)
    try:
        assert reopened.load_state("plan").data == {"secret": 1}
    finally:
        reopened.close()


def test_the_embedded_store_has_no_shared_key_to_rotate(tmp_path: Path) -> None:
    """Key rotation is part of the store interface; the embedded store refuses it with what to do
    instead, and stays as it was."""
    manager = create_manager(tmp_path / "ws", store_dir=tmp_path / "store", config_dir=tmp_path / "config")
    try:
        manager.create_context("plan", {"secret": 1})
        with pytest.raises(InvalidState) as refused:
            manager.store.rewrap_key(keys.new_data_key())
        assert "rotate-master" in refused.value.message
        announced: list[str] = []  # the rotation refuses before it prints a key that opens nothing
        with pytest.raises(InvalidState):
            rotate_workspace_key(manager, announced.append)
        assert announced == []
        assert manager.load_state("plan").data == {"secret": 1}
    finally:
        manager.close()


# -- the database: set-up, format, reachability --------------------------------------------------


def _schemas(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'g%'").fetchall()
    return sorted(r[0] for r in rows)


def test_a_database_without_the_schema_is_refused_and_nothing_is_written(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    url = _fresh_database(pg_cluster, initialized=False)
    with pytest.raises(PersistenceError) as refused:
        _open(url, tmp_path, _machine(tmp_path, "m"))
    assert "groundhog store init" in refused.value.message
    assert _schemas(url) == []
    assert init_database(url) == "set up" and init_database(url) == "already set up"
    assert _schemas(url) == ["groundhog"]


def test_a_newer_groundhog_s_database_or_workspace_is_refused(pg_cluster: PgCluster, tmp_path: Path) -> None:
    url = _fresh_database(pg_cluster)
    config = _machine(tmp_path, "m")
    _open(url, tmp_path, config).close()
    schema = f"gh_{shared_workspace_id(tmp_path)}"
    with psycopg.connect(url) as conn:
        conn.execute(f"UPDATE \"{schema}\".meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(PersistenceError) as newer_workspace:
        _open(url, tmp_path, config)
    assert "newer Groundhog" in newer_workspace.value.message
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE groundhog.meta SET value = '99' WHERE key = 'format'")
    with pytest.raises(PersistenceError) as newer_database:
        _open(url, tmp_path / "elsewhere", config)
    assert "newer Groundhog" in newer_database.value.message


def test_an_unreachable_server_is_a_quick_clear_error_that_never_shows_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    closed_port = 1  # nothing listens on port 1 of the loopback
    url = f"postgresql://groundhog:hunter2-canary@127.0.0.1:{closed_port}/groundhog"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PersistenceError) as refused:  # a hang would meet the test's timeout
        _open(url, tmp_path, _machine(tmp_path, "m"))
    assert "cannot be reached" in refused.value.message
    assert "hunter2-canary" not in refused.value.message and "hunter2-canary" not in caplog.text
    assert describe_url(url) == f"postgresql://groundhog@127.0.0.1:{closed_port}/groundhog"


def test_writes_during_an_outage_fail_quickly_and_none_acknowledged_is_lost(tmp_path: Path) -> None:
    cluster = PgCluster()  # its own cluster: this test restarts it
    cluster.create()
    try:
        workspace = tmp_path / "ws"
        workspace.mkdir()
        manager = _open(cluster.url, workspace, _machine(tmp_path, "m"), history_limit=500)
        tracker = manager.tracker("log")
        manager.create_context("log", {"n": 0})
        manager.register_session("s-1", {"name": "code", "version": "1", "kind": "lsp"})
        acknowledged: list[int] = []
        failures: list[str] = []
        for n in range(1, 61):
            if n == 20:
                cluster.stop("immediate")
                assert manager.leases.renew() is False  # a renewal in the outage: said, tried again
            if n == 40:
                cluster.start()
                assert manager.leases.renew() is True  # and the next one works
            try:
                tracker.update(Change(set={"n": n}))
                acknowledged.append(n)
            except PersistenceError as error:
                failures.append(error.message)
        assert failures and all("cannot be reached" in message for message in failures)
        assert acknowledged[:19] == list(range(1, 20)) and acknowledged[-1] == 60
        head = manager.load_state("log").version
        assert head == 1 + len(acknowledged)  # a refused write left no version behind
        assert [manager.load_state("log", v).data["n"] for v in range(2, head + 1)] == acknowledged
        assert [s.id for s in manager.live_sessions()] == ["s-1"]
        manager.close()
    finally:
        cluster.destroy()


def test_a_held_workspace_lock_is_a_lock_error_and_changes_nothing(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    """Writers of one workspace take turns (its advisory lock), as SQLite's BEGIN IMMEDIATE makes
    them: one that waits past its timeout answers LockError; readers never wait."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    manager = _open(pg_cluster.url, workspace, _machine(tmp_path, "m"), lock_timeout_s=0.3)
    try:
        manager.create_context("c")
        tracker = manager.tracker("c")
        tracker.update(Change(set={"a": 1}))
        lock_key = int(shared_workspace_id(workspace)[:15], 16)
        with psycopg.connect(pg_cluster.url, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (lock_key,))
            with pytest.raises(LockError):
                tracker.update(Change(set={"a": 2}))
            assert manager.load_state("c").data == {"a": 1}  # reads go on while a writer holds the lock
        tracker.update(Change(set={"a": 3}))
        assert manager.load_state("c").data == {"a": 3}
    finally:
        manager.close()


def test_a_database_that_does_not_exist_is_named_as_such(pg_cluster: PgCluster, tmp_path: Path) -> None:
    url = pg_cluster.url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(PersistenceError) as refused:
        _open(url, tmp_path, _machine(tmp_path, "m"))
    assert "does not exist" in refused.value.message and "groundhog store init" in refused.value.message
