"""Keeps the MCP benchmark (``bench.mcp_face``) working: one tiny run end-to-end against real
``groundhog mcp``, ``groundhog serve`` and SDK no-op processes, and the shape of its result JSON.
Never asserts timings: these machines are shared and noisy."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench.client import Store
from bench.mcp_face import (
    DEFAULT_CAP,
    FULL_CAP,
    LSP,
    LSP_RT,
    MCP,
    MCP_FULL,
    NOOP,
    NOOP_1MB,
    OPS,
    PROPAGATIONS,
    McpPlan,
    run,
    table,
)
from bench.report import write

from tests.bench import is_measure

TINY = McpPlan(quick=True, ops=3, warmup=1, rounds=1, spawns=1, propagation=3)
STATS = ("n", "mean", "p50", "p95", "p99", "min", "max")


def _refuse(constant: str) -> None:
    raise AssertionError(f"the result JSON holds {constant}")


async def test_a_tiny_mcp_run_writes_every_workload_target_and_ratio(tmp_path: Path) -> None:
    result = await run(TINY, Store(tmp_path / "run"))
    path = write(result, tmp_path / "results", kind="mcp")
    assert path.name.endswith("-mcp-quick.json")
    written = json.loads(path.read_text(), parse_constant=_refuse)  # strict JSON: no NaN, no Infinity
    assert set(written) == {"meta", "workloads", "ratios", "targets", "notes"}

    meta = written["meta"]
    assert meta["quick"] is True and meta["plan"]["ops"] == 3
    assert len(meta["load_average_start"]) == 3 and len(meta["load_average_end"]) == 3
    assert meta["mcp_sdk"] and set(meta["group_seconds"]) == {"tool_calls", "spawns", "propagation"}

    workloads = written["workloads"]
    expected = {
        "mcp.get.10k": {MCP, LSP, NOOP, LSP_RT},
        "mcp.update.10k": {MCP, LSP, NOOP, LSP_RT},
        "mcp.get.1m": {MCP, MCP_FULL, NOOP_1MB, LSP, NOOP, LSP_RT},
        "mcp.update.1m": {MCP, LSP, NOOP, LSP_RT},
        "mcp.spawn_to_first_result": {MCP, NOOP},
        "mcp.propagation.mcp_update_to_lsp_didChange": {"groundhog"},
        "mcp.propagation.lsp_update_to_mcp_resources_updated": {"groundhog"},
        "mcp.propagation.lsp_update_to_mcp_listen": {"groundhog"},
    }
    assert {name: set(systems) for name, systems in workloads.items()} == expected
    for name, systems in workloads.items():
        for system, stats in systems.items():
            assert all(key in stats for key in STATS), (name, system)
            n = TINY.spawns if "spawn" in name else TINY.propagation if "propagation" in name else TINY.ops
            assert stats["n"] == n, (name, system)
            assert is_measure(stats["p50"]) and math.isfinite(stats["p50"]), (name, system)
    assert workloads["mcp.get.1m"][MCP]["max_result_bytes"] == DEFAULT_CAP
    assert workloads["mcp.get.1m"][MCP_FULL]["max_result_bytes"] == FULL_CAP
    for name in expected:
        if ".propagation." in name:
            assert workloads[name]["groundhog"]["lost"] == 0, name

    ratios = written["ratios"]
    for workload, system, _ in OPS:
        entry = ratios[f"{workload}.{system}"]
        assert is_measure(entry["budget_p50"]) and is_measure(entry["mcp_over_budget"])
    assert is_measure(ratios["mcp.get.1m.groundhog_mcp_full"]["sdk_noop_1mb_p50"])
    assert is_measure(ratios["mcp.spawn_to_first_result"]["groundhog_over_noop_p50"])

    targets = written["targets"]
    assert len(targets) == len(OPS) + 1 + len(PROPAGATIONS)
    assert all(t["pass"] in (True, False) and t["measured"] for t in targets)
    rendered = table(result)
    assert "| mcp.get.1m | groundhog_mcp_full | 3 |" in rendered
    assert "PASS" in rendered or "MISS" in rendered
