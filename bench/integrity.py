"""What integrity costs (issue 20): the directory lock and the file-identity check every transaction
makes (a get and a 1 KB update, with them and with them turned off on the same store), the open-time
check of the file (SQLite's integrity check up to 64 MB: open with it and without it), and a salvage
(a page SQLite cannot read past, in stores of two sizes). Medians and ratios of one run.

    python -m bench.integrity [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from groundhog import create_manager
from groundhog.changes import Change
from groundhog.store import damage
from groundhog.workspace import workspace_id_for

RESULTS = Path(__file__).with_name("results")


def _samples(work: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        work()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(samples),
        "p50": statistics.median(samples),
        "p99": ordered[int(len(ordered) * 0.99) - 1],
    }


@contextlib.contextmanager
def _unchecked(store: Any) -> Iterator[None]:
    """The store without its per-transaction lock and identity check (a baseline only)."""
    shared, usable = store._shared, store._connections._usable
    store._shared, store._connections._usable = contextlib.nullcontext, lambda conn: True
    try:
        yield
    finally:
        store._shared, store._connections._usable = shared, usable


def per_transaction(root: Path, n: int) -> dict[str, Any]:
    manager = create_manager(root / "ws", store_dir=root / "store", config_dir=root / "cfg")
    manager.create_context("c", {"k": "x" * 1000})
    tracker = manager.tracker("c")
    counter = iter(range(10**9))
    out: dict[str, Any] = {}
    try:
        for name, work in (
            ("get", lambda: tracker.read()),
            ("update_1kb", lambda: tracker.update(Change(set={"k": f"{next(counter)}" + "x" * 1000}))),
        ):
            _samples(work, n // 10)  # warm-up
            with _unchecked(manager.store):
                base = _stats(_samples(work, n))
            checked = _stats(_samples(work, n))
            out[name] = {"checked": checked, "unchecked": base, "ratio_p50": checked["p50"] / base["p50"]}
    finally:
        manager.close()
    return out


def _fill(root: Path, megabytes: int) -> None:
    manager = create_manager(
        root / "ws", store_dir=root / "store", config_dir=root / "cfg", snapshot_max_bytes=64 << 20
    )
    manager.create_context("big")
    tracker = manager.tracker("big")
    for n in range(megabytes * 4):  # 256 KB a version: a store of about ``megabytes``
        tracker.update(Change(set={f"k{n % 8}": os.urandom(128_000).hex()}))  # no splice shares it
    manager.close()


def open_check(root: Path, megabytes: int, n: int) -> dict[str, Any]:
    _fill(root, megabytes)

    def open_once() -> None:
        create_manager(root / "ws", store_dir=root / "store", config_dir=root / "cfg").close()

    checked = _stats(_samples(open_once, n))
    limit, damage.CHECK_MAX_BYTES = damage.CHECK_MAX_BYTES, 0
    try:
        base = _stats(_samples(open_once, n))
    finally:
        damage.CHECK_MAX_BYTES = limit
    size = sum(p.stat().st_size for p in (root / "store").rglob("store.db*"))
    return {
        "file_mb": round(size / 1e6, 1),
        "checked": checked,
        "unchecked": base,
        "ratio_p50": checked["p50"] / base["p50"],
    }


def salvage(root: Path, megabytes: int) -> dict[str, Any]:
    _fill(root, megabytes)
    database = root / "store" / "workspaces" / workspace_id_for(root / "ws") / "store.db"
    data = bytearray(database.read_bytes())
    data[4096:8192] = bytes(4096)  # page 2: a page SQLite cannot read past
    database.write_bytes(bytes(data))
    start = time.perf_counter()
    manager = create_manager(root / "ws", store_dir=root / "store", config_dir=root / "cfg")
    elapsed = (time.perf_counter() - start) * 1000
    salvaged = bool(manager.salvages)
    manager.close()
    return {"file_mb": round(len(data) / 1e6, 1), "open_with_salvage_ms": elapsed, "salvaged": salvaged}


def run(quick: bool) -> dict[str, Any]:
    n = 200 if quick else 3000
    sizes = (2, 8) if quick else (8, 48)
    result: dict[str, Any] = {
        "meta": {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": platform.node(),
            "quick": quick,
        }
    }
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        result["per_transaction"] = per_transaction(base / "t", n)
        result["open_check"] = {
            f"{mb}mb": open_check(base / f"o{mb}", mb, 5 if quick else 15) for mb in sizes
        }
        result["salvage"] = {f"{mb}mb": salvage(base / f"s{mb}", mb) for mb in sizes}
        shutil.rmtree(base, ignore_errors=True)
    return result


def table(result: dict[str, Any]) -> str:
    lines = ["| workload | checked p50 ms | without p50 ms | ratio |", "|---|---|---|---|"]
    for name, entry in result["per_transaction"].items():
        checked, base = entry["checked"]["p50"], entry["unchecked"]["p50"]
        lines.append(f"| {name} | {checked:.3f} | {base:.3f} | {entry['ratio_p50']:.2f}x |")
    for name, entry in result["open_check"].items():
        lines.append(
            f"| open {name} ({entry['file_mb']} MB) | {entry['checked']['p50']:.1f} | "
            f"{entry['unchecked']['p50']:.1f} | {entry['ratio_p50']:.2f}x |"
        )
    for name, entry in result["salvage"].items():
        lines.append(
            f"| open + salvage {name} ({entry['file_mb']} MB) | {entry['open_with_salvage_ms']:.0f} | | |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = run(args.quick)
    print(table(result))
    RESULTS.mkdir(exist_ok=True)
    day = result["meta"]["date"][:10]
    path = RESULTS / f"{day}-{result['meta']['machine']}-integrity{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
