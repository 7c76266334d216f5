"""Memory (issue 23): the resident set of a process whose trackers rewrite 1 MB states whole, and
what glibc's large-buffer thresholds (server/groundhog/memory.py) cost and buy.

``python -m bench.memory [--quick] [--out DIR]`` prints a markdown table and writes
``<DIR>/<date>-<machine>-memory[-quick].json``. Each measurement runs in a fresh process (RSS is
process-wide), in turn for each allocator setting:

- ``rewrite.Tt``: T trackers (1 or 4: the adapter keeps up to four) on contexts of 1,000 values of
  1 KB, each rewritten whole 70 times (``get_state`` / new data / ``update_state``), in the library.
- ``serve.4t``: the same through a real ``groundhog serve`` (four contexts of one session,
  ``context/update`` with ``set`` of every key); RSS of the server process, its allocator as shipped.
- ``transcript``: N appends of 1 KB (``patch add /log/-``) to one list, 10 MB at the end (quick:
  2,000 appends): the update latency of the last 1,000 appends, which the thresholds are for.

Allocators: ``default`` (glibc as it starts: what a library user gets), ``server`` (the thresholds
and the idle trim, as ``serve`` and ``mcp`` run), ``server_no_trim`` (the thresholds alone, as before
issue 23). RSS is read at the end of the work (``rss_end_mb``), after two idle seconds
(``rss_idle_mb``: the idle trim has run) and as the peak (``hwm_mb``, VmHWM). Target (PASS/MISS,
never asserted): four trackers stay under 100 MB after idling, in every setting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
ALLOCATORS = ("default", "server", "server_no_trim")
ROUNDS = 70
KEYS = 1000
LIMIT_MB = 100
IDLE_S = 2.5  # more than two periods of the idle trim (memory.TRIM_PERIOD_S)


def data(round_: int, tracker: int) -> dict[str, str]:
    """1,000 values of ~1 KB, all new in each round."""
    return {f"k{i:04d}": f"{round_:04d}{tracker}" + "x" * 1000 for i in range(KEYS)}


def status_mb() -> dict[str, float]:
    """VmRSS and VmHWM of this process, in MB."""
    return _status(Path("/proc/self/status"))


def _status(path: Path) -> dict[str, float]:
    fields = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return fields


def _heap_free_mb() -> float | None:
    """Free bytes in glibc's heap (mallinfo2), in MB: what a trim could hand back."""
    import ctypes

    from groundhog.memory import _MallInfo2

    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2
    return round(int(mallinfo2().fordblks) / 2**20, 1)


def _allocator(setting: str) -> None:
    from groundhog.memory import keep_large_buffers_on_the_heap

    if setting != "default":
        keep_large_buffers_on_the_heap(trim_when_idle=setting == "server")


def worker(workload: str, setting: str, count: int) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    import gc

    from groundhog import create_manager
    from groundhog.changes import Change

    _allocator(setting)
    root = Path(tempfile.mkdtemp(prefix="groundhog-memory-"))
    manager = create_manager(
        root / "ws", store_dir=root / "store", config_dir=root / "config", snapshot_max_bytes=64 << 20
    )
    start = status_mb()["VmRSS"]
    latencies: list[float] = []
    if workload == "rewrite":
        trackers = []
        for number in range(count):
            manager.create_context(f"c{number}")
            trackers.append(manager.tracker(f"c{number}"))
        for round_ in range(ROUNDS):
            for number, tracker in enumerate(trackers):
                state = tracker.get_state()
                state.data = data(round_, number)
                began = time.perf_counter()
                tracker.update_state(state)
                latencies.append((time.perf_counter() - began) * 1000)
    else:
        manager.create_context("t", {"log": []})
        tracker = manager.tracker("t")
        gc.disable()  # as bench.growth: the benchmark's own collections stay out of the timings
        for i in range(count):
            change = Change(patch=[{"op": "add", "path": "/log/-", "value": f"{i:08d}" + "e" * 992}])
            began = time.perf_counter()
            tracker.update(change)
            latencies.append((time.perf_counter() - began) * 1000)
        gc.enable()
    gc.collect()
    end = status_mb()
    free_end = _heap_free_mb()
    time.sleep(IDLE_S)
    idle = status_mb()
    manager.close()
    shutil.rmtree(root, ignore_errors=True)
    return {
        "rss_start_mb": start,
        "rss_end_mb": end["VmRSS"],
        "rss_idle_mb": idle["VmRSS"],
        "hwm_mb": idle["VmHWM"],
        "heap_free_end_mb": free_end,
        "heap_free_idle_mb": _heap_free_mb(),
        "latencies": latencies[-1000:],  # summarized by the parent (bench.client imports pygls)
    }


