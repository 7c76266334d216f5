"""What bounds a rollback's tail at 1 MB (issue 23), pinned by structure, never by time: no rebuild
of a 1 MB state goes through more than 256 deltas (a checkpoint also every state-size worth of
deltas counted at 4 KB each), the changed keys of a span are read without the large delta blobs
(a `recover` version still breaks the span), and a value replaced by an unrelated one is stored
whole without searching for common ends."""

from __future__ import annotations

from typing import Any

from tests.conftest import StoreEnv
from tests.unit.storetools import context_id, flip_byte, raw_db

from groundhog.changes import Change
from groundhog.store.codec import Payload
from groundhog.store.splices import spliced


def test_no_rebuild_of_a_1mb_state_goes_through_more_than_256_deltas(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("big", {f"k{i:03d}": "x" * 10_000 for i in range(100)})  # ~1 MB
    tracker = manager.tracker("big")
    for n in range(700):
        tracker.update(Change(set={f"k{n % 100:03d}": f"{n:06d}" + "y" * 9_994}))
    with raw_db(manager.store) as conn:
        cid = context_id(conn, manager, "big")
        checkpoints = [
            v for (v,) in conn.execute("SELECT version FROM checkpoints WHERE context_id = ?", (cid,))
        ]
    state_bytes = tracker.read().measured_size()
    most = state_bytes // 4096 + 1
    gaps = [b - a for a, b in zip(sorted(checkpoints), sorted(checkpoints)[1:], strict=False)]
    assert gaps and max(gaps) <= most, (checkpoints, most)
    assert tracker.version - max(checkpoints) <= most  # the head too
    assert most <= 260
    manager.close()


def test_changed_keys_of_a_span_stop_at_a_recover_version(store_env: StoreEnv) -> None:
    manager = store_env.open()
    manager.create_context("plan", {"a": 0})
    tracker = manager.tracker("plan")
    for n in range(1, 5):
        tracker.update(Change(set={"a": n, f"k{n}": n}))  # versions 2..5
    with raw_db(manager.store) as conn:
        cid = context_id(conn, manager, "plan")
        query = "SELECT delta_blob FROM versions WHERE context_id = ? AND version = 5"
        blob = bytes(conn.execute(query, (cid,)).fetchone()[0])
        conn.execute(
            "UPDATE versions SET delta_blob = ? WHERE context_id = ? AND version = 5", (flip_byte(blob), cid)
        )
    manager.close()
    manager = store_env.open()  # recovers version 5 as version 6 (linking to version 4)
    tracker = manager.tracker("plan")
    tracker.update(Change(set={"b": 1}))  # version 7
    with manager.store.read() as tx:
        row = tx.find_context("plan")
        assert row is not None and row.head == 7
        assert tx.changed_keys_between(row, 2, 4) == {"a", "k2", "k3"}  # versions 3 and 4
        assert tx.changed_keys_between(row, 4, 7) is None  # across the recover version: compare states
        assert tx.changed_keys_between(row, 6, 7) == {"b"}
    assert tracker.rollback(to_version=4).changed_keys == ["b"]  # from the states: still right
    manager.close()


def test_an_unrelated_value_is_stored_whole_and_an_edit_as_a_splice() -> None:
    old = {"new": b'"' + b"a" * 2000 + b'"', "edit": b'"' + b"b" * 2000 + b'"'}
    new = {"new": b'"' + b"c" * 2000 + b'"', "edit": b'"' + b"b" * 1000 + b"X" + b"b" * 999 + b'"'}
    delta = spliced(Payload(values=dict(new)), old)
    splices: Any = (delta.extra or {}).get("s")
    assert delta.values["new"] == new["new"] and "new" not in splices
    assert splices["edit"] == [1001, 1000] and delta.values["edit"] == b"X"
