"""The specification's usage example, run as written, then what a user can observe afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundhog import ContextStatus, create_adapter, create_manager
from groundhog.workspace import workspace_id_for


async def test_usage_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, config = tmp_path / "home", tmp_path / "config"
    monkeypatch.setenv("GROUNDHOG_HOME", str(home))
    monkeypatch.setenv("GROUNDHOG_CONFIG_DIR", str(config))

    # --- the example, verbatim ---
    manager = create_manager()
    adapter = create_adapter(manager)
    await adapter.initialize()
    tracker = adapter.get_current_tracker()
    state = tracker.get_state()
    state.set("key", "value")
    tracker.update_state(state)
    new_tracker = await adapter.create_and_activate_context("new-context")
    await adapter.switch_context("default")
    # --- end of the example ---

    assert tracker.name == "default"
    assert tracker.get_state().data == {"key": "value"}
    assert tracker.get_state().version == 2
    assert state.version == 1, "the working copy is not changed by update_state"

    assert new_tracker.name == "new-context"
    assert new_tracker.get_state().version == 1
    assert new_tracker.get_state().data == {}

    assert adapter.get_current_tracker().name == "default"
    assert adapter.status("default") is ContextStatus.ACTIVE
    assert adapter.status("new-context") is ContextStatus.INACTIVE
    assert adapter.status("never-made") is ContextStatus.NONEXISTENT
    assert sorted(info.name for info in manager.list_contexts()) == ["default", "new-context"]

    entries, oldest = tracker.history()
    assert [(e.version, e.kind, e.changed_keys) for e in entries] == [
        (2, "update", ["key"]),
        (1, "create", []),
    ]
    assert oldest == 1

    # The store went where the environment said, nowhere else.
    database = home / "workspaces" / workspace_id_for(None) / "store.db"
    assert database.is_file()
    assert (config / "master.key").is_file()
    assert b"value" not in database.read_bytes()
    adapter.close()
    manager.close()

    # A later session finds everything again, with the last switched-to context active.
    reopened = create_manager()
    later = create_adapter(reopened)
    await later.initialize()
    assert later.active_name == "default"
    assert later.get_current_tracker().get_state().data == {"key": "value"}
    assert reopened.load_state("new-context").version == 1
    assert reopened.verify().ok
    later.close()
    reopened.close()
