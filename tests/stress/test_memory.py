"""Memory: 1000 versions of a ~1 MB state, each a small change, must not cost anything like 1000 MB,
neither while writing nor while reading random old versions back (they rebuild from checkpoints)."""

from __future__ import annotations

import gc
import random
import time
from typing import Any

import psutil
import pytest

from groundhog.changes import Change
from groundhog.store.codec import decode_values
from tests.unit.storetools import digest

pytestmark = pytest.mark.sqlite_only  # the process's memory over SQLite files it measures

KEYS = 90
VALUE_BYTES = 10_000  # 90 x 10 KB: a state of ~0.9 MB, under the 1 MiB default limit
VERSIONS = 1000
READS = 150
LIMIT_MB = 150


def value(number: int) -> str:
    return f"{number:08d}" + "abcdefghij"[number % 10] * (VALUE_BYTES - 8)


def expected_at(version: int) -> dict[str, Any]:
    """Version 1 holds values 0..89 (value i under key i); update n (version n+2) sets key n % 90 to
    value 90 + n."""
    data = {f"k{i:02d}": value(i) for i in range(KEYS)}
    for number in range(max(0, version - 1 - KEYS), version - 1):
        data[f"k{number % KEYS:02d}"] = value(KEYS + number)
    return data


def rss_mb() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def test_rss_of_1000_versions_of_a_1mb_state(store_env: Any, record_property: Any) -> None:
    manager = store_env.open()
    manager.create_context("big", expected_at(1))
    tracker = manager.tracker("big")
    state_bytes = tracker.read().measured_size()
    assert 800_000 < state_bytes < 1 << 20
    before = rss_mb()
    started = time.monotonic()

    for number in range(VERSIONS - 1):
        result = tracker.update(Change(set={f"k{number % KEYS:02d}": value(KEYS + number)}))
        assert result.version == number + 2
    written = time.monotonic() - started
    after_writes = rss_mb()
    assert tracker.version == VERSIONS

    rng = random.Random(7)
    peak = after_writes
    for version in [1, VERSIONS, *rng.sample(range(1, VERSIONS + 1), READS)]:
        data = decode_values(tracker.read(version).values)
        assert digest(data) == digest(expected_at(version)), f"version {version}"
        del data
        peak = max(peak, psutil.Process().memory_info().rss / 2**20)
    after_reads = rss_mb()
    database_mb = sum(p.stat().st_size for p in manager.store.path.parent.iterdir()) / 2**20
    manager.close()

    growth = max(after_writes, peak, after_reads) - before
    summary = (
        f"memory: {VERSIONS} versions of a {state_bytes / 1e6:.2f} MB state: RSS {before:.0f} MB before, "
        f"{after_writes:.0f} MB after writing ({written:.1f} s), peak {peak:.0f} MB while reading "
        f"{READS + 2} versions, growth {growth:.0f} MB; store files {database_mb:.0f} MB"
    )
    print(summary)
    record_property("rss_growth_mb", round(growth, 1))
    record_property("memory_summary", summary)
    assert growth < LIMIT_MB, summary
    assert database_mb < 100, "key-level deltas: 1000 versions of 1 MB must not cost 1 GB on disk"
