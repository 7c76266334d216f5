"""The workspace change feed and the session records agents read: what one connection commits,
a poller on another thread sees; creates, deletes and persisted editor states are reported even
though the feed carries only versions; sessions of dead processes are not listed."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.conftest import StoreEnv

from groundhog import ContextManager
from groundhog.changes import Change
from groundhog.store.liveness import session_pid
from groundhog.sync import ChangeFeed, WorkspaceChanges


def _made_on_another_thread(manager: ContextManager) -> ChangeFeed:
    made: list[ChangeFeed] = []
    thread = threading.Thread(target=lambda: made.append(ChangeFeed(manager.store)))
    thread.start()
    thread.join()
    return made[0]


def test_a_feed_made_on_one_thread_and_polled_on_another_misses_nothing(store_env: StoreEnv) -> None:
    """Sessions are opened on one thread and polled on their worker: data_version counts per
    connection, so a commit between the two must still be seen on the first poll."""
    reader = store_env.open()
    writer = store_env.open()
    try:
        writer.create_context("default")
        feed = _made_on_another_thread(reader)
        writer.tracker("default").update(Change(set={"a": 1}))
        with ThreadPoolExecutor(max_workers=1) as worker:
            events = worker.submit(feed.poll).result()
            assert [(e.context, e.version, e.changed_keys) for e in events] == [("default", 2, ["a"])]
            assert worker.submit(feed.poll).result() == []
            writer.tracker("default").update(Change(set={"a": 2}))
            assert [e.version for e in worker.submit(_next_changes, feed).result().events] == [3]
    finally:
        reader.close()
        writer.close()


def test_creates_deletes_and_editor_states_are_reported_beside_the_versions(store_env: StoreEnv) -> None:
    reader = store_env.open()
    writer = store_env.open()
    try:
        writer.create_context("default")
        feed = ChangeFeed(reader.store)
        feed.poll_workspace()
        writer.register_session("s-editor", {"name": "code", "version": "1", "kind": "lsp"})
        writer.create_context("other")
        changes = _next_changes(feed)
        assert changes.contexts_changed and [e.context for e in changes.events] == ["other"]
        writer.save_session_editor(
            "s-editor", {"openDocuments": [], "activeUri": "file:///a", "selections": []}
        )
        changes = _next_changes(feed)
        assert changes.editors_changed and not changes.contexts_changed and changes.events == []
        writer.delete_context("other")
        changes = _next_changes(feed)
        assert changes.contexts_changed and changes.events == []
        writer.end_session("s-editor")
        assert _next_changes(feed).editors_changed
        quiet = feed.poll_workspace()  # nothing since (it may look: a NOTIFY lands after its commit is read)
        assert (quiet.events, quiet.contexts_changed, quiet.editors_changed) == ([], False, False)
    finally:
        reader.close()
        writer.close()


def test_every_create_and_delete_is_a_list_change_however_close_together(store_env: StoreEnv) -> None:
    """List changes come from the feed, not from a fingerprint between polls: a context created
    and deleted between two polls is two changes (its name unknown to a reader that never saw
    it), a deleted context the reader knew is named, and a later context that gets the deleted
    one's id (SQLite reuses the highest) inherits none of its rows."""
    reader = store_env.open()
    writer = store_env.open()
    try:
        writer.create_context("default")
        writer.create_context("known")
        feed = ChangeFeed(reader.store)
        writer.create_context("brief")
        writer.delete_context("brief")
        changes = _next_changes(feed)
        assert [(c.kind, c.context) for c in changes.list_changes] == [("create", None), ("delete", None)]
        assert changes.contexts_changed and changes.events == []
        writer.tracker("known").update(Change(set={"a": 1}))
        writer.delete_context("known")
        writer.create_context("successor")
        changes = _next_changes(feed)
        assert [(c.kind, c.context) for c in changes.list_changes] == [
            ("delete", "known"),
            ("create", "successor"),
        ]
        assert [(e.context, e.version, e.kind) for e in changes.events] == [("successor", 1, "create")]
        assert feed.poll_workspace().list_changes == []
    finally:
        reader.close()
        writer.close()


