"""Recovery: a workspace of 10 contexts x 1000 versions of a 1 MB state (built once per run through
the library, for speed), then spawn -> ``initialize`` response -> ``context/didRestore`` of a fresh
server, after a clean close and after kill -9 of a server that was writing; the in-process open +
check (``groundhog.create_manager``); and the server's peak RSS (VmHWM) through it."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from bench.client import Server, Store, quiet_gc
from bench.workloads import SIZES, Plan, Results, Values, make_state

WORKSPACE = "recovery"


def build(store: Store, plan: Plan) -> tuple[Path, float]:
    """Create the recovery workspace through the library; returns it and the build time in s."""
    import groundhog
    from groundhog.changes import Change

    start = time.perf_counter()
    workspace = store.workspace(WORKSPACE)
    manager = groundhog.create_manager(workspace, store_dir=store.store_dir, config_dir=store.config_dir)
    keys = SIZES["1m"]
    values = Values(seed=19)
    name = ""
    try:
        for c in range(plan.recovery_contexts):
            name = f"ctx-{c:02d}"
            manager.create_context(name, data=make_state(keys, seed=100 + c))
            tracker = manager.tracker(name)
            for v in range(plan.recovery_versions - 1):
                tracker.update(Change(set={values.key(v, keys): values.value(c * 100_000 + v)}))
        # The next session restores the last active context: a 1 MB one, not an empty default.
        manager.session_activated("bench-build", name)
    finally:
        manager.close()
    return workspace, time.perf_counter() - start


def open_and_check(store: Store, workspace: Path, plan: Plan, results: Results) -> None:
    """``groundhog.create_manager`` in-process: opens the store and checks every context's head."""
    import groundhog

    samples = []
    warmup = 2
    with quiet_gc():
        for i in range(warmup + plan.opens):
            start = time.perf_counter()
            manager = groundhog.create_manager(
                workspace, store_dir=store.store_dir, config_dir=store.config_dir
            )
            elapsed = (time.perf_counter() - start) * 1000
            manager.close()
            if i >= warmup:
                samples.append(elapsed)
    results.add("recovery.open_check", "groundhog", samples)


async def _start_once(store: Store, workspace: Path, name: str, into: tuple[list[float], ...]) -> None:
    """Spawn a server until it restores, record (initialize ms, restored ms, peak RSS), close it."""
    server = await Server.start(store, workspace, expect_restore=True, name=name)
    initialized, restored, peaks = into
    peaks.append(server.peak_rss_mb() or 0.0)
    initialized.append(server.startup.initialized_ms)
    restored.append(server.startup.restored_ms or 0.0)
    await server.close()


async def spawns(store: Store, workspace: Path, plan: Plan, results: Results) -> None:
    initialized: list[float] = []
    restored: list[float] = []
    peaks: list[float] = []
    for i in range(plan.spawns_clean):
        await _start_once(store, workspace, f"restore-{i}", (initialized, restored, peaks))
    results.add("recovery.spawn_to_initialize.clean", "groundhog", initialized)
    results.add("recovery.spawn_to_restored.clean", "groundhog", restored)
    results.add("memory.peak_rss_mb.clean", "groundhog", peaks, unit="MB")

    initialized, restored, peaks, lost = [], [], [], 0
    rnd = random.Random(23)
    values = Values(seed=29)
    for i in range(plan.spawns_killed):
        writer = await Server.start(store, workspace, expect_restore=True, name=f"writer-{i}")
        pending = [
            writer.client.protocol.send_request(
                "context/update", {"set": {values.key(j, SIZES["1m"]): values.value(i * 1000 + j)}}
            )
            for j in range(200)
        ]
        await asyncio.sleep(rnd.uniform(0.03, 0.15))
        await writer.wait_killed()
        lost += sum(1 for future in pending if not future.done() or future.cancelled())
        await _start_once(store, workspace, f"after-kill-{i}", (initialized, restored, peaks))
    results.add("recovery.spawn_to_initialize.after_kill9", "groundhog", initialized)
    results.add("recovery.spawn_to_restored.after_kill9", "groundhog", restored)
    results.add("memory.peak_rss_mb.after_kill9", "groundhog", peaks, unit="MB")
    results.notes.append(
        f"recovery: {plan.recovery_contexts} contexts x {plan.recovery_versions} versions of a 1 MB state; "
        f"kill -9 hit writers with 200 updates in flight ({lost} unacknowledged in all, as expected)"
    )
    results.notes.append(
        "spawns: the server's modules are byte-compiled (as an installed package is); no start-up"
        " cache (pygls and lsprotocol are imported as they are)"
    )
