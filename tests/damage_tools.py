"""A store built once, every version of it remembered, and damage done to copies of its files: the
shared ground of the damage suites (tests/stress/test_damage.py for the library, many seeds;
tests/e2e/test_damage_server.py for real servers).

The store has contexts with histories, snapshots, a rollback, editor state, a large value (pages
that overflow), a deleted context (pages that went free) and, in the ``wal`` copy, commits still in
its WAL as a killed server leaves them. Damage is what disks and crashes do: bytes flipped at random
offsets, a page zeroed, the file cut at a page boundary or inside its last page, frames of the WAL
flipped or zeroed.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from groundhog import ContextManager, create_manager
from groundhog.changes import Change
from groundhog.workspace import workspace_id_for

PAGE = 4096
CONTEXTS = ("default", "plan", "notes/a", "big")
DELETED = "gone"


def canonical(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


@dataclass
class Written:
    """Every version of every context as it was written, and every snapshot's data."""

    versions: dict[str, dict[int, bytes]] = field(default_factory=dict)
    snapshots: dict[str, bytes] = field(default_factory=dict)

    def record(self, name: str, manager: ContextManager) -> None:
        state = manager.tracker(name).get_state()
        self.versions.setdefault(name, {})[state.version] = canonical(state.data)

    def any_of(self, name: str) -> set[bytes]:
        return set(self.versions.get(name, {}).values())


@dataclass
class Built:
    root: Path  # holds workspace/, and the pristine copies under clean/ and wal/
    written: Written  # what the clean copy holds
    written_wal: Written  # what the wal copy holds (its last commits only in its WAL)

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    def database(self, store_dir: Path) -> Path:
        return store_dir / "workspaces" / workspace_id_for(self.workspace) / "store.db"

    def copy(self, variant: str, to: Path) -> tuple[Path, Path]:
        """A fresh copy of one variant: (store dir, config dir)."""
        shutil.copytree(self.root / variant, to)
        return to / "store", to / "config"


def build(root: Path) -> Built:
    workspace = root / "workspace"
    workspace.mkdir(parents=True)
    store, config = root / "live" / "store", root / "live" / "config"
    manager = create_manager(workspace, store_dir=store, config_dir=config)
    written = Written()
    rng = random.Random(20)
    manager.create_context(DELETED, {"secret": "never again"})
    for name in CONTEXTS:
        manager.create_context(name, {"title": name})
        written.record(name, manager)
    for step in range(24):
        for name in CONTEXTS:
            _change(manager, name, step, rng)
            written.record(name, manager)
            if step % 8 == 7:
                snapshot = manager.tracker(name).create_snapshot(f"s{step}")
                written.snapshots[snapshot.id] = written.versions[name][snapshot.state.version]
        if step == 12:
            manager.tracker("plan").rollback(to_version=5)
            written.record("plan", manager)
            manager.delete_context(DELETED)
    manager.tracker("default").save_editor(
        {"openDocuments": [], "activeUri": "file:///a.py", "selections": []}
    )
    manager.close()
    shutil.copytree(root / "live", root / "clean")
    written_wal = _with_wal_tail(root, workspace, written, rng)
    return Built(root, written, written_wal)


def _change(manager: ContextManager, name: str, step: int, rng: random.Random) -> None:
    tracker = manager.tracker(name)
    if name == "big":  # a value larger than a page: overflow pages
        tracker.update(Change(set={"blob": "".join(rng.choice("abcdef") for _ in range(9000)), "n": step}))
    elif step % 5 == 4:
        tracker.update(Change(remove=[f"k{step - 2}"]))
    else:
        tracker.update(Change(set={f"k{step}": {"step": step, "text": "x" * rng.randint(10, 600)}}))


def _with_wal_tail(root: Path, workspace: Path, written: Written, rng: random.Random) -> Written:
    """Commits that are still only in the WAL, copied while the writer is idle but open (as a
    killed server leaves them)."""
    live = root / "live"
    manager = create_manager(workspace, store_dir=live / "store", config_dir=live / "config")
    manager.store._connection().execute("PRAGMA wal_autocheckpoint=0")  # this thread writes it all
    tail = Written({name: dict(v) for name, v in written.versions.items()}, dict(written.snapshots))
    for step in range(24, 30):
        for name in CONTEXTS:
            _change(manager, name, step, rng)
            tail.record(name, manager)
    shutil.copytree(live, root / "wal")
    manager.close()
    return tail


# -- damage ----------------------------------------------------------------------------------------


def flip_bytes(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    count = rng.randint(1, 40)
    for _ in range(count):
        data[rng.randrange(len(data))] ^= rng.randint(1, 255)
    path.write_bytes(bytes(data))
    return f"{count} flipped byte(s)"


def zero_page(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    page = rng.randrange(len(data) // PAGE)
    data[page * PAGE : (page + 1) * PAGE] = bytes(PAGE)
    path.write_bytes(bytes(data))
    return f"page {page + 1} zeroed"


def truncate(path: Path, rng: random.Random) -> str:
    pages = os.path.getsize(path) // PAGE
    keep = rng.randint(1, pages - 1)
    os.truncate(path, keep * PAGE)
    return f"cut to {keep} of {pages} pages"


def torn_last_page(path: Path, rng: random.Random) -> str:
    size = os.path.getsize(path)
    cut = size - rng.randint(1, PAGE - 1)
    os.truncate(path, cut)
    return f"last page torn at byte {cut % PAGE}"


def wal_flip(path: Path, rng: random.Random) -> str:
    return flip_bytes(Path(f"{path}-wal"), rng) + " in the WAL"


def wal_zero_frame(path: Path, rng: random.Random) -> str:
    wal = Path(f"{path}-wal")
    data = bytearray(wal.read_bytes())
    frame = 24 + PAGE
    number = rng.randrange((len(data) - 32) // frame)
    start = 32 + number * frame
    data[start : start + frame] = bytes(frame)
    wal.write_bytes(bytes(data))
    return f"WAL frame {number + 1} zeroed"


DAMAGE: dict[str, tuple[str, Callable[[Path, random.Random], str]]] = {
    "flip": ("clean", flip_bytes),
    "zero_page": ("clean", zero_page),
    "truncate": ("clean", truncate),
    "torn": ("clean", torn_last_page),
    "wal_flip": ("wal", wal_flip),
    "wal_zero": ("wal", wal_zero_frame),
}


def cases(seeds: int) -> list[tuple[str, int]]:
    """Every kind of damage, with seeds 0..``seeds``-1 of each."""
    return [(kind, seed) for kind in DAMAGE for seed in range(seeds)]