def test_a_reader_passes_rows_it_cannot_read_and_never_stalls(store_env: StoreEnv) -> None:
    """Rows of a deleted context (its versions are gone) are read past, however many: a reader
    behind them still gets what follows."""
    reader = store_env.open()
    writer = store_env.open()
    try:
        writer.create_context("default")
        feed = ChangeFeed(reader.store)
        writer.create_context("busy")
        tracker = writer.tracker("busy")
        for i in range(700):  # more than a batch of feed rows (within what the feed keeps)
            tracker.update(Change(set={"n": i}))
        writer.delete_context("busy")
        writer.tracker("default").update(Change(set={"after": True}))
        seen: list[Any] = []
        while not any(e.context == "default" for e in seen):
            changes = _next_changes(feed)
            assert changes.looked, "the reader stopped before the rows that follow"
            seen += changes.events + changes.list_changes
        kinds = [(c.kind, c.context) for c in seen if not hasattr(c, "seq")]
        assert kinds == [("create", "busy"), ("delete", "busy")] or kinds == [
            ("create", None),
            ("delete", None),
        ]
    finally:
        reader.close()
        writer.close()


def test_live_sessions_say_who_is_open_where_with_their_editor_state(store_env: StoreEnv) -> None:
    manager = store_env.open()
    try:
        manager.create_context("default")
        manager.register_session("s-editor", {"name": "code", "version": "1.9", "kind": "lsp"})
        manager.session_activated("s-editor", "default")
        manager.register_session("s-agent", {"name": "claude-code", "version": None, "kind": "mcp"})
        editor: dict[str, Any] = {"openDocuments": [], "activeUri": "file:///w/a.py", "selections": []}
        manager.save_session_editor("s-editor", editor)
        with manager.store.write() as tx:  # a session whose process died without ending it
            tx.conn.execute(
                "INSERT INTO sessions(id, pid, started, active_mac, client_blob) VALUES (?, ?, ?, NULL, ?)",
                (
                    "s-dead",
                    (session_pid() & ~0xFFFFFFFF) | (2**22 + 12345),  # this machine's, dead
                    "2026-01-01T00:00:00.000Z",
                    tx.cipher.seal_json({}, "sessions", "s-dead"),
                ),
            )
        live = {s.id: s for s in manager.live_sessions()}
        assert set(live) == {"s-editor", "s-agent"}
        assert (live["s-editor"].kind, live["s-editor"].client, live["s-editor"].context) == (
            "lsp",
            "code",
            "default",
        )
        assert live["s-editor"].editor == editor and live["s-editor"].editor_saved
        assert (live["s-agent"].kind, live["s-agent"].editor) == ("mcp", None)
        saved = manager.last_saved_editor()
        assert saved is None  # nothing was persisted into a context yet
        manager.tracker("default").save_editor(editor)
        saved = manager.last_saved_editor()
        assert saved is not None and (saved.context, saved.editor) == ("default", editor)
        manager.end_session("s-editor")
        assert [s.id for s in manager.live_sessions()] == ["s-agent"]
        with manager.store.read() as tx:
            assert tx.conn.execute("SELECT count(*) FROM session_editors").fetchone()[0] == 0
    finally:
        manager.close()


def test_a_read_only_manager_persists_no_session_editor(store_env: StoreEnv) -> None:
    writer = store_env.open()
    writer.create_context("default")
    writer.close()
    reader = store_env.open(read_only=True)
    try:
        reader.save_session_editor("s-x", {"openDocuments": [], "activeUri": None, "selections": []})
        with reader.store.read() as tx:
            assert tx.conn.execute("SELECT count(*) FROM session_editors").fetchone()[0] == 0
    finally:
        reader.close()


def test_the_live_editor_writes_out_exactly_the_one_editor_shape() -> None:
    from groundhog.editor import EMPTY_EDITOR, EditorContext
    from groundhog.model import EditorState

    editor = EditorContext()
    editor.opened("file:///w/a.py", "python", 3)
    editor.edited("file:///w/a.py", 4)
    cursor = {"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 5}}
    editor.focused("file:///w/a.py", [{"uri": "file:///w/a.py", "ranges": [cursor]}])
    for wire in (editor.to_wire(), EMPTY_EDITOR):
        assert EditorState.model_validate(wire).to_wire() == wire  # nothing missing, nothing extra


def _next_changes(feed: ChangeFeed) -> WorkspaceChanges:
    """The next poll that finds something: another process's commit reaches a PostgreSQL reader by
    NOTIFY, a few milliseconds after it returns (SQLite's data_version moves at once)."""
    deadline = time.monotonic() + 60  # stops a hung test only: it returns at the first change
    while True:
        changes = feed.poll_workspace()
        if changes != WorkspaceChanges() or time.monotonic() > deadline:
            return changes
        time.sleep(0.01)
