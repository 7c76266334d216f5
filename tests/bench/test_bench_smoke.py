"""Keeps the benchmark code from rotting: the statistics helpers, the peers, and one tiny workload
end-to-end against the real server. Never asserts timings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from bench.__main__ import run
from bench.client import Store, percentile, summarize
from bench.library import SIZES as SIZES_KB
from bench.library import run as library_run
from bench.peers import JsonRewrite, ShadowGit, SqliteKv
from bench.report import TARGETS, table, write
from bench.workloads import Plan, Values, make_state

from tests.bench import is_measure


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == pytest.approx(50.5)
    assert percentile(values, 0.99) == pytest.approx(99.01)
    assert percentile([3.0], 0.95) == 3.0
    stats = summarize([4.0, 1.0, 3.0, 2.0])
    assert stats["n"] == 4
    assert stats["p50"] == pytest.approx(2.5)
    assert (stats["min"], stats["max"], stats["mean"]) == (1.0, 4.0, 2.5)


def test_peers_keep_the_state(tmp_path: Path) -> None:
    state = make_state(3)
    values = Values()
    key, value = values.key(1, 3), values.value(1)
    rewrite = JsonRewrite(tmp_path / "json", state)
    rewrite.update(key, value)
    assert rewrite.get()[key] == value
    for synchronous in ("FULL", "NORMAL"):
        kv = SqliteKv(tmp_path / synchronous / "state.vscdb", state, synchronous)
        kv.update(key, value)
        assert kv.get() == {**state, key: value}
        kv.close()
    git = ShadowGit(tmp_path / "git", state)
    git.change(key, value)
    git.snapshot()
    git.record_head()
    git.build_history([b'{"a": 1}', b'{"a": 2}'], compressed={0})
    git.rollback(git.commits[1])
    assert json.loads(git.path.read_bytes())[key] == value
    assert len(git.git("log", "--format=%H").split()) == 4


async def test_one_tiny_workload_end_to_end(tmp_path: Path) -> None:
    plan = Plan.make(quick=True)
    plan = Plan(**{**plan.__dict__, "ops": 6, "warmup": 2, "rounds": 2})
    result = await run(plan, Store(tmp_path / "run"), only=("floor",))
    floor = result["workloads"]["floor.rt_unknown_method"]["groundhog"]
    assert floor["n"] == 6
    for stat in ("p50", "p95", "p99", "mean"):
        assert is_measure(floor[stat]) and math.isfinite(floor[stat])
    assert result["workloads"]["floor.fsync_4k"]["os"]["n"] == 6
    assert {t["key"] for t in result["targets"]} == {key for key, _, _ in TARGETS}
    assert "| floor.rt_unknown_method | groundhog | 6 |" in table(result)

    path = write(result, tmp_path / "results")
    assert path.name.endswith("-quick.json")
    written = json.loads(path.read_text(), parse_constant=_refuse)  # strict JSON: no NaN, no Infinity
    assert set(written) == {"meta", "workloads", "ratios", "targets", "notes"}
    assert written["meta"]["quick"] is True
    assert is_measure(written["workloads"]["floor.rt_unknown_method"]["groundhog"]["p99"])


def _refuse(constant: str) -> None:
    raise AssertionError(f"the result JSON holds {constant}")


async def test_throughput_workloads_acknowledge_every_update_as_its_own_version(tmp_path: Path) -> None:
    plan = Plan.make(quick=True)
    plan = Plan(**{**plan.__dict__, "warmup": 2, "throughput_ops": 24})
    result = await run(plan, Store(tmp_path / "run"), only=("throughput",))
    workloads = result["workloads"]
    for name in ("throughput.sequential", "throughput.pipelined", "throughput.contended_2proc"):
        assert is_measure(workloads[name]["groundhog"]["updates_per_s"])
    assert workloads["throughput.pipelined"]["groundhog"]["versions_contiguous"] is True
    assert workloads["throughput.contended_2proc"]["groundhog"]["versions_contiguous"] is True
    assert "in flight" in next(t["measured"] for t in result["targets"] if t["key"] == "sequential_updates")


def test_library_bench_runs_every_workload() -> None:
    results = library_run(40)
    assert set(results) == {
        f"{op}/{size}" for op in ("update", "snapshot", "rollback", "get") for size in SIZES_KB
    }
    assert all(stats["n"] >= 10 and is_measure(stats["p50"]) for stats in results.values())


async def test_history_workloads_roll_back_from_this_and_another_server_process(tmp_path: Path) -> None:
    plan = Plan.make(quick=True)
    plan = Plan(**{**plan.__dict__, "history": 12, "ops": 4, "warmup": 2, "rollback_ops": 3, "growth_ops": 2})
    result = await run(plan, Store(tmp_path / "run"), only=("history",))
    rollback = result["workloads"]["rollback.1m.head-1"]
    assert set(rollback) == {"groundhog", "git", "groundhog_other_process"}
    assert all(rollback[system]["n"] == 3 and is_measure(rollback[system]["p99"]) for system in rollback)
    assert "| rollback.1m.head-1 | groundhog_other_process | 3 |" in table(result)
