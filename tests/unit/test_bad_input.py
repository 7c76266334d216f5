"""Bad input answers one specific error class and leaves the store exactly as it was.

"Exactly as it was" is checked on the raw database: every row of every table except ``audit`` (which
records failed requests on purpose) is the same before and after.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from storetools import dump_store

from groundhog import (
    AccessDenied,
    AlreadyExists,
    ContextError,
    ContextManager,
    ContextNotFound,
    ContextState,
    InvalidParams,
    InvalidState,
    SnapshotNotFound,
    TooLarge,
    VersionConflict,
    create_adapter,
)
from groundhog.changes import Change
from groundhog.manager import Source

LIMIT = 2000  # snapshot_max_bytes of the store under test
HISTORY = 5  # history_limit: "work" has versions 1..12, so 8..12 are kept


class Store:
    """A store with two contexts, history beyond the limit and a snapshot in each."""

    def __init__(self, store_env: Any) -> None:
        self.env = store_env
        self.manager: ContextManager = store_env.open(history_limit=HISTORY, snapshot_max_bytes=LIMIT)
        self.manager.create_context("default", {"d": 1})
        self.manager.create_context("work", {"a": 1}, {"m": 1})
        self.work = self.manager.tracker("work")
        for number in range(2, 13):
            self.work.update(Change(set={"a": number, f"k{number % 3}": "é" * number}))
        self.snapshot = self.work.create_snapshot("s", {"x": 1}).id
        self.default_snapshot = self.manager.tracker("default").create_snapshot("d").id
        assert self.work.version == 12
        assert self.work.history()[1] == 8
        self.path = self.manager.store

    def unchanged(self, error: type[ContextError], action: Callable[[], object]) -> ContextError:
        """Run ``action``: it must raise exactly ``error`` (or a subclass) and change no row."""
        before = dump_store(self.path)
        with pytest.raises(error) as caught:
            action()
        assert dump_store(self.path) == before, f"{error.__name__} changed the store"
        assert caught.value.message and caught.value.kind
        return caught.value


@pytest.fixture
def store(store_env: Any) -> Iterator[Store]:
    opened = Store(store_env)
    yield opened
    opened.manager.close()


BAD_NAMES = [
    "",
    "a" * 129,
    "..",
    "a/..",
    "../a",
    "a/../b",
    ".",
    "a/./b",
    ".hidden",
    "/abs",
    "a//b",
    "a/",
    "with space",
    " lead",
    "trail ",
    "tab\tname",
    "new\nline",
    "nul\x00byte",
    "semi;colon",
    "back\\slash",
    "ünïcode",
    "star*",
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_invalid_context_names(store: Store, name: str) -> None:
    manager = store.manager
    adapter = create_adapter(manager, session_id="s-test")
    store.unchanged(InvalidParams, lambda: manager.create_context(name))
    store.unchanged(InvalidParams, lambda: manager.create_context(name, source=Source("work")))
    store.unchanged(InvalidParams, lambda: manager.create_context("fine", source=Source(name)))
    store.unchanged(InvalidParams, lambda: manager.tracker(name))
    store.unchanged(InvalidParams, lambda: manager.delete_context(name))
    store.unchanged(InvalidParams, lambda: manager.exists(name))
    store.unchanged(InvalidParams, lambda: adapter.switch_context_sync(name, create=True))
    store.unchanged(InvalidParams, lambda: adapter.activate(name))
    store.unchanged(InvalidParams, lambda: adapter.status(name))
    assert not manager.exists("fine")


@pytest.mark.parametrize("name", [None, 42, b"bytes", ["list"]], ids=repr)
def test_context_names_that_are_not_strings(store: Store, name: Any) -> None:
    store.unchanged(InvalidParams, lambda: store.manager.create_context(name))
    store.unchanged(InvalidParams, lambda: store.manager.tracker(name))


@pytest.mark.parametrize("name", ["a" * 128, "a", "A.b_c-d/e", "x/y/z", "a..b", "a.", "9"])
def test_valid_edge_names_work(store: Store, name: str) -> None:
    store.manager.create_context(name, {"n": name})
    assert store.manager.load_state(name).data == {"n": name}
    assert name in [info.name for info in store.manager.list_contexts()]


class Opaque:
    pass


NON_JSON = {
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "set": {1, 2},
    "frozenset": frozenset(),
    "bytes": b"raw",
    "bytearray": bytearray(b"raw"),
    "tuple": (1, 2),
    "object": Opaque(),
    "datetime": datetime.datetime(2024, 1, 1),
    "decimal": decimal.Decimal("1.5"),
    "complex": 1j,
    "nested nan": {"a": [1, {"b": math.nan}]},
    "nested tuple": [[1, (2, 3)]],
    "int key": {1: "x"},
    "nested set": {"a": {"b": {3}}},
}


@pytest.mark.parametrize("kind", NON_JSON)
def test_non_json_values_are_refused_everywhere(store: Store, kind: str) -> None:
    value = NON_JSON[kind]
    work, manager = store.work, store.manager

    def via_update_state() -> None:
        state = work.get_state()
        state.set("k", value)
        work.update_state(state)

    def via_state_metadata() -> None:
        state = work.get_state()
        state.metadata["m"] = value
        work.update_state(state)

    store.unchanged(InvalidParams, via_update_state)
    store.unchanged(InvalidParams, via_state_metadata)
    store.unchanged(InvalidParams, lambda: work.update(Change(set={"k": value})))
    store.unchanged(InvalidParams, lambda: work.update(Change(set={"a": 1, "k": value})))
    store.unchanged(InvalidParams, lambda: work.update(Change(metadata={"m": value})))
    store.unchanged(
        InvalidParams, lambda: work.update(Change(patch=[{"op": "add", "path": "/k", "value": value}]))
    )
    store.unchanged(
        InvalidParams,
        lambda: work.update(Change(patch=[{"op": "add", "path": "/k", "value": {"in": value}}])),
    )
    store.unchanged(InvalidParams, lambda: manager.create_context("fresh", {"k": value}))
    store.unchanged(InvalidParams, lambda: manager.create_context("fresh", {}, {"m": value}))
    store.unchanged(InvalidParams, lambda: work.create_snapshot("label", {"m": value}))
    assert not manager.exists("fresh")


@pytest.mark.parametrize("key", [1, 2.5, None, ("t",), b"k"], ids=repr)
def test_top_level_keys_that_are_not_strings(store: Store, key: Any) -> None:
    work = store.work

    def via_update_state() -> None:
        state = work.get_state()
        state.data[key] = 1
        work.update_state(state)

    store.unchanged(InvalidParams, via_update_state)
    store.unchanged(InvalidParams, lambda: work.update(Change(set={key: 1})))
    store.unchanged(InvalidParams, lambda: work.update(Change(remove=[key])))
    store.unchanged(InvalidParams, lambda: store.manager.create_context("fresh", {key: 1}))


@pytest.mark.parametrize(
    "make",
    [
        lambda: Change(set="not an object"),
        lambda: Change(set=["a", 1]),
        lambda: Change(remove="abc"),
        lambda: Change(remove={"a": 1}),
        lambda: Change(metadata="text"),
        lambda: Change(metadata=[1]),
        lambda: Change(patch={"op": "add"}),
        lambda: Change(set={"a": 1}, patch=[]),
        lambda: Change(remove=["a"], patch=[]),
        lambda: Change(set={"a": 1}, remove=["a"]),
    ],
)
def test_malformed_changes(store: Store, make: Callable[[], Change]) -> None:
    store.unchanged(InvalidParams, lambda: store.work.update(make()))


def test_wrong_arguments(store: Store) -> None:
    work, manager = store.work, store.manager
    store.unchanged(InvalidParams, lambda: work.update_state({"a": 1}))
    store.unchanged(InvalidParams, lambda: work.rollback())
    store.unchanged(InvalidParams, lambda: work.rollback(to_version=9, snapshot_id=store.snapshot))
    store.unchanged(InvalidParams, lambda: manager.create_context("fresh", "data"))
    store.unchanged(InvalidParams, lambda: manager.create_context("fresh", {}, "meta"))
    store.unchanged(
        InvalidParams,
        lambda: manager.create_context("fresh", source=Source("work", version=9, snapshot_id=store.snapshot)),
    )


def compact_size(data: dict[str, Any]) -> int:
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def test_too_large_reports_limit_and_exact_size(store: Store) -> None:
    work = store.work
    head = work.get_state().data
    filler = "é😀x"  # 2 + 4 + 1 bytes in UTF-8
    room = LIMIT - compact_size({**head, "big": ""})
    assert room > 0
    big = filler * (room // 7) + "x" * (room % 7)
    assert compact_size({**head, "big": big}) == LIMIT
    over = big + "x"

    error = store.unchanged(TooLarge, lambda: work.update(Change(set={"big": over})))
    assert (
        error.details
        == {"limit": LIMIT, "size": compact_size({**head, "big": over})}
        == {
            "limit": LIMIT,
            "size": LIMIT + 1,
        }
    )
    error = store.unchanged(
        TooLarge, lambda: work.update(Change(patch=[{"op": "add", "path": "/big", "value": [over]}]))
    )
    assert error.details["size"] == compact_size({**head, "big": [over]})

    def via_state() -> None:
        state = work.get_state()
        state.set("big", over + "é" * 20)
        state.remove("a")
        work.update_state(state)

    expected = {k: v for k, v in head.items() if k != "a"} | {"big": over + "é" * 20}
    assert compact_size(expected) > LIMIT
    assert store.unchanged(TooLarge, via_state).details == {"limit": LIMIT, "size": compact_size(expected)}
    error = store.unchanged(TooLarge, lambda: store.manager.create_context("fresh", {"x": "é" * LIMIT}))
    assert error.details == {"limit": LIMIT, "size": compact_size({"x": "é" * LIMIT})}

    # Exactly at the limit is allowed; one key over it again is not, and the error keeps the head.
    result = work.update(Change(set={"big": big}))
    assert result.version == 13
    assert compact_size(work.get_state().data) == LIMIT
    error = store.unchanged(TooLarge, lambda: work.update(Change(set={"more": 1})))
    assert error.details["size"] == compact_size({**work.get_state().data, "more": 1})
    assert work.version == 13


def test_too_large_after_the_limit_is_lowered(store: Store) -> None:
    """A store written under a larger limit: the state itself is fine to read, but a snapshot of it,
    or an update that keeps it too large, is TooLarge."""
    store.work.update(Change(set={"big": "x" * 1500}))
    store.manager.close()
    store.manager = store.env.open(history_limit=HISTORY, snapshot_max_bytes=1000)
    work = store.manager.tracker("work")
    size = compact_size(work.get_state().data)
    assert store.unchanged(TooLarge, lambda: work.create_snapshot("s")).details == {
        "limit": 1000,
        "size": size,
    }
    store.unchanged(TooLarge, lambda: work.update(Change(set={"a": 0})))
    work.update(Change(remove=["big"]))  # shrinking is always possible


def test_unknown_snapshot_ids(store: Store) -> None:
    work, manager = store.work, store.manager
    for unknown in ["no-such-id", "", store.default_snapshot, store.snapshot.upper(), store.snapshot + "0"]:
        error = store.unchanged(SnapshotNotFound, lambda u=unknown: work.rollback(snapshot_id=u))
        assert error.details["snapshotId"] == unknown
        store.unchanged(SnapshotNotFound, lambda u=unknown: work.rollback(snapshot_id=u, dry_run=True))
        store.unchanged(SnapshotNotFound, lambda u=unknown: work.get_snapshot(u))
        store.unchanged(
            SnapshotNotFound,
            lambda u=unknown: manager.create_context("fresh", source=Source("work", snapshot_id=u)),
        )
    assert not manager.exists("fresh")


@pytest.mark.parametrize("version", [-1, 0, 1, 7, 13, 10**6])
def test_versions_outside_the_kept_history(store: Store, version: int) -> None:
    work, manager = store.work, store.manager
    details = {"oldestVersion": 8, "headVersion": 12}
    for action in (
        lambda: work.read(version),
        lambda: work.diff(version),
        lambda: work.diff(10, version),
        lambda: work.rollback(to_version=version),
        lambda: work.rollback(to_version=version, dry_run=True),
        lambda: manager.load_state("work", version),
        lambda: manager.create_context("fresh", source=Source("work", version=version)),
    ):
        error = store.unchanged(SnapshotNotFound, action)
        assert {k: error.details[k] for k in details} == details
    assert not manager.exists("fresh")


def test_every_kept_version_is_readable(store: Store) -> None:
    assert [store.work.read(v).version for v in range(8, 13)] == [8, 9, 10, 11, 12]


def test_conflicts_and_state_errors(store: Store) -> None:
    work, manager = store.work, store.manager
    error = store.unchanged(VersionConflict, lambda: work.update(Change(set={"a": 0}), base_version=13))
    assert error.details == {"currentVersion": 12, "conflictingKeys": []}
    error = store.unchanged(VersionConflict, lambda: work.update(Change(set={"a": 0}), base_version=10))
    assert error.details == {"currentVersion": 12, "conflictingKeys": ["a"]}
    error = store.unchanged(
        VersionConflict, lambda: work.update(Change(set={"zzz": 0}), base_version=10, on_conflict="fail")
    )
    assert error.details == {"currentVersion": 12, "conflictingKeys": []}
    error = store.unchanged(VersionConflict, lambda: work.update(Change(set={"zzz": 0}), base_version=3))
    assert error.details == {"currentVersion": 12, "conflictingKeys": ["zzz"]}

    stale = work.read(10)
    state = ContextState(version=10, data={"a": 0}, metadata=stale.metadata)
    store.unchanged(VersionConflict, lambda: work.update_state(state))

    store.unchanged(InvalidState, lambda: manager.delete_context("default"))
    store.unchanged(ContextNotFound, lambda: manager.delete_context("missing"))
    store.unchanged(ContextNotFound, lambda: manager.tracker("missing").update(Change(set={"a": 1})))
    store.unchanged(ContextNotFound, lambda: manager.tracker("missing").read())
    store.unchanged(ContextNotFound, lambda: manager.create_context("fresh", source=Source("missing")))
    store.unchanged(AlreadyExists, lambda: manager.create_context("work"))
    adapter = create_adapter(manager, session_id="s-test")
    store.unchanged(InvalidState, lambda: adapter.switch_context_sync("missing"))
    store.unchanged(InvalidState, lambda: adapter.deactivate())
    store.unchanged(InvalidState, lambda: adapter.get_current_tracker())
    store.unchanged(InvalidState, lambda: adapter.activate("missing"))  # the same as switch


def test_patch_errors_change_nothing(store: Store) -> None:
    work = store.work
    error = store.unchanged(
        VersionConflict,
        lambda: work.update(
            Change(
                patch=[{"op": "add", "path": "/new", "value": 1}, {"op": "test", "path": "/a", "value": 0}]
            )
        ),
    )
    assert error.details["conflictingKeys"] == ["a"]
    for ops in (
        [{"op": "add", "path": "/new", "value": 1}, {"op": "remove", "path": "/missing"}],
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "add", "path": "/a/b", "value": 1}],
        [{"op": "move", "from": "/missing", "path": "/b"}],
        [{"op": "add", "path": "", "value": [1]}],
        [{"op": "jump", "path": "/a"}],
        [{"op": "add", "path": "a", "value": 1}],
        [{"op": "add", "path": "/~2", "value": 1}],
        [{"op": "add", "path": "/a"}],
        ["not an op"],
    ):
        store.unchanged(InvalidParams, lambda o=ops: work.update(Change(patch=o)))


def test_read_only_sessions_write_nothing_but_audit_their_refusals(store: Store) -> None:
    store.manager.close()
    store.manager = store.env.open(history_limit=HISTORY, snapshot_max_bytes=LIMIT, read_only=True)
    manager = store.manager
    work = manager.tracker("work")
    everything = dump_store(store.path, exclude=("audit",))
    store.unchanged(AccessDenied, lambda: work.update(Change(set={"a": 0})))
    store.unchanged(AccessDenied, lambda: work.create_snapshot("s"))
    store.unchanged(AccessDenied, lambda: work.rollback(to_version=9))
    store.unchanged(AccessDenied, lambda: work.save_editor({"activeUri": None}))
    store.unchanged(AccessDenied, lambda: manager.create_context("fresh"))
    store.unchanged(AccessDenied, lambda: manager.delete_context("work"))
    store.unchanged(SnapshotNotFound, lambda: work.rollback(to_version=2, dry_run=True))
    assert work.rollback(to_version=9, dry_run=True).recovery_point is None
    adapter = create_adapter(manager)
    assert adapter.initialize_sync() is not None
    adapter.switch_context_sync("work")
    adapter.close()
    manager.audit("error", "s-test", {"kind": "InvalidParams"})  # what the LSP layer does on errors
    assert dump_store(store.path, exclude=("audit",)) == everything, "a read-only session persists no state"
    records = manager.audit_records(100)
    refused = [r for r in records if r["event"] == "error" and r["details"].get("kind") == "AccessDenied"]
    assert len(refused) == 6, "every refused write of a read-only session is in the audit log"


@pytest.mark.parametrize(
    "options",
    [
        {"history_limit": 0},
        {"history_limit": -1},
        {"history_limit": "10"},
        {"history_limit": True},
        {"snapshot_max_bytes": 1},
        {"snapshot_max_bytes": 0},
        {"snapshot_max_bytes": 2.5},
    ],
    ids=repr,
)
def test_bad_store_options_create_nothing(store_env: Any, options: dict[str, Any]) -> None:
    with pytest.raises(InvalidParams):
        store_env.open(**options)
    assert not store_env.store_dir.exists()
    assert not store_env.config_dir.exists()
