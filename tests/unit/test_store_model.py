"""Property test: random sequences of updates, stale-base merges, patches, snapshots, rollbacks,
context switches, creates, deletes and reopens, checked against a plain in-memory model.

After every step the current context's head, a sample of its kept versions and its history match the
model; versions strictly increase by one; changes that change nothing make no version; versions older
than a (sometimes tiny) history limit answer SnapshotNotFound. At the end of each run every kept version
of every context is read back and compared.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from storetools import canonical

from groundhog import (
    ContextManager,
    ContextTracker,
    InvalidParams,
    SnapshotNotFound,
    TooLarge,
    VersionConflict,
    create_manager,
)
from groundhog.changes import Change
from groundhog.store.codec import decode_values

KEYS = ["a", "b", "c", "d/e", "~"]
NAMES = ["default", "w1", "w/2", "x.y-z"]
Data = dict[str, Any]

scalars = st.one_of(st.integers(-3, 3), st.booleans(), st.none(), st.text("xyé", max_size=3))
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(["p", "q", "0", "-"]), scalars, max_size=3),
)
metadata = st.none() | st.dictionaries(st.sampled_from(["m", "n"]), st.integers(0, 2), max_size=2)


def same(a: Any, b: Any) -> bool:
    """JSON equality for the values used here (no floats): equal canonical bytes."""
    return canonical(a) == canonical(b)


def compact_size(data: Data) -> int:
    """Decision 17: the UTF-8 length of the compact JSON (computed without the library's codec)."""
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())


def changed_keys(old: Data, new: Data) -> set[str]:
    return {k for k in old.keys() | new.keys() if k not in old or k not in new or not same(old[k], new[k])}


@dataclass
class Version:
    data: Data
    meta: Data
    changed: set[str]  # top-level keys that differ from the version before


@dataclass
class ContextModel:
    versions: dict[int, Version]
    snapshots: dict[str, Version] = field(default_factory=dict)

    @property
    def head(self) -> int:
        return max(self.versions)

    def state(self, version: int | None = None) -> Version:
        return self.versions[self.head if version is None else version]

    def append(self, data: Data, meta: Data) -> int:
        old = self.state()
        changed = changed_keys(old.data, data)
        self.versions[self.head + 1] = Version(copy.deepcopy(data), copy.deepcopy(meta), changed)
        return self.head

    def changes_anything(self, data: Data, meta: Data) -> bool:
        return not (same(data, self.state().data) and same(meta, self.state().meta))

    def changed_since(self, base: int) -> set[str]:
        return set().union(*(self.versions[v].changed for v in range(base + 1, self.head + 1)))


class PatchRejected(Exception):
    def __init__(self, conflict_key: str | None = None) -> None:
        self.conflict_key = conflict_key  # None: malformed or impossible (InvalidParams)


_MISSING = object()


def model_patch(data: Data, ops: list[dict[str, Any]]) -> Data:
    """An independent, minimal RFC 6902 for the op shapes the machine generates."""
    doc = copy.deepcopy(data)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"][1:].split("/")]
        key, kind = parts[0], op["op"]
        if kind == "test":
            if key not in doc or not same(doc[key], op["value"]):
                raise PatchRejected(key)
        elif kind in ("add", "remove") and len(parts) == 2:
            container, sub = doc.get(key, _MISSING), parts[1]
            if kind == "add" and isinstance(container, list) and sub == "-":
                container.append(copy.deepcopy(op["value"]))
            elif kind == "add" and isinstance(container, dict):
                container[sub] = copy.deepcopy(op["value"])
            elif kind == "remove" and isinstance(container, list) and sub == "0" and container:
                del container[0]
            elif kind == "remove" and isinstance(container, dict) and sub in container:
                del container[sub]
            else:
                raise PatchRejected()
        elif kind == "add":
            doc[key] = copy.deepcopy(op["value"])
        elif kind == "remove" or kind == "replace":
            if key not in doc:
                raise PatchRejected()
            value = doc.pop(key)
            if kind == "replace":
                doc[key] = copy.deepcopy(op["value"])
            del value
        else:  # move / copy between top-level keys
            source = op["from"][1:].replace("~1", "/").replace("~0", "~")
            if source not in doc:
                raise PatchRejected()
            value = doc.pop(source) if kind == "move" else copy.deepcopy(doc[source])
            doc[key] = value
    return doc


def pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="groundhog-model-"))
        self.manager: ContextManager | None = None
        self.trackers: dict[str, ContextTracker] = {}
        self.model: dict[str, ContextModel] = {}
        self.current = "default"
        self.limit = 1000
        self.max_bytes = 1 << 20
        self.second: dict[str, ContextTracker] = {}  # another session's trackers: their caches go stale
        self.all_snapshots: list[str] = []
        self.steps = 0

    # -- plumbing -------------------------------------------------------------------------------

    def open(self) -> ContextManager:
        return create_manager(
            self.tmp / "workspace",
            store_dir=self.tmp / "store",
            config_dir=self.tmp / "config",
            history_limit=self.limit,
            snapshot_max_bytes=self.max_bytes,
        )

    def tracker(self, name: str | None = None) -> ContextTracker:
        name = name or self.current
        if name not in self.trackers:
            assert self.manager is not None
            self.trackers[name] = self.manager.tracker(name)
        return self.trackers[name]

    @property
    def ctx(self) -> ContextModel:
        return self.model[self.current]

    def oldest(self, ctx: ContextModel) -> int:
        return max(1, ctx.head - self.limit + 1)

    def commit(self, call: Any, data: Data, meta: Data, *, merged: bool = False) -> None:
        """Run ``call`` (an update) expecting ``data``/``meta`` as the result, or TooLarge."""
        size = compact_size(data)
        if self.ctx.changes_anything(data, meta) and size > self.max_bytes:
            event("too large")
            with pytest.raises(TooLarge) as caught:
                call()
            assert caught.value.details == {"limit": self.max_bytes, "size": size}
            return
        self.expect_commit(call(), data, meta, merged=merged)

    def expect_commit(self, result: Any, data: Data, meta: Data, *, merged: bool = False) -> None:
        ctx = self.ctx
        if ctx.changes_anything(data, meta):
            version = ctx.append(data, meta)
            assert (result.version, result.kind) == (version, "merge" if merged else "update")
            assert sorted(result.changed_keys) == sorted(ctx.state().changed)
        else:
            assert (result.version, result.kind, result.changed_keys) == (ctx.head, None, [])
        assert result.merged == merged

    def expect_rollback(self, result: Any, target: Version) -> None:
        ctx, old = self.ctx, self.ctx.state()
        if ctx.changes_anything(target.data, target.meta):
            version = ctx.append(target.data, target.meta)
            assert result.version == version
            assert result.recovery_point is not None
            ctx.snapshots[result.recovery_point] = old
            self.all_snapshots.append(result.recovery_point)
        else:
            assert (result.version, result.recovery_point) == (ctx.head, None)
        assert sorted(result.changed_keys) == sorted(changed_keys(old.data, target.data))

    # -- rules ----------------------------------------------------------------------------------

    @initialize(limit=st.sampled_from([2, 3, 1000]), max_bytes=st.sampled_from([1 << 20, 70_000]))
    def start(self, limit: int, max_bytes: int) -> None:
        self.limit, self.max_bytes = limit, max_bytes
        self.manager = self.open()
        self.manager.create_context("default")
        self.model = {"default": ContextModel({1: Version({}, {}, set())})}

    @rule(
        sets=st.dictionaries(st.sampled_from(KEYS), values, max_size=3),
        removes=st.sets(st.sampled_from(KEYS), max_size=2),
        meta=metadata,
    )
    def update(self, sets: Data, removes: set[str], meta: Data | None) -> None:
        removes -= sets.keys()
        data = {k: v for k, v in self.ctx.state().data.items() if k not in removes} | sets
        self.commit(
            lambda: self.tracker().update(Change(set=sets, remove=sorted(removes), metadata=meta)),
            data,
            {**self.ctx.state().meta, **(meta or {})},
        )

    @rule(sets=st.dictionaries(st.sampled_from(KEYS), values, min_size=1, max_size=2))
    def update_from_another_session(self, sets: Data) -> None:
        """A second tracker on the same context (another session): both trackers' cached heads must
        follow each other's commits."""
        assert self.manager is not None
        if self.current not in self.second:
            self.second[self.current] = self.manager.tracker(self.current, session="s-second")
        other = self.second[self.current]
        self.commit(
            lambda: other.update(Change(set=sets)), self.ctx.state().data | sets, self.ctx.state().meta
        )

    @rule(key=st.sampled_from(["big", "big2"]), char=st.sampled_from("xyz"), size=st.integers(20_000, 40_000))
    def big_update(self, key: str, char: str, size: int) -> None:
        """Large deltas: a checkpoint every few versions, so retention folds old rows away (and with
        the small size limit, two of them are TooLarge)."""
        self.commit(
            lambda: self.tracker().update(Change(set={key: char * size})),
            {**self.ctx.state().data, key: char * size},
            self.ctx.state().meta,
        )

    @rule()
    def update_that_changes_nothing(self) -> None:
        head = self.ctx.state()
        result = self.tracker().update(
            Change(set=copy.deepcopy(head.data), remove=["never-there"], metadata=copy.deepcopy(head.meta))
        )
        assert (result.version, result.kind) == (self.ctx.head, None)

    @rule(
        back=st.integers(0, 6),
        sets=st.dictionaries(st.sampled_from(KEYS), values, min_size=1, max_size=2),
        removes=st.sets(st.sampled_from(KEYS), max_size=1),
        mode=st.sampled_from(["merge", "merge", "fail", "overwrite"]),
    )
    def stale_update(self, back: int, sets: Data, removes: set[str], mode: Any) -> None:
        ctx = self.ctx
        removes -= sets.keys()
        base = max(1, ctx.head - back)
        touched = sorted(sets.keys() | removes)
        change = Change(set=sets, remove=sorted(removes))
        data = {k: v for k, v in ctx.state().data.items() if k not in removes} | sets
        if base == ctx.head or mode == "overwrite":
            self.commit(
                lambda: self.tracker().update(change, base_version=base, on_conflict=mode),
                data,
                ctx.state().meta,
            )
            return
        if base < self.oldest(ctx):
            conflicting = touched
        else:
            conflicting = sorted(ctx.changed_since(base) & set(touched))
            if mode == "merge" and not conflicting:
                event("stale base merged")
                self.commit(
                    lambda: self.tracker().update(change, base_version=base, on_conflict=mode),
                    data,
                    ctx.state().meta,
                    merged=True,
                )
                return
        event(f"stale base refused ({mode}, {'outside history' if base < self.oldest(ctx) else 'kept'})")
        with pytest.raises(VersionConflict) as caught:
            self.tracker().update(change, base_version=base, on_conflict=mode)
        assert caught.value.details == {"currentVersion": ctx.head, "conflictingKeys": conflicting}

    @rule(data=st.data())
    def patch(self, data: st.DataObject) -> None:
        head = self.ctx.state().data
        existing = sorted(head) or KEYS[:1]
        ops = []
        for _ in range(data.draw(st.integers(1, 3))):
            kind = data.draw(
                st.sampled_from(["add", "add/", "remove", "remove/", "replace", "test", "move", "copy"])
            )
            key = data.draw(st.sampled_from(existing + KEYS))
            if kind == "add":
                ops.append({"op": "add", "path": pointer(key), "value": data.draw(values)})
            elif kind == "add/":
                sub = data.draw(st.sampled_from(["-", "p", "q"]))
                ops.append({"op": "add", "path": pointer(key, sub), "value": data.draw(scalars)})
            elif kind == "remove":
                ops.append({"op": "remove", "path": pointer(key)})
            elif kind == "remove/":
                ops.append({"op": "remove", "path": pointer(key, data.draw(st.sampled_from(["0", "p"])))})
            elif kind == "replace":
                ops.append({"op": "replace", "path": pointer(key), "value": data.draw(values)})
            elif kind == "test":
                value = head[key] if key in head and data.draw(st.booleans()) else data.draw(values)
                ops.append({"op": "test", "path": pointer(key), "value": value})
            else:
                source = data.draw(st.sampled_from(existing + KEYS))
                ops.append({"op": kind, "from": pointer(source), "path": pointer(key)})
        try:
            expected = model_patch(head, ops)
        except PatchRejected as rejected:
            event("patch refused: " + ("test failed" if rejected.conflict_key is not None else "invalid"))
            error = VersionConflict if rejected.conflict_key is not None else InvalidParams
            with pytest.raises(error) as caught:
                self.tracker().update(Change(patch=ops))
            if rejected.conflict_key is not None:
                assert caught.value.details["conflictingKeys"] == [rejected.conflict_key]
            return
        event("patch applied")
        self.commit(lambda: self.tracker().update(Change(patch=ops)), expected, self.ctx.state().meta)

    @rule(
        sets=st.dictionaries(st.sampled_from(KEYS), values, max_size=2),
        removes=st.sets(st.sampled_from(KEYS), max_size=1),
        meta=metadata,
    )
    def update_state(self, sets: Data, removes: set[str], meta: Data | None) -> None:
        state = self.tracker().get_state()
        assert state.version == self.ctx.head
        for key, value in sets.items():
            state.set(key, value)
        for key in removes - sets.keys():
            state.remove(key)
        if meta is not None:
            state.metadata = meta
        data, new_meta = copy.deepcopy(state.data), copy.deepcopy(state.metadata)
        before = self.ctx.head
        changed = self.ctx.changes_anything(data, new_meta)
        if changed and compact_size(data) > self.max_bytes:
            with pytest.raises(TooLarge):
                self.tracker().update_state(state)
            return
        after = self.tracker().update_state(state)
        if changed:
            self.ctx.append(data, new_meta)
        assert after.version == (before + 1 if changed else before)
        assert same(after.data, data) and same(after.metadata, new_meta)

    @rule(label=st.none() | st.text("lé ", max_size=4), meta=metadata)
    def snapshot(self, label: str | None, meta: Data | None) -> None:
        info = self.tracker().create_snapshot(label, meta)
        assert (info.version, info.label, info.metadata, info.kind) == (
            self.ctx.head,
            label,
            meta or {},
            "snapshot",
        )
        self.ctx.snapshots[info.id] = copy.deepcopy(self.ctx.state())
        self.all_snapshots.append(info.id)

    @rule(back=st.integers(0, 5), dry=st.booleans())
    def rollback_to_version(self, back: int, dry: bool) -> None:
        ctx = self.ctx
        target = ctx.head - back
        if target < self.oldest(ctx):
            event("rollback outside the kept history")
            with pytest.raises(SnapshotNotFound) as caught:
                self.tracker().rollback(to_version=target, dry_run=dry)
            assert caught.value.details == {"oldestVersion": self.oldest(ctx), "headVersion": ctx.head}
            return
        result = self.tracker().rollback(to_version=target, dry_run=dry)
        assert result.restored_from == {"version": target}
        if dry:
            assert (result.version, result.recovery_point) == (ctx.head, None)
            return
        self.expect_rollback(result, ctx.state(target))

    @precondition(lambda self: bool(self.all_snapshots))
    @rule(data=st.data())
    def rollback_to_snapshot(self, data: st.DataObject) -> None:
        snapshot_id = data.draw(st.sampled_from(self.all_snapshots))
        if snapshot_id not in self.ctx.snapshots:  # another context's, or a deleted one's
            event("rollback to another context's snapshot")
            with pytest.raises(SnapshotNotFound):
                self.tracker().rollback(snapshot_id=snapshot_id)
            return
        result = self.tracker().rollback(snapshot_id=snapshot_id)
        assert result.restored_from == {"snapshotId": snapshot_id}
        self.expect_rollback(result, self.ctx.snapshots[snapshot_id])

    @rule(name=st.sampled_from(NAMES))
    def switch(self, name: str) -> None:
        if name in self.model:
            self.current = name

    @rule(name=st.sampled_from(NAMES), initial=st.dictionaries(st.sampled_from(KEYS), values, max_size=2))
    def create(self, name: str, initial: Data) -> None:
        assert self.manager is not None
        if name in self.model:
            return
        info = self.manager.create_context(name, copy.deepcopy(initial))
        assert info.version == 1
        self.model[name] = ContextModel({1: Version(copy.deepcopy(initial), {}, set(initial))})
        self.current = name

    @rule(name=st.sampled_from(NAMES[1:]))
    def delete(self, name: str) -> None:
        assert self.manager is not None
        if name not in self.model:
            return
        self.manager.delete_context(name)
        event("context deleted")
        del self.model[name]
        self.trackers.pop(name, None)
        self.second.pop(name, None)
        if self.current == name:
            self.current = "default"

    @rule()
    def reopen(self) -> None:
        assert self.manager is not None
        self.manager.close()
        self.trackers, self.second = {}, {}
        self.manager = self.open()
        assert self.manager.recoveries == []

    @rule()
    def check_every_kept_version(self) -> None:
        self.check_versions(self.current, list(range(self.oldest(self.ctx), self.ctx.head + 1)))

    # -- checks ---------------------------------------------------------------------------------

    def check_versions(self, name: str, versions: list[int]) -> None:
        ctx, tracker = self.model[name], self.tracker(name)
        for version in versions:
            stored = tracker.read(version)
            assert stored.version == version
            assert same(decode_values(stored.values), ctx.state(version).data), (name, version)
            assert same(stored.metadata, ctx.state(version).meta), (name, version)

    @invariant()
    def matches_the_model(self) -> None:
        if self.manager is None:
            return
        self.steps += 1
        ctx, tracker = self.ctx, self.tracker()
        oldest = self.oldest(ctx)
        assert tracker.version == ctx.head
        state = tracker.get_state()
        assert same(state.data, ctx.state().data) and same(state.metadata, ctx.state().meta)
        assert tracker.read().measured_size() == compact_size(ctx.state().data), "sizes are exact"
        if self.current in self.second:
            other = self.second[self.current].read()
            assert other.version == ctx.head
            assert same(decode_values(other.values), ctx.state().data)
        kept = list(range(oldest, ctx.head + 1))
        sample = random.Random(self.steps).sample(kept, min(4, len(kept)))
        self.check_versions(self.current, sample)
        entries, reported_oldest = tracker.history(limit=1000)
        assert reported_oldest == oldest
        assert [e.version for e in entries] == kept[::-1], "versions are contiguous, newest first"
        assert [set(e.changed_keys) for e in entries[:-1]] == [ctx.state(v).changed for v in kept[:0:-1]]
        if oldest > 1:
            event("history beyond the limit")
            with pytest.raises(SnapshotNotFound) as caught:
                tracker.read(oldest - 1)
            assert caught.value.details == {"oldestVersion": oldest, "headVersion": ctx.head}
        assert sorted(info.name for info in self.manager.list_contexts()) == sorted(self.model)
        with self.manager.store.read() as tx:
            row = tx.find_context(self.current)
            assert row is not None
            if row.anchor > 1:
                event("retention folded old rows")
            assert row.anchor <= oldest

    def teardown(self) -> None:
        try:
            if self.manager is not None:
                for name, ctx in self.model.items():
                    self.check_versions(name, list(range(self.oldest(ctx), ctx.head + 1)))
                    listed = {info.id for info in self.tracker(name).snapshots()}
                    assert listed == set(ctx.snapshots), name
                    for snapshot_id, version in ctx.snapshots.items():
                        snap = self.tracker(name).get_snapshot(snapshot_id)
                        assert same(snap.state.data, version.data) and same(snap.state.metadata, version.meta)
                report = self.manager.verify()
                assert report.ok, report.problems
        finally:
            if self.manager is not None:
                self.manager.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


StoreMachine.TestCase.settings = settings(
    max_examples=120,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestStoreModel = StoreMachine.TestCase
