"""Members, each with a key of their own, on both stores: any member adds one, removing one gives
those who stay a new data key (nothing re-encrypted: what the removed one could read stays readable
to them, nothing written after), every change audited with who made it; bad input is one clear
error and changes nothing; names are sealed; keys live under the master key's rules."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.conftest import StoreEnv
from tests.unit.storetools import dump_store, raw_db
from tests.unit.test_shared_store import _single_key

from groundhog import ContextManager, create_manager
from groundhog.changes import Change
from groundhog.errors import (
    AccessDenied,
    AlreadyExists,
    ContextError,
    InvalidParams,
    InvalidState,
)
from groundhog.member_keys import new_member_secret, public_key

Open = Callable[[str], ContextManager]


@pytest.fixture
def machines(store_env: StoreEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Open]:
    """``open(name)``: the workspace as the machine ``name`` sees it (its own key directory: its own
    member key, its own master key). The first one opened makes the store; a workspace's first
    member is named "alice"."""
    monkeypatch.setenv("GROUNDHOG_MEMBER_NAME", "alice")
    opened: list[ContextManager] = []

    def open_as(name: str) -> ContextManager:
        config = tmp_path / "machines" / name
        config.mkdir(parents=True, exist_ok=True, mode=0o700)
        manager = create_manager(
            store_env.workspace,
            store_dir=store_env.store_dir,
            config_dir=config,
            store_url=store_env.store_url,
        )
        opened.append(manager)
        return manager

    open_as.key = lambda name: _public(tmp_path / "machines" / name)  # type: ignore[attr-defined]
    yield open_as
    for manager in opened:
        manager.close()


def _public(config: Path) -> str:
    config.mkdir(parents=True, exist_ok=True, mode=0o700)
    return public_key(config)[0]


def test_a_member_adds_others_who_then_read_and_write_everything(machines: Open) -> None:
    alice = machines("alice")
    alice.create_context("plan", {"step": 1})
    alice.add_member("bob", machines.key("bob"))  # type: ignore[attr-defined]
    bob = machines("bob")
    assert bob.load_state("plan").data == {"step": 1}
    bob.tracker("plan").update(Change(set={"by": "bob"}))
    bob.add_member("carol", machines.key("carol"))  # type: ignore[attr-defined]
    carol = machines("carol")
    assert carol.load_state("plan").data == {"step": 1, "by": "bob"}
    listed = {m.name: m for m in carol.members()}
    assert set(listed) == {"alice", "bob", "carol"}
    assert [listed[n].added_by for n in ("alice", "bob", "carol")] == [None, "alice", "bob"]
    assert [m.name for m in carol.members() if m.you] == ["carol"]
    events = {
        (r["event"], r["details"].get("member"), r["details"].get("by")) for r in carol.audit_records(50)
    }
    assert {("member-added", "carol", "bob"), ("member-added", "bob", "alice")} <= events
    assert alice.verify().ok


def test_removing_a_member_gives_those_who_stay_a_new_key_and_leaves_the_removed_one_what_it_read(
    machines: Open, store_env: StoreEnv
) -> None:
    alice = machines("alice")
    alice.create_context("plan", {"step": 1})
    for name in ("bob", "carol"):
        alice.add_member(name, machines.key(name))  # type: ignore[attr-defined]
    bob, carol = machines("bob"), machines("carol")  # both running when carol is removed
    carol.tracker("plan").update(Change(set={"carol": "was here"}))
    before = {t: rows for t, rows in dump_store(alice.store).items() if t in ("versions", "checkpoints")}
    staying = alice.remove_member("carol")
    assert sorted(m.name for m in staying) == ["alice", "bob"]
    after = {t: rows for t, rows in dump_store(alice.store).items() if t in ("versions", "checkpoints")}
    assert after == before  # nothing was re-encrypted: the removal re-wrapped a key, no more
    alice.tracker("plan").update(Change(set={"secret": "after carol"}))
    with raw_db(alice.store) as conn:  # what is written from now on is sealed under a new key
        blobs = [
            bytes(r[0]) for r in conn.execute("SELECT keys_blob FROM versions ORDER BY version").fetchall()
        ]
    assert _key_of(blobs[-1]) == _key_of(blobs[-2]) + 1
    bob.tracker("plan").update(Change(set={"bob": 2}))  # bob's running server learns the new key
    assert bob.load_state("plan").data == {"step": 1, "carol": "was here", "secret": "after carol", "bob": 2}
    assert bob.load_state("plan", 2).data == {"step": 1, "carol": "was here"}  # and reads the old ones
    with pytest.raises(AccessDenied, match="no longer a member"):  # carol's running server may not write
        carol.tracker("plan").update(Change(set={"carol": "again"}))
    # what was written before, its keys still open (a copy of the database and those keys: honest)
    old = carol.store.reading(lambda tx: tx.load_state(tx.find_context("plan"), 2))
    assert old.version == 2 and old.values == {"step": b"1", "carol": b'"was here"'}
    with pytest.raises(AccessDenied, match="no longer a member"):  # what is written after, it cannot
        carol.load_state("plan")
    with pytest.raises(AccessDenied, match="not a member"):
        machines("carol")
    assert [m.name for m in machines("bob").members() if m.you] == ["bob"]
    events = [(r["event"], r["details"].get("member")) for r in alice.audit_records(50)]
    assert ("member-removed", "carol") in events
    assert alice.verify().ok


def test_bad_input_is_one_clear_error_and_changes_nothing(machines: Open) -> None:
    alice = machines("alice")
    alice.create_context("plan", {"step": 1})
    alice.add_member("bob", machines.key("bob"))  # type: ignore[attr-defined]
    good = machines.key("carol")  # type: ignore[attr-defined]
    prefix, body = good.split(":")
    cases: list[tuple[type[ContextError], Callable[[], object], str]] = [
        (InvalidParams, lambda: alice.add_member("carol", f"{prefix}:{body[:20]}"), "not 32"),
        (
            InvalidParams,
            lambda: alice.add_member("carol", "ssh-ed25519 AAAAC3Nza"),
            "not a Groundhog member key",
        ),
        (
            InvalidParams,
            lambda: alice.add_member("carol", f"{prefix}:{'A' * 43}"),
            "not an X25519 public key",
        ),
        (InvalidParams, lambda: alice.add_member("", good), "member name"),
        (InvalidParams, lambda: alice.add_member("x\u0000y", good), "member name"),
        (AlreadyExists, lambda: alice.add_member("BOB", good), "named 'bob' already"),
        (AlreadyExists, lambda: alice.add_member("carol", machines.key("bob")), "the member 'bob'"),  # type: ignore[attr-defined]
        (InvalidParams, lambda: alice.remove_member("nobody"), "No member is named"),
    ]
    for kind, action, words in cases:
        before = dump_store(alice.store)
        with pytest.raises(kind, match=words) as caught:
            action()
        assert "\n" not in caught.value.message
        assert dump_store(alice.store) == before
    alice.remove_member("bob")
    before = dump_store(alice.store)
    with pytest.raises(InvalidState, match="last member"):
        alice.remove_member("alice")
    assert dump_store(alice.store) == before
    assert alice.load_state("plan").data == {"step": 1}


def test_member_names_are_sealed_and_keys_kept_under_the_master_key_s_rules(
    machines: Open, tmp_path: Path
) -> None:
    canary = "Canary" + "Member9z"  # in two parts: this file itself is no match
    alice = machines("alice")
    alice.add_member(canary, machines.key("bob"))  # type: ignore[attr-defined]
    assert canary not in repr(dump_store(alice.store, exclude=()))
    key_file = tmp_path / "machines" / "bob" / "member.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    os.chmod(key_file, 0o644)  # readable by others: it may have been copied, so it is refused
    with pytest.raises(AccessDenied, match="may have been copied"):
        machines("bob")


def test_a_build_machine_s_member_key_comes_from_the_environment(
    machines: Open, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = machines("alice")
    alice.create_context("plan", {"step": 1})
    secret, public, variable = new_member_secret()
    alice.add_member("ci", public)
    monkeypatch.setenv(variable, secret)
    ci = machines("ci")
    assert ci.load_state("plan").data == {"step": 1}
    assert [m.name for m in ci.members() if m.you] == ["ci"]
    monkeypatch.setenv(variable, "groundhog-member-secret-1:short")
    with pytest.raises(AccessDenied, match="not a member's secret key"):
        machines("ci-2")


def test_a_single_key_workspace_gets_members_and_its_key_opens_only_what_came_before(
    machines: Open, store_env: StoreEnv
) -> None:
    if store_env.backend == "postgresql":  # made by a machine given a workspace key: single-key
        config = store_env.workspace.parent / "machines" / "alice"
        config.mkdir(parents=True, mode=0o700)
        _single_key(config, store_env.workspace)
    alice = machines("alice")  # the embedded store is single-key until members start
    alice.create_context("plan", {"before": 1})
    assert alice.members() == []
    alice.start_members("alice")
    alice.tracker("plan").update(Change(set={"after": 2}))
    assert [(m.name, m.you) for m in alice.members()] == [("alice", True)]
    with pytest.raises(InvalidState, match="has members already"):
        alice.start_members("alice")
    alice.close()
    again = machines("alice")  # opens by its member key now
    assert again.load_state("plan").data == {"before": 1, "after": 2}
    assert [r["event"] for r in again.audit_records(20)].count("members-started") == 1
    assert again.verify().ok


def _key_of(blob: bytes) -> int:
    """The number of the data key that sealed ``blob`` (store/codec.py)."""
    return 1 if blob[:1] == b"\x01" else int.from_bytes(blob[1:5], "big")
