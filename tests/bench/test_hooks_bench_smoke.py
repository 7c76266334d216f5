"""Keeps issue 19's hook benchmark (``bench.hooks``) working: a tiny run through real hook spawns and
the capture path, and the shape of its result JSON. Never asserts timings."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench.hooks import HooksPlan, run, table
from bench.report import write


def test_a_tiny_hooks_run_writes_every_workload_ratio_and_target(tmp_path: Path) -> None:
    saved = dict(os.environ)
    try:
        result = run(HooksPlan.tiny(), tmp_path / "run")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    path = write(result, tmp_path / "results", kind="hooks")
    written = json.loads(path.read_text())
    assert path.name.endswith("-hooks-quick.json")
    assert set(written["workloads"]) == {
        "hook.session_start", "version.start", "capture.first", "capture.last", "capture.store",
        "capture.first_cpu", "capture.last_cpu",
    }  # fmt: skip
    assert isinstance(written["meta"]["capture_last_vs_first_cpu_p50"], float)
    assert written["workloads"]["hook.session_start"]["n"] == HooksPlan.tiny().spawns
    store = written["workloads"]["capture.store"]
    assert store["lines"] == HooksPlan.tiny().lines and store["transcript_bytes"] > 0
    assert set(written["ratios"]) == set(written["targets"])
    assert "SessionStart hook" in table(result)
