"""Keeps issue 13's benchmark (``bench.shared_store``) working: a tiny run of every workload on both
stores, and the shape of its table and JSON. Never asserts timings: these machines are shared."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report import write
from bench.shared_store import BACKENDS, PROPAGATION, ROUND_TRIP, SharedPlan, run, table

from tests.bench import is_measure


def test_a_tiny_run_measures_every_workload_on_both_stores(tmp_path: Path) -> None:
    plan = SharedPlan(12, 2, 0.3, 8, rounds=2, contexts=2, versions=3, member_rounds=1)
    result = run(plan, log=lambda text: None)
    for name, systems in result["workloads"].items():
        assert set(systems) == ({"postgresql"} if name == ROUND_TRIP else set(BACKENDS)), name
        for stats in systems.values():
            assert is_measure(stats["per_s"]) if "per_s" in stats else stats["n"] > 0, name
    assert result["workloads"][PROPAGATION]["postgresql"]["n"] == 8  # timed, after five untimed
    assert result["targets"] and all(t["pass"] in (True, False) for t in result["targets"])
    rendered = table(result)
    assert all(name in rendered for name in result["workloads"])
    path = write(result, tmp_path, kind="shared")
    assert json.loads(path.read_text())["meta"]["machine"]
