"""Keeps issue 12's growth benchmark (``bench.growth``) working: every workload in a tiny mode through
the library, and the shape of its result JSON. Never asserts timings: these machines are shared."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench.growth import TABLES, GrowthPlan, run, table
from bench.report import write

from tests.bench import is_measure

STATS = ("n", "mean", "p50", "p95", "p99", "min", "max")


def _refuse(constant: str) -> None:
    raise AssertionError(f"the result JSON holds {constant}")


def test_a_tiny_growth_run_writes_every_workload_target_and_ratio(tmp_path: Path) -> None:
    plan = GrowthPlan.tiny()
    # the allocator as it is: the server's thresholds would stay set for the rest of this test process
    result = run(plan, tmp_path / "run", allocator="default")
    path = write(result, tmp_path / "results", kind="growth")
    assert path.name.endswith("-growth-quick.json")
    written = json.loads(path.read_text(), parse_constant=_refuse)  # strict JSON: no NaN, no Infinity
    assert set(written) == {"meta", "workloads", "ratios", "targets", "notes"}
    meta = written["meta"]
    assert meta["quick"] is True and meta["plan"]["transcript_n"] == plan.transcript_n
    assert meta["allocator"] == "default"
    assert len(meta["load_average_start"]) == 3 and len(meta["load_average_end"]) == 3
    assert set(meta["group_seconds"]) == {"transcript", "edit", "many_keys", "retention", "large_store"}

    w = written["workloads"]
    for way in ("patch", "spec"):
        store = w[f"transcript.{way}.store"]["groundhog"]
        assert store["appends"] == plan.transcript_n
        assert store["state_bytes"] > plan.transcript_n * 1000
        assert store["file_bytes"] > 0 and store["budget_bytes"] > store["state_bytes"]
        assert set(store["rows"]) == set(TABLES)
        assert store["rows"]["versions"] >= 1 and store["blob_bytes"]["versions"] > 0
        assert store["page_bytes"] == {} or store["page_bytes"]["versions"] > 0
        end = w[f"transcript.{way}.update_last_{plan.tail}"]
        assert set(end) == {"groundhog", "groundhog_10kb_state"}
        assert all(end[s]["n"] == plan.tail for s in end)
    for size in plan.edit_sizes_mb:
        edit = w[f"edit.{size}mb"]["groundhog"]
        assert edit["n"] == plan.edit_ops and edit["change_bytes"] == 1000
        assert edit["delta_bytes_p50"] > 0 and edit["fixed_overhead_bytes"] > 0
    for op in ("update", "snapshot", "rollback"):
        assert w[f"many_keys.{op}"]["groundhog"]["n"] == plan.many_ops
    assert w["many_keys.rollback_before_pruning"]["groundhog"]["n"] >= 1
    assert w["many_keys.state"]["groundhog"]["keys"] == plan.many_keys
    for variant, n in (
        ("default_audit_keep", plan.retention_n),
        ("small_audit_keep", plan.retention_small_n),
    ):
        r = w[f"retention.{variant}"]["groundhog"]
        assert r["updates"] == n and r["history_limit"] == 10
        assert len(r["series"]) == n // plan.retention_every
        assert set(r["ranges"]) == {"file_bytes", *TABLES}
        assert r["at_end"]["audit"] <= r["audit_keep"] + 1
    assert w["retention.small_audit_keep"]["groundhog"]["audit_keep"] == plan.audit_keep_small
    assert w["large_store.build"]["groundhog"]["file_mb"] > 0
    for name in ("large_store.open_check", "large_store.verify"):
        entry = w[name]["groundhog"]
        assert entry["n"] == plan.large_runs and entry["peak_rss_mb"] > 0
    for name, systems in w.items():
        for system, stats in systems.items():
            if "p50" in stats:
                assert all(key in stats for key in STATS), (name, system)
                assert is_measure(stats["p50"]) and math.isfinite(stats["p50"]), (name, system)

    assert set(written["ratios"]) == {"transcript.patch", "transcript.spec", "edit.1mb", "many_keys"}
    targets = written["targets"]
    assert len(targets) == 4 + len(plan.edit_sizes_mb) + 2 + 2 + 1
    assert all(t["pass"] in (True, False) and t["measured"] for t in targets)
    rendered = table(result)
    assert "| many_keys.rollback | groundhog | 4 |" in rendered
    assert "PASS" in rendered or "MISS" in rendered
