"""Keeps the memory benchmark (``bench.memory``) working: one measurement of each kind in a fresh
process, and the table. Never asserts timings or sizes here (tests/stress/test_memory.py asserts
the RSS bound)."""

from __future__ import annotations

from bench.memory import _in_subprocess, table


def test_each_measurement_runs_in_a_process_of_its_own_and_tabulates() -> None:
    transcript = _in_subprocess("transcript", "server", 20)
    rewrite = _in_subprocess("rewrite", "default", 1)
    for row in (transcript, rewrite):
        assert {"rss_start_mb", "rss_end_mb", "rss_idle_mb", "hwm_mb", "p50", "p99"} <= set(row)
        assert row["hwm_mb"] >= row["rss_end_mb"] > 0
    assert transcript["n"] == 20 and rewrite["n"] == 70
    result = {
        "workloads": {"transcript": {"server": transcript}, "rewrite.1t": {"default": rewrite}},
        "targets": [{"key": "k", "target": "t", "measured": "m", "pass": True}],
    }
    text = table(result)
    assert "| transcript | server |" in text and "PASS: t: m" in text
