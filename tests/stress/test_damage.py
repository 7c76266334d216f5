"""Damage over the whole store file, many seeds, through the library: bytes flipped at random offsets,
a page zeroed, the file cut at a page boundary or inside its last page, the WAL's frames flipped or
zeroed. For every seed the store opens (it never refuses to start), every context reads, every
version and snapshot it still serves is exactly one that was written (a recovered head holds the data
of an older version), every context takes a new version, and ``verify`` reports the damage unless
nothing was lost. A damaged file is set aside whole, never deleted.

The store is built once for the module and copied for each seed (tests/damage_tools.py)."""

from __future__ import annotations

import hashlib
import random
import threading
from pathlib import Path

import pytest

from groundhog import ContextError, ContextManager, ContextNotFound, create_manager
from groundhog.changes import Change
from groundhog.reports import SalvageReport
from groundhog.store import pages
from tests.damage_tools import CONTEXTS, DAMAGE, DELETED, PAGE, Built, Written, canonical, cases

pytestmark = pytest.mark.sqlite_only  # the SQLite file itself
SEEDS = 14


@pytest.mark.parametrize(("kind", "seed"), cases(SEEDS), ids=[f"{k}-{s}" for k, s in cases(SEEDS)])
def test_damage_never_stops_the_store_nor_serves_what_was_not_written(
    damage_base: Built, tmp_path: Path, kind: str, seed: int
) -> None:
    variant, damage = DAMAGE[kind]
    written = damage_base.written_wal if variant == "wal" else damage_base.written
    store_dir, config_dir = damage_base.copy(variant, tmp_path / "copy")
    database = damage_base.database(store_dir)
    what = damage(database, random.Random(seed))
    damaged = database.read_bytes()

    manager = create_manager(damage_base.workspace, store_dir=store_dir, config_dir=config_dir)
    try:
        served = _check_everything_served(manager, written, what)
        report = manager.verify()
        if served != _everything(written):  # something was lost: verify must say so
            assert not report.ok, what
        for salvage in manager.salvages:  # set aside whole, beside the new file
            aside = database.with_name(salvage.set_aside)
            assert hashlib.sha256(aside.read_bytes()).digest() == hashlib.sha256(damaged).digest(), what
            assert salvage.set_aside in salvage.summary()
        for info in manager.list_contexts():  # every context takes a new version, none reused
            result = manager.tracker(info.name).update(Change(set={"after": seed}))
            assert result.version > max(written.versions[info.name]), what
    finally:
        manager.close()


