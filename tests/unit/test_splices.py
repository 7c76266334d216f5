"""Deltas inside a value (store/splices.py): a change inside a large value stores about the change,
and any sequence of appends, edits in the middle, removals, rollbacks and retention folds reads back
exactly, at every kept version, from a fresh manager as from the one that wrote it."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import StoreEnv
from tests.unit.storetools import raw_db

from groundhog import ContextManager, InvalidParams, TrackerConfig
from groundhog.changes import Change, apply_change
from groundhog.manager import ContextManager as Manager
from groundhog.store import splices
from groundhog.store.codec import Payload
from groundhog.store.common import StoreSettings
from groundhog.store.paths import StoreLocation
from groundhog.store.records import StoredState
from groundhog.store.sqlite import SqliteStore


@given(old=st.binary(max_size=300), new=st.binary(max_size=300))
@settings(max_examples=400)
def test_a_splice_applied_to_the_old_value_gives_the_new_one(old: bytes, new: bytes) -> None:
    original = (splices.SPLICE_MIN_BYTES, splices._CHUNK)
    splices.SPLICE_MIN_BYTES, splices._CHUNK = 0, 4  # exercise the chunked search on small values
    try:
        delta = splices.spliced(Payload(values={"k": new}), {"k": old})
        state = StoredState(1, "", {"k": old})
        splices.apply_deltas(state, [Payload.unpack(delta.pack())])
        assert state.values["k"] == new
    finally:
        splices.SPLICE_MIN_BYTES, splices._CHUNK = original


def test_an_append_on_the_bytes_gives_the_splice_a_compare_would_without_comparing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A patch append knows its splice (all but the old ']' kept): the stored delta is the one
    the compare finds, and the compare is not run; a hint that cannot fit is not trusted."""
    head = StoredState(1, "", {"log": orjson.dumps(["x" * 100] * 50)})
    effect = apply_change(head, Change(patch=[{"op": "add", "path": "/log/-", "value": "new"}]))
    compared = splices.spliced(Payload(values=dict(effect.delta.values)), head.values)
    calls: list[int] = []
    real = splices._common_prefix
    monkeypatch.setattr(splices, "_common_prefix", lambda a, b: calls.append(1) or real(a, b))
    hinted = splices.spliced(effect.delta, head.values)
    assert calls == []
    assert hinted.values == {"log": b',"new"'} == compared.values
    assert hinted.extra == compared.extra == {"s": {"log": [len(head.values["log"]) - 1, 1]}}
    too_long = Payload(values=dict(effect.delta.values), known_splices={"log": (len(head.values["log"]), 1)})
    assert splices.spliced(too_long, head.values).extra == compared.extra
    assert calls == [1]


def _open(env: StoreEnv, history: int = 1000) -> ContextManager:
    location = StoreLocation.for_root(env.workspace, env.store_dir)
    store_settings = StoreSettings(
        history_limit=history, checkpoint_every=1000, checkpoint_min_bytes=2048, config_dir=env.config_dir
    )
    manager = Manager(SqliteStore(location, store_settings), TrackerConfig())
    manager.check_on_open()
    return manager


def _delta_bytes(manager: ContextManager) -> list[int]:
    with raw_db(manager.store) as conn:
        return [len(b or b"") for (b,) in conn.execute("SELECT delta_blob FROM versions ORDER BY version")]


def test_an_append_to_a_large_list_stores_about_the_append(store_env: StoreEnv) -> None:
    manager = _open(store_env)
    manager.create_context("chat", {"log": [f"turn {i}: " + "x" * 1000 for i in range(200)]})
    tracker = manager.tracker("chat")
    for turn in range(200, 230):
        state = tracker.get_state()  # the specification's own pattern: get, append, update_state
        state.get("log").append(f"turn {turn}: " + "y" * 1000)
        tracker.update_state(state)
    written = _delta_bytes(manager)[1:]
    assert written and max(written) < 1500, written  # ~1 KB appended, of a ~200 KB value
    fresh = _open(store_env)
    assert fresh.load_state("chat").data["log"][-1] == "turn 229: " + "y" * 1000
    assert len(fresh.load_state("chat", 15).data["log"]) == 214
    assert fresh.verify().ok
    fresh.close()
    manager.close()


