"""A store with members damaged below its rows is salvaged like any other (store/salvage.py) and
stays theirs: the salvaged file keeps every data key (the first, and the one a removal added) and
the members' rows, each member's wrap made anew, so every member still reads and writes it and a
removed member stays out. The embedded store only: salvage is the SQLite file's."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundhog import ContextManager, create_manager
from groundhog.changes import Change
from groundhog.errors import AccessDenied
from groundhog.member_keys import public_key


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, list[ContextManager]]]:
    monkeypatch.setenv("GROUNDHOG_MEMBER_NAME", "alice")
    monkeypatch.delenv("GROUNDHOG_STORE_URL", raising=False)
    (tmp_path / "workspace").mkdir()
    opened: list[ContextManager] = []
    yield tmp_path, opened
    for manager in opened:
        manager.close()


def _open(root: Path, opened: list[ContextManager], machine: str) -> ContextManager:
    config = root / "machines" / machine
    config.mkdir(parents=True, exist_ok=True, mode=0o700)
    manager = create_manager(root / "workspace", store_dir=root / "store", config_dir=config)
    opened.append(manager)
    return manager


def _key(root: Path, machine: str) -> str:
    config = root / "machines" / machine
    config.mkdir(parents=True, exist_ok=True, mode=0o700)
    return public_key(config)[0]


def _zero_a_page_of(database: Path, table: str) -> None:
    """Zero one page of ``table``'s b-tree: damage below the rows, which SQLite's check finds."""
    conn = sqlite3.connect(database)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        page = conn.execute("SELECT max(pageno) FROM dbstat WHERE name = ?", (table,)).fetchone()[0]
    finally:
        conn.close()
    assert page is not None and page > 1
    data = bytearray(database.read_bytes())
    data[(page - 1) * page_size : page * page_size] = bytes(page_size)
    database.write_bytes(bytes(data))


def test_a_damaged_store_with_two_members_is_salvaged_and_both_still_read_it(
    team: tuple[Path, list[ContextManager]],
) -> None:
    root, opened = team
    alice = _open(root, opened, "alice")
    alice.create_context("plan", {"step": 1})
    for name in ("bob", "carol"):
        alice.add_member(name, _key(root, name))
    alice.remove_member("carol")  # a second data key: the salvage must carry both
    alice.tracker("plan").update(Change(set={"step": 2}))
    for step in range(3, 40):  # an audit log of a few pages, one of which is damaged below
        alice.tracker("plan").update(Change(set={"step": step}))
    database = alice.store.path
    alice.close()
    opened.clear()
    _zero_a_page_of(database, "audit")

    bob = _open(root, opened, "bob")  # bob's server meets the damage first and salvages it
    assert [s.set_aside for s in bob.salvages], "the damaged file was set aside and salvaged"
    assert not bob.salvages[0].data_key_lost
    assert bob.load_state("plan").data == {"step": 39}
    assert bob.load_state("plan", 1).data == {"step": 1}  # under the first key
    assert sorted(m.name for m in bob.members()) == ["alice", "bob"]
    assert [m.name for m in bob.members() if m.you] == ["bob"]
    alice = _open(root, opened, "alice")
    assert alice.load_state("plan").data == {"step": 39}
    alice.tracker("plan").update(Change(set={"step": 40}))
    bob.tracker("plan").update(Change(set={"by": "bob"}))
    assert alice.load_state("plan").data == {"step": 40, "by": "bob"}
    with pytest.raises(AccessDenied, match="not a member"):
        _open(root, opened, "carol")
    assert (database.parent / bob.salvages[0].set_aside).exists()