def _in_subprocess(workload: str, setting: str, count: int) -> dict[str, Any]:
    from bench.client import REPO, server_python, summarize

    done = subprocess.run(
        [server_python(), "-m", "bench.memory", "--worker", workload, setting, str(count)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, **summarize(result.pop("latencies"))}


async def serve(root: Path) -> dict[str, Any]:
    """Four contexts of one session of a real server (its allocator as shipped), rewritten whole;
    the server's RSS."""
    from bench.client import Server, Store, summarize  # pygls: not in the workers (their RSS counts)

    store = Store(root / "serve")
    server = await Server.start(store, store.workspace("w"), name="memory")
    try:
        start = _status(Path(f"/proc/{server.pid}/status"))["VmRSS"]
        for number in range(4):
            await server.request("context/create", {"name": f"c{number}"})
        latencies = []
        for round_ in range(ROUNDS):
            for number in range(4):
                began = time.perf_counter()
                await server.request("context/update", {"context": f"c{number}", "set": data(round_, number)})
                latencies.append((time.perf_counter() - began) * 1000)
        end = _status(Path(f"/proc/{server.pid}/status"))
        await asyncio.sleep(IDLE_S)
        idle = _status(Path(f"/proc/{server.pid}/status"))
    finally:
        await server.close()
    return {
        "rss_start_mb": start,
        "rss_end_mb": end["VmRSS"],
        "rss_idle_mb": idle["VmRSS"],
        "hwm_mb": idle["VmHWM"],
        **summarize(latencies),
    }


def run(quick: bool) -> dict[str, Any]:
    from bench import report

    meta = report.machine_info(quick)
    appends = 2_000 if quick else 10_000
    workloads: dict[str, dict[str, Any]] = {}
    root = Path(tempfile.mkdtemp(prefix="groundhog-memory-bench-"))
    for setting in ALLOCATORS:  # one setting after another: each in fresh processes
        for trackers in (1, 4):
            workloads.setdefault(f"rewrite.{trackers}t", {})[setting] = _in_subprocess(
                "rewrite", setting, trackers
            )
        workloads.setdefault("transcript", {})[setting] = _in_subprocess("transcript", setting, appends)
    workloads["serve.4t"] = {"server": asyncio.run(serve(root))}
    shutil.rmtree(root, ignore_errors=True)
    meta["load_average_end"] = list(os.getloadavg())
    meta["appends"] = appends
    worst = max(r["rss_idle_mb"] for name in ("rewrite.4t", "serve.4t") for r in workloads[name].values())
    targets = [
        {
            "key": "rss_4_trackers",
            "target": f"four trackers on 1 MB states rewritten whole {ROUNDS} times: RSS < {LIMIT_MB} MB",
            "measured": f"worst {worst:.1f} MB after idling (library and server, every allocator)",
            "pass": worst < LIMIT_MB,
        }
    ]
    notes = [
        "each figure from a fresh process; RSS in MB; latencies in ms (rewrite: update_state of the whole "
        "1 MB state; serve: context/update round trip; transcript: the last 1,000 appends)",
        "default = glibc as it starts; server = serve/mcp's thresholds and idle trim; server_no_trim = the "
        "thresholds alone (before issue 23)",
    ]
    return {"meta": meta, "workloads": workloads, "ratios": {}, "targets": targets, "notes": notes}


def table(result: dict[str, Any]) -> str:
    lines = [
        "| workload | allocator | RSS start | RSS end | RSS idle | peak | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, settings in result["workloads"].items():
        for setting, r in settings.items():
            lines.append(
                f"| {name} | {setting} | {r['rss_start_mb']} | {r['rss_end_mb']} | {r['rss_idle_mb']} "
                f"| {r['hwm_mb']} | {r['p50']:.2f} | {r['p99']:.2f} |"
            )
    for target in result["targets"]:
        verdict = "PASS" if target["pass"] else "MISS"
        lines.append(f"\n{verdict}: {target['target']}: {target['measured']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 transcript appends instead of 10,000")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the result JSON goes")
    parser.add_argument(
        "--worker", nargs=3, metavar=("WORKLOAD", "ALLOCATOR", "COUNT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.worker:
        workload, setting, count = args.worker
        print(json.dumps(worker(workload, setting, int(count))))
        return 0
    from bench import report

    result = run(args.quick)
    print(table(result))
    print(f"\nwrote {report.write(result, args.out, kind='memory')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
