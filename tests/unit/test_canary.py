"""A unique canary written everywhere a user can write (keys, values, context names, labels, metadata,
editor state, client info) never appears in any file of the store or config dir, nor in the logs.

Everything user-written is encrypted, so a plain substring search on the raw bytes is the check.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from storetools import flip_byte, raw_db

from groundhog import ContextError, ContextState, VersionConflict, create_adapter
from groundhog.changes import Change

CANARY = "zq" + uuid.uuid4().hex  # letters and digits only: valid in a context name too


class RaisingSubscriber:
    def on_state_change(self, old_state: ContextState, new_state: ContextState) -> None:
        raise RuntimeError("subscriber failed")

    def on_error(self, error: ContextError) -> None:
        raise RuntimeError("subscriber failed on error")


def files_containing(root: Path, needle: bytes) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def assert_no_canary(store_env: Any, caplog: pytest.LogCaptureFixture, when: str) -> None:
    for root in (store_env.store_dir, store_env.config_dir):
        for needle in (CANARY.encode(), CANARY.encode("utf-16-le")):
            assert files_containing(root, needle) == [], f"canary on disk {when}: {all_files(root)}"
    assert CANARY not in caplog.text, when
    for record in caplog.records:
        assert CANARY not in record.getMessage(), when


def test_canary_never_reaches_disk_or_logs(store_env: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    manager = store_env.open()
    adapter = create_adapter(manager, client={"name": f"editor-{CANARY}", "version": CANARY})
    adapter.initialize_sync()
    name = f"proj/{CANARY}/ctx"
    key = f"key-{CANARY}"
    tracker = adapter.create_and_activate_context_sync(
        name, {key: f"first {CANARY}", CANARY: {"deep": [CANARY]}}
    )
    tracker.subscribe(RaisingSubscriber())
    tracker.update(Change(set={key: f"second {CANARY}"}, metadata={"note": CANARY, CANARY: CANARY}))
    tracker.update(Change(patch=[{"op": "add", "path": f"/{CANARY}/deep/-", "value": CANARY}]))
    state = tracker.get_state()
    state.set(f"other-{CANARY}", [CANARY] * 3)
    tracker.update_state(state)
    tracker.save_editor({"activeUri": f"file:///src/{CANARY}.py", "openDocuments": [], "selections": []})
    snapshot = tracker.create_snapshot(f"label {CANARY}", {"why": CANARY, CANARY: True})
    tracker.update(Change(remove=[key]))
    tracker.rollback(to_version=2)
    tracker.rollback(snapshot_id=snapshot.id)
    tracker.rollback(to_version=3, dry_run=True)
    tracker.diff(1)
    tracker.history()
    tracker.create_recovery_point()

    # Errors name the context or key in their messages; those messages are audited (encrypted).
    with pytest.raises(VersionConflict) as caught:
        tracker.update(Change(set={CANARY: 1}), base_version=1, on_conflict="merge")
    assert CANARY in caught.value.message
    with pytest.raises(ContextError):
        tracker.update(Change(set={CANARY: float("nan")}))
    with pytest.raises(ContextError):
        tracker.rollback(snapshot_id=f"no-such-{CANARY}")

    # A second context made and deleted, and a switch that records the last active name.
    adapter.create_and_activate_context_sync(f"gone-{CANARY}", {CANARY: CANARY})
    adapter.switch_context_sync(name)
    manager.delete_context(f"gone-{CANARY}")
    assert manager.verify().ok

    # While open (WAL and SHM present) and after closing.
    assert_no_canary(store_env, caplog, "while open")
    adapter.close()
    manager.close()
    assert_no_canary(store_env, caplog, "after close")

    # Damage at the head: recovery sets rows aside (in the quarantine table) and logs what it did.
    with raw_db(manager.store) as conn:
        context_id, head = conn.execute("SELECT id, head FROM contexts ORDER BY head DESC LIMIT 1").fetchone()
        blob = conn.execute(
            "SELECT delta_blob FROM versions WHERE context_id = ? AND version = ?", (context_id, head)
        ).fetchone()[0]
        conn.execute(
            "UPDATE versions SET delta_blob = ? WHERE context_id = ? AND version = ?",
            (flip_byte(blob), context_id, head),
        )
    manager = store_env.open()
    assert len(manager.recoveries) == 1
    report = manager.verify()
    assert not report.ok
    assert_no_canary(store_env, caplog, "after a recovery")
    manager.verify(discard_damaged=True)
    manager.close()
    assert_no_canary(store_env, caplog, "after discarding")
