"""``python -m bench [--quick] [--out DIR] [--keep]``: run every workload against the real server and
the peers, print a markdown table and write ``<DIR>/<date>-<machine>[-quick].json``; then issue 12's
growth workloads (group ``store_growth``, ``bench.growth``): their own table and
``<DIR>/<date>-<machine>-growth[-quick].json``; then the agents' face (group ``mcp``,
``bench.mcp_face``): its own table and ``<DIR>/<date>-<machine>-mcp[-quick].json``; then the shared
store (group ``shared``, ``bench.shared_store``): SQLite next to PostgreSQL, ``-shared[-quick].json``;
then the agent hooks (group ``hooks``, ``bench.hooks``): ``-hooks[-quick].json``."""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import growth, hooks, mcp_face, recovery, report, shared_store, workloads
from bench.client import REPO, Server, Store
from bench.workloads import Plan, Results

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
LSP_GROUPS = ("floor", "sizes", "history", "throughput", "growth", "recovery")
GROUPS = (*LSP_GROUPS, "store_growth", "mcp", "shared", "hooks")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer operations (under two minutes)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the result JSON goes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stores (for profiling)")
    parser.add_argument(
        "--only", action="append", default=[], choices=GROUPS, help="run only these workload groups"
    )
    args = parser.parse_args(argv)
    lsp_only = tuple(group for group in args.only if group in LSP_GROUPS)
    if lsp_only or not args.only:
        plan = Plan.make(args.quick)
        root = Path(tempfile.mkdtemp(prefix="groundhog-bench-"))
        try:
            result = asyncio.run(run(plan, Store(root), log=_progress, only=lsp_only))
        finally:
            if args.keep:
                print(f"kept the stores in {root}", file=sys.stderr)
            else:
                shutil.rmtree(root, ignore_errors=True)
        print(report.table(result))
        path = report.write(result, args.out)
        print(f"\nwrote {path}")
    if "store_growth" in args.only or not args.only:
        print()
        growth.run_and_report(growth.GrowthPlan.make(args.quick), args.out, keep=args.keep, log=_progress)
    if "mcp" in args.only or not args.only:
        print()
        mcp_face.run_and_report(mcp_face.McpPlan.make(args.quick), args.out, keep=args.keep, log=_progress)
    if "shared" in args.only or not args.only:
        print()
        result = shared_store.run(shared_store.SharedPlan.make(args.quick), log=_progress)
        print(shared_store.table(result))
        print(f"\nwrote {report.write(result, args.out, kind='shared')}")
    if "hooks" in args.only or not args.only:
        print()
        hooks.run_and_report(hooks.HooksPlan.make(args.quick), args.out)
    return 0


def _progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


async def run(
    plan: Plan, store: Store, *, log: Any = lambda text: None, only: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Every workload (or the named groups in ``only``); returns the result document."""
    started = time.perf_counter()
    # Byte-compile the server as pip does when it installs a package; a checkout run under
    # PYTHONDONTWRITEBYTECODE (as on CI machines) would otherwise compile ~40 modules at every spawn.
    compileall.compile_dir(str(REPO / "server" / "groundhog"), quiet=1)
    meta = report.machine_info(plan.quick)
    results = Results()
    timings: dict[str, float] = {}

    def wanted(group: str) -> bool:
        return not only or group in only

    server = await Server.start(store, store.workspace("main"), name="main")
    try:
        steps = [
            ("floor", lambda: workloads.floor(server, store, plan, results)),
            ("sizes", lambda: workloads.state_sizes(server, store, plan, results)),
            ("history", lambda: workloads.history(server, store, plan, results)),
            ("throughput", lambda: workloads.throughput(server, store, plan, results)),
        ]
        for group, step in steps:
            if wanted(group):
                log(f"{group}...")
                began = time.perf_counter()
                await step()
                timings[group] = round(time.perf_counter() - began, 1)
        if wanted("history"):
            results.add_value("memory.main_session_peak_rss_mb", "groundhog", max_mb=server.peak_rss_mb())
    finally:
        await server.close()
    if wanted("growth"):
        log("growth...")
        began = time.perf_counter()
        await workloads.growth(store, plan, results)
        timings["growth"] = round(time.perf_counter() - began, 1)
    if wanted("recovery"):
        log("recovery: building the store...")
        began = time.perf_counter()
        workspace, seconds = await asyncio.to_thread(recovery.build, store, plan)
        log(f"recovery: built in {seconds:.1f} s; measuring...")
        recovery.open_and_check(store, workspace, plan, results)
        await recovery.spawns(store, workspace, plan, results)
        timings["recovery"] = round(time.perf_counter() - began, 1)
    duration = time.perf_counter() - started
    meta.update(
        duration_s=round(duration, 1),
        group_seconds=timings,
        plan=asdict(plan),
        load_average_end=list(os.getloadavg()),
    )
    results.notes[:0] = _notes(plan)
    start_load, end_load = meta["load_average_start"][0], meta["load_average_end"][0]
    results.notes.append(
        f"machine: {meta['cpus']} CPUs, 1-min load average {start_load:.1f} at start, {end_load:.1f} at "
        "the end (other work on a shared machine inflates every figure, p95/p99 most)"
    )
    return {
        "meta": meta,
        "workloads": results.workloads,
        "ratios": report.ratios(results.workloads),
        "targets": report.targets(results.workloads),
        "notes": results.notes,
    }


def _notes(plan: Plan) -> list[str]:
    notes = [
        "groundhog: the real server over stdio through pygls' LSP client (JSON-RPC round trip included); "
        "peers run in-process (no LSP hop), which is their real deployment",
        "floor.rt_unknown_method is the same client/server round trip with no handler (MethodNotFound)",
        f"latency workloads: {plan.ops} timed operations after {plan.warmup} warm-up, alternating rounds "
        "between systems; the benchmark process's GC is paused during timed loops (the server's is not)",
        "sqlite_kv_full uses synchronous=FULL like groundhog; VS Code's state.vscdb uses NORMAL "
        "(sqlite_kv_normal)",
        "git: default settings (loose objects are not fsynced by default), add + commit per snapshot, "
        "checkout <commit> -- file per rollback (no recovery point, unlike groundhog)",
        f"fewer samples where one costs 30 ms to 1 s: {plan.git_snapshot_ops} git snapshots per size, "
        f"{plan.spawns_clean} spawns after a clean close and {plan.spawns_killed} after kill -9, "
        f"{plan.opens} opens",
    ]
    if plan.quick:
        notes.insert(
            0,
            f"QUICK RUN: {plan.ops} operations per workload (not 1000), {plan.rollback_ops} per rollback "
            f"depth, {plan.git_snapshot_ops} git snapshots per size, "
            f"{plan.spawns_clean}+{plan.spawns_killed} spawns, recovery store of "
            f"{plan.recovery_contexts} x {plan.recovery_versions} versions: indicative only",
        )
    return notes


if __name__ == "__main__":
    sys.exit(main())
