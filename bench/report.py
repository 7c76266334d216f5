"""Ratios against the peers, the targets (PASS/MISS, never asserted), the markdown table and the
result JSON (``<dir>/<date>-<machine>[-quick].json``)."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.client import REPO
from bench.workloads import ROLLBACK_DEPTHS, SIZES

GH = "groundhog"
STAT_KEYS = {"n", "mean", "p50", "p95", "p99", "min", "max", "unit"}
Workloads = dict[str, dict[str, dict[str, Any]]]


def ratios(workloads: Workloads) -> dict[str, dict[str, dict[str, float]]]:
    """Per workload and peer: groundhog time / peer time and its inverse ("x faster"), p50 and p99."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, systems in workloads.items():
        ours = systems.get(GH)
        if not ours or "p50" not in ours:
            continue
        for peer, theirs in systems.items():
            if peer == GH or "p50" not in theirs:
                continue
            out.setdefault(name, {})[peer] = {
                "groundhog_over_peer_p50": _div(ours["p50"], theirs["p50"]),
                "x_faster_p50": _div(theirs["p50"], ours["p50"]),
                "groundhog_over_peer_p99": _div(ours["p99"], theirs["p99"]),
                "x_faster_p99": _div(theirs["p99"], ours["p99"]),
            }
    return out


def _div(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("inf")


# -- targets ----------------------------------------------------------------------------------------


def _get(workloads: Workloads, name: str, system: str = GH, stat: str = "p50") -> float:
    try:
        return float(workloads[name][system][stat])
    except KeyError:
        return float("nan")


def _update_vs_floor(w: Workloads) -> tuple[str, bool]:
    """The floor of a durable update is one round trip plus one fsync: the two floors measured."""
    rt = _get(w, "floor.rt_unknown_method")
    fsync = _get(w, "floor.fsync_4k", "os")
    floor = rt + fsync
    worst = max(SIZES, key=lambda s: _get(w, f"update.{s}"))
    ratio = _get(w, f"update.{worst}") / floor
    each = ", ".join(f"{s} {_get(w, f'update.{s}') / floor:.1f}x" for s in SIZES)
    text = (
        f"worst {ratio:.1f}x floor ({each}; floor = round trip p50 {rt:.3f} ms + 4 KB fsync p50"
        f" {fsync:.3f} ms; against the round trip alone {_get(w, f'update.{worst}') / rt:.1f}x)"
    )
    return text, ratio <= 3


def _snapshot(w: Workloads) -> tuple[str, bool]:
    value = _get(w, "snapshot.1m")
    commit = _get(w, "floor.sqlite_commit_1mb_full", "sqlite")
    return f"p50 {value:.2f} ms (a bare 1 MB SQLite FULL commit: p50 {commit:.2f} ms)", value <= 5


def _rollback(w: Workloads) -> tuple[str, bool]:
    each = {d: _get(w, f"rollback.1m.head-{d}", stat="p99") for d in ROLLBACK_DEPTHS}
    other = {d: _get(w, f"rollback.1m.head-{d}", "groundhog_other_process", "p99") for d in ROLLBACK_DEPTHS}
    worst = max(*each.values(), *other.values())
    text = ", ".join(f"head-{d} {v:.1f}" for d, v in each.items())
    text += "; from another process: " + ", ".join(f"head-{d} {v:.1f}" for d, v in other.items())
    return f"worst p99 {worst:.1f} ms ({text})", worst <= 20


def _restored(w: Workloads) -> tuple[str, bool]:
    clean = _get(w, "recovery.spawn_to_restored.clean")
    killed = _get(w, "recovery.spawn_to_restored.after_kill9")
    return f"p50 clean {clean:.0f} ms, after kill -9 {killed:.0f} ms", max(clean, killed) <= 500


def _open_check(w: Workloads) -> tuple[str, bool]:
    value = _get(w, "recovery.open_check")
    return f"p50 {value:.1f} ms", value <= 50


def _memory(w: Workloads) -> tuple[str, bool]:
    peak = max(_get(w, f"memory.peak_rss_mb.{v}", stat="max") for v in ("clean", "after_kill9"))
    return f"max VmHWM {peak:.1f} MB", peak <= 80


def _throughput(w: Workloads) -> tuple[str, bool]:
    rate = _get(w, "throughput.sequential", stat="updates_per_s")
    pipelined = _get(w, "throughput.pipelined", stat="updates_per_s")
    depth = _get(w, "throughput.pipelined", stat="depth")
    text = f"{rate:.0f} updates/s, each acknowledged before the next"
    text += f" ({pipelined:.0f}/s with {depth:.0f} in flight)"
    return text, rate >= 1000


def _vs_json(w: Workloads) -> tuple[str, bool]:
    x = _get(w, "update.1m", "json_rewrite") / _get(w, "update.1m")
    return f"{x:.1f}x faster (p50)", x >= 10


def _vs_git_snapshot(w: Workloads) -> tuple[str, bool]:
    x = _get(w, "snapshot.1m", "git") / _get(w, "snapshot.1m")
    return f"{x:.1f}x faster (p50)", x >= 20


def _vs_git_rollback(w: Workloads) -> tuple[str, bool]:
    each = {
        d: _get(w, f"rollback.1m.head-{d}", "git") / _get(w, f"rollback.1m.head-{d}") for d in ROLLBACK_DEPTHS
    }
    worst = min(each.values())
    text = ", ".join(f"head-{d} {v:.1f}x" for d, v in each.items())
    return f"worst {worst:.1f}x faster (p50; {text})", worst >= 20


TARGETS: list[tuple[str, str, Callable[[Workloads], tuple[str, bool]]]] = [
    ("update_vs_floor", "update p50 <= 3x floor p50 (1 KB change, any state size)", _update_vs_floor),
    ("snapshot_1m", "snapshot p50 <= 5 ms at 1 MB", _snapshot),
    ("rollback_1m", "rollback p99 <= 20 ms to any kept version of 1 MB", _rollback),
    ("spawn_to_restored", "spawn-to-restored <= 500 ms", _restored),
    ("open_check", "open + check <= 50 ms", _open_check),
    ("peak_rss", "peak RSS <= 80 MB in the recovery workload", _memory),
    ("sequential_updates", ">= 1000 durable updates/s sequential", _throughput),
    ("vs_json_rewrite", ">= 10x faster than JSON rewrite, 1 KB change at 1 MB", _vs_json),
    ("vs_git_snapshot", ">= 20x faster than git for snapshot (1 MB)", _vs_git_snapshot),
    ("vs_git_rollback", ">= 20x faster than git for rollback (1 MB)", _vs_git_rollback),
]


def targets(workloads: Workloads) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key, text, check in TARGETS:
        try:
            ok: bool | None
            measured, ok = check(workloads)
        except (KeyError, ValueError, ZeroDivisionError) as error:
            measured, ok = f"not measured ({type(error).__name__})", None
        if "nan" in measured:
            measured, ok = "not measured in this run", None
        out.append({"key": key, "target": text, "measured": measured, "pass": ok})
    return out


# -- output -----------------------------------------------------------------------------------------


def machine_info(quick: bool) -> dict[str, Any]:
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": socket.gethostname(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "git": git,
        "commit": commit,
        "quick": quick,
        "load_average_start": list(os.getloadavg()),
    }


