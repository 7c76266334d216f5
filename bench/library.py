"""Library-level latencies (no LSP hop): update, snapshot and rollback on 10 KB and 1 MB states.

``python -m bench.library [--n N] [--out DIR]`` prints a markdown table and writes
``<DIR>/<date>-<machine>-library.json``. Durable settings as shipped (WAL, synchronous FULL).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.client import measure_sync, summarize
from groundhog import create_manager
from groundhog.changes import Change

SIZES = {"10KB": 10, "1MB": 1000}  # number of ~1 KB keys
ONE_KB = "x" * 1000


def run(n: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        base = Path(tmp)
        manager = create_manager(base / "ws", store_dir=base / "store", config_dir=base / "config")
        for label, keys in SIZES.items():
            name = f"state-{label}"
            manager.create_context(name, {f"k{i}": ONE_KB for i in range(keys)})
            tracker = manager.tracker(name)
            results[f"update/{label}"] = summarize(
                measure_sync(
                    lambda i, t=tracker: t.update(Change(set={"k0": f"{i:08d}" + ONE_KB[8:]})), n, 20
                )
            )
            results[f"snapshot/{label}"] = summarize(
                measure_sync(lambda i, t=tracker: t.create_snapshot(f"s{i}"), max(n // 4, 10), 5)
            )
            # each rollback appends a version: aim below the current head, inside the kept history
            results[f"rollback/{label}"] = summarize(
                measure_sync(
                    lambda i, t=tracker: t.rollback(
                        to_version=t.version - 1 - (i * 7) % min(t.version - 2, 900)
                    ),
                    max(n // 4, 10),
                    5,
                )
            )
            results[f"get/{label}"] = summarize(measure_sync(lambda i, t=tracker: t.read(), n, 20))
        manager.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.library")
    parser.add_argument("--n", type=int, default=1000, help="timed operations per update/get workload")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    results = run(args.n)
    print("| workload | n | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|")
    for name, stats in results.items():
        print(f"| {name} | {stats['n']} | {stats['p50']:.3f} | {stats['p95']:.3f} | {stats['p99']:.3f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{time.strftime('%Y-%m-%d')}-{platform.node() or 'machine'}-library.json"
    path.write_text(json.dumps({"machine": platform.platform(), "workloads": results}, indent=2))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