@pytest.mark.parametrize("seed", [*range(7), "contexts"])
def test_damage_met_while_the_store_serves_is_salvaged_and_every_call_answered(
    damage_base: Built, tmp_path: Path, seed: int | str
) -> None:
    """The file is damaged under an open store (a page zeroed); whatever call meets it first, a
    read or a write, the store sets the file aside and salvages it, the call is answered (run
    again on the salvaged file: nothing of it had been written), listeners are told, and what is
    served is only what was written. The calls run on a new thread, as a server's requests do: a
    connection that read a page before the damage keeps it in its cache."""
    written = damage_base.written
    store_dir, config_dir = damage_base.copy("clean", tmp_path / "copy")
    database = damage_base.database(store_dir)
    manager = create_manager(damage_base.workspace, store_dir=store_dir, config_dir=config_dir)
    told: list[SalvageReport] = []
    manager.on_salvage(told.append)
    try:
        if seed == "contexts":  # met first by a listing, not by a context's own calls
            roots = pages.schema(pages.load(database.read_bytes(), None))
            assert roots is not None
            page = roots["contexts"] - 1
        else:
            page = random.Random(seed).randrange(1, database.stat().st_size // PAGE)
        with database.open("r+b") as raw:  # the store keeps the file open: damaged in place
            raw.seek(page * PAGE)
            raw.write(bytes(PAGE))
        what = f"page {page + 1} zeroed under an open store"
        failures: list[BaseException] = []

        def serve() -> None:
            try:
                served = _check_everything_served(manager, written, what)
                for info in manager.list_contexts():
                    result = manager.tracker(info.name).update(Change(set={"after": seed}))
                    assert result.version > max(written.versions[info.name]), what
                if served != _everything(written):
                    assert not manager.verify().ok, what
            except BaseException as error:  # re-raised on the test's thread
                failures.append(error)

        thread = threading.Thread(target=serve)
        thread.start()
        thread.join()
        assert not failures, failures
        assert told == manager.salvages, what
        for salvage in told:
            assert (database.parent / salvage.set_aside).exists() and salvage.set_aside in salvage.summary()
    finally:
        manager.close()


def _everything(written: Written) -> dict[str, int]:
    return {name: max(versions) for name, versions in written.versions.items()}


def _check_everything_served(manager: ContextManager, written: Written, what: str) -> dict[str, int]:
    """Read every context, version and snapshot the store still has; each must be exactly as
    written. Returns the contexts served with their head version when it is the written head."""
    names = [info.name for info in manager.list_contexts()]
    assert DELETED not in names, f"{what}: a deleted context came back"
    assert set(names) <= set(CONTEXTS), (what, names)
    intact: dict[str, int] = {}
    for name in names:
        tracker = manager.tracker(name)
        try:
            head = tracker.get_state()
        except ContextNotFound:
            continue
        versions = written.versions[name]
        newest = max(versions)
        assert canonical(head.data) in written.any_of(name), f"{what}: {name} head is not a written version"
        entries, oldest = tracker.history(limit=10_000)
        for entry in entries:
            try:
                data = canonical(manager.load_state(name, entry.version).data)
            except ContextError:
                continue  # refused (damaged), never wrong
            if entry.version <= newest:
                assert data == versions[entry.version], f"{what}: {name} version {entry.version} differs"
            else:
                assert data in written.any_of(name), f"{what}: {name} version {entry.version} unknown"
        for snapshot in tracker.snapshots():
            try:
                state = tracker.get_snapshot(snapshot.id).state
            except ContextError:
                continue
            expected = written.snapshots.get(snapshot.id) or versions.get(state.version)
            if snapshot.metadata.get("kind") != "recoveryPoint" or expected is not None:
                assert canonical(state.data) == expected, f"{what}: {name} snapshot {snapshot.id} differs"
        listed = {snapshot.id for snapshot in tracker.snapshots()}
        if head.version == newest and oldest <= min(versions) and listed >= _snapshots_of(written, name):
            intact[name] = newest
    return intact


def _snapshots_of(written: Written, name: str) -> set[str]:
    ours = set(written.versions[name].values())
    return {sid for sid, data in written.snapshots.items() if data in ours}


def test_when_the_data_key_is_lost_too_the_store_starts_empty_and_says_so(
    damage_base: Built, tmp_path: Path
) -> None:
    """The pages holding the data key's row and its copy are gone: nothing can be decrypted. The
    store never refuses to start: it starts empty, with a new data key, keeps the damaged file, and
    says what that means (a backup of the file still opens with this machine's master key)."""
    store_dir, config_dir = damage_base.copy("clean", tmp_path / "copy")
    database = damage_base.database(store_dir)
    data = bytearray(database.read_bytes())
    roots = pages.schema(pages.load(bytes(data), None))
    assert roots is not None
    for table in ("keys", "meta"):
        page = roots[table]
        data[(page - 1) * 4096 : page * 4096] = bytes(4096)
    database.write_bytes(bytes(data))

    manager = create_manager(damage_base.workspace, store_dir=store_dir, config_dir=config_dir)
    try:
        [salvage] = manager.salvages
        assert salvage.data_key_lost and "new key" in salvage.summary()
        assert manager.list_contexts() == []
        assert database.with_name(salvage.set_aside).read_bytes() == bytes(data)
        manager.create_context("fresh", {"a": 1})
        assert not manager.verify().ok  # the salvage is reported until discarded
        assert manager.verify(discard_damaged=True).ok and manager.verify().ok
        assert not database.with_name(salvage.set_aside).exists()
    finally:
        manager.close()


def test_a_whole_file_read_past_sqlite_keeps_every_row(damage_base: Built, tmp_path: Path) -> None:
    """What a salvage keeps of an undamaged file: every row, the change feed's rows of a deleted
    context (under its negated id) included; nothing counted as lost."""
    from groundhog.store import salvage_plan

    store_dir, config_dir = damage_base.copy("clean", tmp_path / "copy")
    manager = create_manager(damage_base.workspace, store_dir=store_dir, config_dir=config_dir)
    try:
        database = damage_base.database(store_dir)
        raw = pages.load(database.read_bytes(), None)
        store = manager.store
        found = salvage_plan.plan(raw, store.workspace_id, store.unwrap, store.member_key)
        assert found.problems == [] and not any(found.lost.values()), found.lost
        assert any(row["context_id"] < 0 and row["kind"] == "delete" for row in found.rows["feed"])
        assert set(found.names.values()) == set(CONTEXTS)
    finally:
        manager.close()