def table(result: dict[str, Any]) -> str:
    workloads: Workloads = result["workloads"]
    rel = result["ratios"]
    lines = [
        "| workload | system | n | p50 ms | p95 ms | p99 ms | groundhog is (p50), or details |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for name, systems in workloads.items():
        for system, stats in systems.items():
            if "p50" not in stats:
                extra = ", ".join(f"{k}={v}" for k, v in stats.items())
                lines.append(f"| {name} | {system} | | | | | {extra} |")
                continue
            versus = ", ".join(f"{k}={v}" for k, v in stats.items() if k not in STAT_KEYS)
            if system != GH and system in rel.get(name, {}):
                x = rel[name][system]["x_faster_p50"]
                versus = f"{x:.2f}x faster" if x >= 1 else f"{1 / x:.2f}x slower"
            unit = " MB" if stats.get("unit") == "MB" else ""
            lines.append(
                f"| {name} | {system} | {stats['n']} | {stats['p50']:.3f}{unit} | {stats['p95']:.3f}{unit}"
                f" | {stats['p99']:.3f}{unit} | {versus} |"
            )
    return "\n".join(lines + targets_and_notes(result))


def targets_and_notes(result: dict[str, Any]) -> list[str]:
    """The end every bench table shares: each target with its verdict, then the notes."""
    lines = ["", "| target | measured | |", "|---|---|---|"]
    for t in result["targets"]:
        verdict = "n/a" if t["pass"] is None else "PASS" if t["pass"] else "MISS"
        lines.append(f"| {t['target']} | {t['measured']} | {verdict} |")
    return lines + ["", "Notes:"] + [f"- {note}" for note in result["notes"]]


def write(result: dict[str, Any], directory: Path, *, kind: str = "") -> Path:
    """``<directory>/<date>-<machine>[-<kind>][-quick].json`` (``kind``: ``mcp`` for bench.mcp_face)."""
    directory.mkdir(parents=True, exist_ok=True)
    meta = result["meta"]
    day = meta["date"][:10]
    suffix = (f"-{kind}" if kind else "") + ("-quick" if meta["quick"] else "")
    path = directory / f"{day}-{meta['machine']}{suffix}.json"
    path.write_text(json.dumps(_finite(result), indent=2, allow_nan=False) + "\n")
    return path


def _finite(value: Any) -> Any:
    """NaN and infinities (a workload not measured, a zero division) become null: valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
