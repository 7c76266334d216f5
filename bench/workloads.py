"""The workloads: each drives the real server through the LSP client (and the peers in-process) and
records latencies under a key naming the workload (``update.1m``) and the system (``groundhog``,
``json_rewrite``...). Systems that share a workload are measured in alternating rounds, so that noise
on a shared machine lands on all of them alike and their ratios are pairwise within one run."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import string
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.client import METHOD_NOT_FOUND, Server, Store, measure, quiet_gc, summarize
from bench.peers import JsonRewrite, ShadowGit, SqliteKv

VALUE_BYTES = 1000
SIZES = {"10k": 10, "100k": 100, "1m": 1000}  # state name -> number of ~1 KB keys
ROLLBACK_DEPTHS = (1, 500, 999)
GROWTH_LENGTHS = (10, 100, 1000)
Op = Callable[[int], Awaitable[Any]]


@dataclass(frozen=True)
class Plan:
    """How many operations each workload runs (``--quick`` runs fewer)."""

    quick: bool
    ops: int
    warmup: int
    rounds: int
    rollback_ops: int
    history: int
    spawns_clean: int
    spawns_killed: int
    opens: int
    recovery_contexts: int
    recovery_versions: int
    throughput_ops: int
    growth_ops: int
    git_snapshot_ops: int

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(
                quick=True,
                ops=60,
                warmup=10,
                rounds=2,
                rollback_ops=30,
                history=1000,
                spawns_clean=3,
                spawns_killed=2,
                opens=10,
                recovery_contexts=10,
                recovery_versions=100,
                throughput_ops=200,
                growth_ops=30,
                git_snapshot_ops=15,
            )
        return cls(
            quick=False,
            ops=1000,
            warmup=100,
            rounds=5,
            rollback_ops=1000,
            history=1000,
            spawns_clean=30,
            spawns_killed=15,
            opens=100,
            recovery_contexts=10,
            recovery_versions=1000,
            throughput_ops=2000,
            growth_ops=1000,
            git_snapshot_ops=1000,
        )


@dataclass
class Results:
    """``workloads[name][system]`` = latency stats in ms (plus extra fields), and free notes."""

    workloads: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, workload: str, system: str, samples: list[float], **extra: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {**summarize(samples), **extra}
        self.workloads.setdefault(workload, {})[system] = entry
        return entry

    def add_value(self, workload: str, system: str, **values: Any) -> None:
        self.workloads.setdefault(workload, {})[system] = values


# -- data -------------------------------------------------------------------------------------------


def make_state(keys: int, seed: int = 1) -> dict[str, str]:
    """``keys`` string values of ~1 KB each under ``key-0000``... (1000 keys: ~1 MB of JSON)."""
    rnd = random.Random(seed)
    alphabet = string.ascii_letters + string.digits
    return {key_name(i): "".join(rnd.choices(alphabet, k=VALUE_BYTES)) for i in range(keys)}


def key_name(i: int) -> str:
    return f"key-{i:04d}"


class Values:
    """New ~1 KB values, distinct per operation, made before timing starts."""

    def __init__(self, seed: int = 7) -> None:
        state = make_state(64, seed)
        self.pool = list(state.values())

    def value(self, i: int) -> str:
        return f"{i:010d}" + self.pool[i % len(self.pool)][10:]

    @staticmethod
    def key(i: int, keys: int) -> str:
        return key_name((i * 7919) % keys)


# -- helpers ----------------------------------------------------------------------------------------


async def interleaved(systems: dict[str, Op], n: int, warmup: int, rounds: int) -> dict[str, list[float]]:
    """Run every system's op ``n`` times in ``rounds`` alternating rounds (each warmed up first);
    each op gets its own running index (0, 1, 2... over warm-up and all rounds)."""
    samples: dict[str, list[float]] = {name: [] for name in systems}
    per_round = max(1, -(-n // rounds))
    done = 0
    while done < n:
        batch = min(per_round, n - done)
        for name, op in systems.items():
            samples[name] += await measure(
                _counted(op, len(samples[name]) + (warmup if done else 0)), batch, 0 if done else warmup
            )
        done += batch
    return samples


def _counted(op: Op, start: int) -> Op:
    async def run(i: int) -> Any:
        return await op(start + i)

    return run


def in_process(call: Callable[[int], Any]) -> Op:
    async def run(i: int) -> Any:
        return call(i)

    return run


async def create_context(server: Server, name: str, state: dict[str, Any], *, activate: bool = True) -> int:
    """Create ``name`` holding ``state`` (activated: the timed requests then name no context, as an
    editor's do, and the server's tracker for the active context keeps its head cached)."""
    await server.request("context/create", {"name": name, "activate": activate})
    result = await server.request("context/update", {"context": name, "set": state})
    return int(result["version"])


async def fill_history(server: Server, name: str, keys: int, versions: int, values: Values) -> int:
    """Append 1 KB changes until ``name`` has ``versions`` versions; returns the head."""
    head = int((await server.request("context/info", {"name": name}))["version"])
    while head < versions:
        params = {"context": name, "set": {values.key(head, keys): values.value(10_000_000 + head)}}
        head = int((await server.request("context/update", params))["version"])
    return head


# -- the floor --------------------------------------------------------------------------------------


async def floor(server: Server, store: Store, plan: Plan, results: Results) -> None:
    """The floors: an unknown method's round trip (MethodNotFound: no handler, no store) through the
    same client and server, and a 4 KB write + fsync in a temp file on the store's disk. A third
    reference, not a target floor: one durable 1 MB SQLite commit (WAL, synchronous FULL), the least a
    1 MB snapshot can cost on this disk."""

    async def unknown(_: int) -> None:
        code = await server.error_code("bench/unknownMethod", {})
        if code != METHOD_NOT_FOUND:
            raise RuntimeError(f"an unknown method answered {code}, not MethodNotFound")

    fd, path = tempfile.mkstemp(prefix="fsync-", dir=store.root)
    block = os.urandom(4096)

    async def fsync(_: int) -> None:
        os.pwrite(fd, block, 0)
        os.fsync(fd)

    db = sqlite3.connect(store.root / "floor.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, blob BLOB NOT NULL)")
    megabyte = os.urandom(1 << 20)

    async def commit(i: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT OR REPLACE INTO blobs (id, blob) VALUES (?, ?)", (i % 8, megabyte))
        db.execute("COMMIT")

    systems = {"rt": unknown, "fsync": fsync, "sqlite": commit}
    try:
        samples = await interleaved(systems, plan.ops, plan.warmup, plan.rounds)
    finally:
        os.close(fd)
        os.unlink(path)
        db.close()
    results.add("floor.rt_unknown_method", "groundhog", samples["rt"])
    results.add("floor.fsync_4k", "os", samples["fsync"])
    results.add("floor.sqlite_commit_1mb_full", "sqlite", samples["sqlite"])


# -- per state size: get, update, snapshot, switch --------------------------------------------------


async def state_sizes(server: Server, store: Store, plan: Plan, results: Results) -> None:
    for label, keys in SIZES.items():
        await _one_size(label, keys, server, store, plan, results)
    results.notes.append(
        "get/update/snapshot/switch act on the session's active context (no 'context' param, as editors "
        "send them); one key of ~1 KB changed per update; states are N keys of 1000-char strings"
    )


async def _one_size(
    label: str, keys: int, server: Server, store: Store, plan: Plan, results: Results
) -> None:
    values = Values()
    state = make_state(keys)
    name, other = f"state-{label}", f"state-{label}-b"
    await create_context(server, other, make_state(keys, seed=2), activate=False)
    await create_context(server, name, state)
    peers_dir = store.root / "peers"
    json_peer = JsonRewrite(peers_dir / f"json-{label}", state)
    full = SqliteKv(peers_dir / f"kv-{label}" / "state.vscdb", state, "FULL")
    normal = SqliteKv(peers_dir / f"kv-{label}-normal" / "state.vscdb", state, "NORMAL")

    async def get(_: int) -> None:
        await server.request("context/get", {})

    systems: dict[str, Op] = {"groundhog": get}
    for peer in (json_peer, full):
        systems[peer.name] = in_process(lambda _, peer=peer: peer.get())
    for system, xs in (await interleaved(systems, plan.ops, plan.warmup, plan.rounds)).items():
        results.add(f"get.{label}", system, xs)

    async def update(i: int) -> None:
        await server.request("context/update", {"set": {values.key(i, keys): values.value(i)}})

    systems = {"groundhog": update}
    for writer in (json_peer, full, normal):
        systems[writer.name] = in_process(lambda i, w=writer: w.update(values.key(i, keys), values.value(i)))
    for system, xs in (await interleaved(systems, plan.ops, plan.warmup, plan.rounds)).items():
        results.add(f"update.{label}", system, xs)
    full.close()
    normal.close()
    if label == "1m":
        await _named_inactive(server, other, keys, plan, results, values)
    git = ShadowGit(peers_dir / f"git-{label}", state)
    await snapshots(server, keys, git, plan, results, label, values)
    if label == "1m":
        await _snapshots_of_new_values(server, keys, plan, results)
    await switches(server, name, other, plan, results, label)


async def _named_inactive(
    server: Server, name: str, keys: int, plan: Plan, results: Results, values: Values
) -> None:
    """The same update, naming a context that is not the session's active one."""

    async def update(i: int) -> None:
        params = {"context": name, "set": {values.key(i, keys): values.value(60_000_000 + i)}}
        await server.request("context/update", params)

    results.add("update.1m.named_inactive", "groundhog", await measure(update, plan.ops, plan.warmup))