def test_an_edit_in_the_middle_of_a_long_string_stores_about_the_edit(store_env: StoreEnv) -> None:
    manager = _open(store_env)
    text = "".join(f"line {i}\n" for i in range(20_000))
    manager.create_context("doc", {"text": text})
    tracker = manager.tracker("doc")
    edited = text.replace("line 10000\n", "line ten thousand\n")
    tracker.update(Change(set={"text": edited}))
    assert _delta_bytes(manager)[-1] < 200
    assert _open(store_env).load_state("doc").data["text"] == edited
    manager.close()


_RUNS = itertools.count()
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.text(max_size=40)),
        st.tuples(st.just("patch_append"), st.lists(st.text(max_size=40), min_size=1, max_size=3)),
        st.tuples(st.just("edit"), st.integers(0, 10_000), st.text(max_size=20)),
        st.tuples(st.just("small"), st.sampled_from(["a", "b", "c"]), st.integers(-(2**53), 2**53)),
        st.tuples(st.just("remove"), st.sampled_from(["a", "b", "log", "doc"])),
        st.tuples(st.just("rollback"), st.integers(1, 60)),
    ),
    min_size=1,
    max_size=30,
)


@pytest.mark.parametrize("history", [1000, 4])
@given(ops=OPS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_sequence_reads_back_exactly_at_every_kept_version(
    store_env: StoreEnv, history: int, ops: list[tuple[Any, ...]]
) -> None:
    name = f"p{next(_RUNS)}"  # hypothesis runs the body many times on one store
    manager = _open(store_env, history)
    start = {"log": ["seed " * 60], "doc": "d" * 3000}
    manager.create_context(name, start)
    tracker = manager.tracker(name)
    model = {1: start}
    for op in ops:
        data = dict(model[max(model)])
        if op[0] == "append":
            data["log"] = [*data.get("log", []), op[1] * 30]
        elif op[0] == "patch_append":  # done on the encoded bytes, its splice known without a compare
            data["log"] = [*data.get("log", []), *(text * 30 for text in op[1])]
        elif op[0] == "edit":
            doc = data.get("doc", "")
            at = op[1] % (len(doc) + 1)
            data["doc"] = doc[:at] + op[2] + doc[at + len(op[2]) :]
        elif op[0] == "small":
            data[op[1]] = op[2]
        elif op[0] == "remove":
            data.pop(op[1], None)
        else:
            kept = [v for v in model if v >= tracker.history(1)[1]]
            target = kept[op[1] % len(kept)]
            tracker.rollback(to_version=target)
            data = dict(model[target])
        if op[0] == "patch_append":
            if "log" not in model[max(model)]:
                tracker.update(Change(set={"log": []}))
            tracker.update(Change(patch=[{"op": "add", "path": "/log/-", "value": t * 30} for t in op[1]]))
        elif op[0] != "rollback":
            state = tracker.get_state()
            state.data = data
            tracker.update_state(state)
        head = tracker.read().version
        model[head] = orjson.loads(orjson.dumps(data))
    fresh = _open(store_env, history)
    oldest = fresh.tracker(name).history(1)[1]
    for version, expected in model.items():
        if version >= oldest:
            assert fresh.load_state(name, version).data == expected, version
    assert fresh.verify().ok
    fresh.close()
    manager.close()


def test_appends_through_a_patch_work_on_the_bytes_and_mean_the_same(store_env: StoreEnv) -> None:
    manager = _open(store_env)
    manager.create_context("log", {"empty": [], "items": [{"a": 1}], "text": "not a list"})
    tracker = manager.tracker("log")
    ops = [
        {"op": "add", "path": "/empty/-", "value": {"k": [1, 2.5, None, "é"]}},
        {"op": "add", "path": "/items/-", "value": "two"},
        {"op": "add", "path": "/items/-", "value": [3]},
    ]
    tracker.update(Change(patch=ops))
    assert tracker.get_state().data == {
        "empty": [{"k": [1, 2.5, None, "é"]}],
        "items": [{"a": 1}, "two", [3]],
        "text": "not a list",
    }
    with pytest.raises(InvalidParams):  # not a list: the general path answers as it always did
        tracker.update(Change(patch=[{"op": "add", "path": "/text/-", "value": 1}]))
    with pytest.raises(InvalidParams):
        tracker.update(Change(patch=[{"op": "add", "path": "/missing/-", "value": 1}]))
    with pytest.raises(InvalidParams):  # built in Python: NaN is refused, not turned into null
        tracker.update(Change(patch=[{"op": "add", "path": "/items/-", "value": float("nan")}]))
    assert tracker.read().version == 2
    assert _open(store_env).load_state("log").data["items"][-1] == [3]
    manager.close()