async def snapshots(
    server: Server,
    keys: int,
    git: ShadowGit,
    plan: Plan,
    results: Results,
    label: str,
    values: Values,
) -> None:
    """Snapshot after a 1 KB change (untimed), in Groundhog and in the shadow git repository."""
    gh: list[float] = []
    peer: list[float] = []
    total = plan.warmup + plan.ops
    with quiet_gc():
        for i in range(total):
            j = 50_000_000 + i
            await server.request("context/update", {"set": {values.key(j, keys): values.value(j)}})
            start = time.perf_counter()
            await server.request("context/snapshot", {})
            elapsed = (time.perf_counter() - start) * 1000
            if i >= plan.warmup:
                gh.append(elapsed)
            if i >= plan.warmup + plan.git_snapshot_ops:
                continue
            git.change(values.key(j, keys), values.value(j))
            start = time.perf_counter()
            git.snapshot()
            if i >= plan.warmup:
                peer.append((time.perf_counter() - start) * 1000)
    results.add(f"snapshot.{label}", "groundhog", gh)
    results.add(f"snapshot.{label}", git.name, peer)


async def _snapshots_of_new_values(server: Server, keys: int, plan: Plan, results: Results) -> None:
    """The worst case for snapshots, which store each distinct value of a context once: every value
    replaced (untimed) before each snapshot, so the snapshot writes the whole 1 MB again."""
    samples: list[float] = []
    n = max(plan.ops // 10, 5)
    with quiet_gc():
        for i in range(n + 2):
            await server.request("context/update", {"set": make_state(keys, seed=1000 + i)})
            start = time.perf_counter()
            await server.request("context/snapshot", {})
            if i >= 2:
                samples.append((time.perf_counter() - start) * 1000)
    results.add("snapshot.1m.all_values_new", "groundhog", samples)


async def switches(server: Server, name: str, other: str, plan: Plan, results: Results, label: str) -> None:
    async def switch(i: int) -> None:
        await server.request("context/switch", {"name": other if i % 2 else name})

    results.add(f"switch.{label}", "groundhog", await measure(switch, plan.ops, plan.warmup))


# -- history of a 1 MB state: history, diff, update at 1000 versions, rollback ----------------------


async def history(server: Server, store: Store, plan: Plan, results: Results) -> None:
    keys = SIZES["1m"]
    values = Values(seed=11)
    name = "history-1m"
    state = make_state(keys, seed=3)
    await create_context(server, name, state)
    git = ShadowGit(store.root / "peers" / "git-history-1m", state)
    count = plan.history - 1  # commits after the first: plan.history in all
    targets = {count - 1 - depth for depth in ROLLBACK_DEPTHS}  # commits[-1 - depth], less the first
    building = asyncio.create_task(
        asyncio.to_thread(git.build_history, _changed_states(state, keys, count, values), targets)
    )
    head = await fill_history(server, name, keys, plan.history, values)
    await building

    async def hist(_: int) -> None:
        await server.request("context/history", {"limit": 50})

    results.add("history.1m", "groundhog", await measure(hist, plan.ops, plan.warmup))
    for depth in (1, plan.history - 1):

        async def diff(_: int, depth: int = depth) -> None:
            await server.request("context/diff", {"fromVersion": head - depth})

        results.add(f"diff.1m.head-{depth}", "groundhog", await measure(diff, plan.ops, plan.warmup))

    async def update(i: int) -> None:
        params = {"set": {values.key(i, keys): values.value(30_000_000 + i)}}
        await server.request("context/update", params)

    results.add(
        f"growth.update.h{plan.history}", "groundhog", await measure(update, plan.growth_ops, plan.warmup)
    )
    await rollbacks(server, name, git, plan, results)


def _changed_states(state: dict[str, Any], keys: int, count: int, values: Values) -> Iterator[bytes]:
    """``count`` successive states, each one 1 KB change after the previous, as JSON."""
    state = dict(state)
    for i in range(count):
        state[values.key(i, keys)] = values.value(20_000_000 + i)
        yield orjson.dumps(state)


async def rollbacks(server: Server, name: str, git: ShadowGit, plan: Plan, results: Results) -> None:
    """Rollback to head-k: Groundhog records a recovery point and appends a version; git checks the
    file out. The depths take turns (1, 500, 999, 1, ...), each followed by the same git rollback and
    by a rollback from a second server process on the same workspace (``groundhog_other_process``:
    its tracker made none of the versions before its own, so it has no undo steps and rebuilds the
    target from a checkpoint), so that the history (which every rollback extends) and the machine's
    load evolve alike for all."""
    assert server.store is not None and server.workspace is not None
    other = await Server.start(server.store, server.workspace, name="other-process")
    try:
        await other.request("context/switch", {"name": name})
        head = int((await server.request("context/info", {"name": name}))["version"])
        depths = [d for d in ROLLBACK_DEPTHS if d < plan.history]
        ours: dict[int, list[float]] = {d: [] for d in depths}
        theirs: dict[int, list[float]] = {d: [] for d in depths}
        elsewhere: dict[int, list[float]] = {d: [] for d in depths}
        changed: dict[int, list[int]] = {d: [] for d in depths}
        warmup = max(5, plan.warmup // 4)
        with quiet_gc():
            for i in range(warmup + plan.rollback_ops):
                for depth in depths:
                    start = time.perf_counter()
                    result = await server.request("context/rollback", {"toVersion": head - depth})
                    elapsed = (time.perf_counter() - start) * 1000
                    head = int(result["version"])
                    start = time.perf_counter()
                    git.rollback(git.commits[-1 - depth])
                    git_elapsed = (time.perf_counter() - start) * 1000
                    start = time.perf_counter()
                    answer = await other.request("context/rollback", {"toVersion": head - depth})
                    head = int(answer["version"])
                    other_elapsed = (time.perf_counter() - start) * 1000
                    if i >= warmup:
                        ours[depth].append(elapsed)
                        theirs[depth].append(git_elapsed)
                        elsewhere[depth].append(other_elapsed)
                        changed[depth].append(len(result["changedKeys"]))
    finally:
        await other.close()
    for depth in depths:
        mean_changed = round(sum(changed[depth]) / len(changed[depth]), 1)
        results.add(f"rollback.1m.head-{depth}", "groundhog", ours[depth], mean_changed_keys=mean_changed)
        results.add(f"rollback.1m.head-{depth}", git.name, theirs[depth])
        results.add(f"rollback.1m.head-{depth}", "groundhog_other_process", elsewhere[depth])
    if plan.history == 1000:
        results.workloads[f"growth.rollback.h{plan.history}"] = {
            "groundhog": {
                **results.workloads["rollback.1m.head-999"]["groundhog"],
                "same_as": "rollback.1m.head-999",
            }
        }


async def growth(store: Store, plan: Plan, results: Results) -> None:
    """Update and rollback-to-the-oldest-kept latency with ``historyLimit`` L (the kept history is
    held at L versions); L = 1000 is measured on ``history-1m`` by ``history``."""
    for length in GROWTH_LENGTHS:
        if length < plan.history:
            await _growth_at(length, store, plan, results)


async def _growth_at(length: int, store: Store, plan: Plan, results: Results) -> None:
    keys = SIZES["1m"]
    values = Values(seed=13)
    workspace = store.workspace(f"growth-{length}")
    server = await Server.start(store, workspace, options={"historyLimit": length}, name=f"growth-{length}")
    name = "growth"
    try:
        await create_context(server, name, make_state(keys, seed=5))
        head = await fill_history(server, name, keys, length + 5, values)

        async def update(i: int) -> None:
            nonlocal head
            params = {"set": {values.key(i, keys): values.value(40_000_000 + i)}}
            head = int((await server.request("context/update", params))["version"])

        async def rollback(_: int) -> None:
            nonlocal head
            params = {"toVersion": head - (length - 1)}
            head = int((await server.request("context/rollback", params))["version"])

        samples = await measure(update, plan.growth_ops, plan.warmup)
        results.add(f"growth.update.h{length}", "groundhog", samples)
        samples = await measure(rollback, plan.growth_ops, plan.warmup // 4)
        results.add(f"growth.rollback.h{length}", "groundhog", samples)
    finally:
        await server.close()


# -- throughput -------------------------------------------------------------------------------------


async def throughput(server: Server, store: Store, plan: Plan, results: Results) -> None:
    """Sequential durable updates (each acknowledged before the next) per second, one process; then
    two processes (two clients, each its own server) contending on one context."""
    keys = SIZES["10k"]
    values = Values(seed=17)
    name = "throughput"
    await create_context(server, name, make_state(keys, seed=4))

    async def update(i: int) -> None:
        await server.request("context/update", {"set": {values.key(i, keys): values.value(i)}})

    for i in range(plan.warmup):
        await update(i)
    with quiet_gc():
        start = time.perf_counter()
        for i in range(plan.warmup, plan.warmup + plan.throughput_ops):
            await update(i)
        elapsed = time.perf_counter() - start
    results.add_value(
        "throughput.sequential",
        "groundhog",
        n=plan.throughput_ops,
        updates_per_s=round(plan.throughput_ops / elapsed, 1),
        state="10k",
    )
    await pipelined(server, name, keys, plan, results)
    json_peer = JsonRewrite(store.root / "peers" / "json-throughput", make_state(keys, seed=4))
    with quiet_gc():
        start = time.perf_counter()
        for i in range(plan.throughput_ops):
            json_peer.update(values.key(i, keys), values.value(i))
        elapsed = time.perf_counter() - start
    results.add_value(
        "throughput.sequential",
        json_peer.name,
        n=plan.throughput_ops,
        updates_per_s=round(plan.throughput_ops / elapsed, 1),
        state="10k",
    )
    await contended(store, plan, results)


PIPELINE_DEPTH = 8


async def pipelined(server: Server, name: str, keys: int, plan: Plan, results: Results) -> None:
    """The same updates with up to PIPELINE_DEPTH requests in flight (an agent that does not wait for
    one acknowledgement before sending the next write): the server still answers each one only once it
    is durable, in order, each its own version."""
    values = Values(seed=18)
    window = asyncio.Semaphore(PIPELINE_DEPTH)
    base = int((await server.request("context/info", {"name": name}))["version"])

    async def update(i: int) -> int:
        async with window:
            result = await server.request("context/update", {"set": {values.key(i, keys): values.value(i)}})
            return int(result["version"])

    with quiet_gc():
        start = time.perf_counter()
        versions = await asyncio.gather(*(update(i) for i in range(plan.throughput_ops)))
        elapsed = time.perf_counter() - start
    results.add_value(
        "throughput.pipelined",
        "groundhog",
        n=plan.throughput_ops,
        depth=PIPELINE_DEPTH,
        updates_per_s=round(plan.throughput_ops / elapsed, 1),
        versions_contiguous=sorted(versions) == list(range(base + 1, base + 1 + plan.throughput_ops)),
        state="10k",
    )


async def contended(store: Store, plan: Plan, results: Results) -> None:
    keys = SIZES["10k"]
    workspace = store.workspace("contended")
    first = await Server.start(store, workspace, name="contended-a")
    second = await Server.start(store, workspace, name="contended-b")
    try:
        name = "shared"
        base = await create_context(first, name, make_state(keys, seed=6))
        await second.request("context/switch", {"name": name})
        n = plan.throughput_ops // 2

        async def writer(server: Server, seed: int) -> list[float]:
            values = Values(seed=seed)

            async def update(i: int) -> None:
                key = values.key(i * 2 + seed % 2, keys)
                await server.request("context/update", {"set": {key: values.value(i)}})

            return await measure(update, n, 0)

        start = time.perf_counter()
        a, b = await asyncio.gather(writer(first, 21), writer(second, 22))
        elapsed = time.perf_counter() - start
        head = int((await first.request("context/info", {"name": name}))["version"])
        results.add_value(
            "throughput.contended_2proc",
            "groundhog",
            n=2 * n,
            updates_per_s=round(2 * n / elapsed, 1),
            versions_contiguous=head == base + 2 * n,
            p50_a=summarize(a)["p50"],
            p99_a=summarize(a)["p99"],
            p50_b=summarize(b)["p50"],
            p99_b=summarize(b)["p99"],
        )
    finally:
        await first.close()
        await second.close()
