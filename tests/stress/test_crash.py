"""Durability under SIGKILL: a writer process acknowledges each update after it returns; the test kills
it at random points (mid-update, mid-open, mid-import), reopens the store and checks that every
acknowledged version is there, decrypts and equals what was acknowledged, that SQLite's integrity
check passes and that verify passes. Then a new writer carries on from the head."""

from __future__ import annotations

import os
import random
import signal
import time
from typing import Any

import pytest

from groundhog import create_manager
from groundhog.store.codec import decode_values
from tests.unit.storetools import digest, raw_db, spawn_writer

MIN_KILLS = 50
MIN_ACKS = 5_000
MAX_KILLS = 400  # bounds the test by work, not by the clock
HISTORY_LIMIT = 1_000_000  # the same as the writer's: every version stays in the kept history


def run_and_kill(
    store_env: Any, seed: int, rng: random.Random, early: bool
) -> tuple[list[tuple[int, str]], str | None]:
    """One writer life: killed after a random number of acks (0: during start-up). Returns its acks
    (version, digest) and its "ready" line (None if it died before)."""
    writer = spawn_writer(store_env, "crash", "--seed", str(seed))
    assert writer.stdout is not None
    target = 0 if early else rng.randrange(5, 250)
    acks: list[tuple[int, str]] = []
    ready = None
    if target == 0:
        time.sleep(rng.uniform(0.0, 0.6))  # somewhere in interpreter start, imports, opening the store
    else:
        while len(acks) < target:
            line = writer.stdout.readline().decode()
            if not line:
                break
            if line.startswith("ready"):
                ready = line
            else:
                _, version, value = line.split()
                acks.append((int(version), value))
        time.sleep(rng.uniform(0.0, 0.002))  # land anywhere inside the next update
    os.kill(writer.pid, signal.SIGKILL)
    for raw in writer.stdout:  # acks written before the kill are still in the pipe
        line = raw.decode()
        if line.startswith("ready"):
            ready = line
        elif line.startswith("ack"):
            _, version, value = line.split()
            acks.append((int(version), value))
    writer.wait()
    stderr = writer.stderr.read().decode() if writer.stderr else ""
    assert writer.returncode == -signal.SIGKILL, stderr
    return acks, ready


@pytest.mark.slow
def test_acknowledged_updates_survive_sigkill(store_env: Any, record_property: Any) -> None:
    rng = random.Random(20240611)
    acknowledged: dict[int, str] = {}
    kills = unchecked = during_start = unacknowledged_commits = 0
    started = time.monotonic()
    last_head = 0
    # PostgreSQL's own durability is its own; here the shared store's part is checked in fewer rounds
    min_kills, min_acks = (MIN_KILLS, MIN_ACKS) if store_env.backend == "sqlite" else (20, 1_000)
    while kills < min_kills or len(acknowledged) < min_acks:
        assert kills < MAX_KILLS, f"{kills} kills and only {len(acknowledged)} acks: writers barely write"
        early = kills < 3 or rng.random() < 0.1  # the first ones while the store is being created
        acks, ready = run_and_kill(store_env, seed=kills, rng=rng, early=early)
        kills += 1
        during_start += ready is None
        if ready is not None:
            _, head, value = ready.split()
            assert int(head) >= last_head, "the writer started from an older head than acknowledged"
            if int(head) in acknowledged:
                assert acknowledged[int(head)] == value, f"head {head} is not what was acknowledged"
        versions = [v for v, _ in acks]
        assert versions == list(range(versions[0], versions[0] + len(versions))) if versions else True
        new = dict(acks)
        assert not (new.keys() & acknowledged.keys()), "a version number was reused"
        acknowledged |= new

        manager = create_manager(
            store_env.workspace,
            store_dir=store_env.store_dir,
            config_dir=store_env.config_dir,
            store_url=store_env.store_url,
            history_limit=HISTORY_LIMIT,
        )
        try:
            assert manager.recoveries == [], "a crash must never look like damage"
            if not manager.exists("durable"):
                assert not acknowledged
                unchecked += 1
                continue
            tracker = manager.tracker("durable")
            head = tracker.version
            assert head >= max(acknowledged, default=0), "an acknowledged version is missing at the head"
            assert head <= max(acknowledged, default=1) + 1, "at most one unacknowledged commit per kill"
            unacknowledged_commits += head > max(acknowledged, default=1)
            last_head = head
            old = [v for v in acknowledged if v not in new]
            for version in sorted(new) + rng.sample(old, min(20, len(old))):
                data = decode_values(tracker.read(version).values)
                assert digest(data) == acknowledged[version], f"version {version} differs from its ack"
            report = manager.verify()
            assert report.ok, report.problems
        finally:
            manager.close()
        if store_env.backend == "sqlite":  # the file itself, past the library
            with raw_db(manager.store) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # Finally every acknowledged version, all of them, once more.
    manager = create_manager(
        store_env.workspace,
        store_dir=store_env.store_dir,
        config_dir=store_env.config_dir,
        store_url=store_env.store_url,
        history_limit=HISTORY_LIMIT,
    )
    tracker = manager.tracker("durable")
    lost = [
        v for v in sorted(acknowledged) if digest(decode_values(tracker.read(v).values)) != acknowledged[v]
    ]
    entries, oldest = tracker.history(limit=10)
    manager.close()
    elapsed = time.monotonic() - started
    summary = (
        f"crash test: {kills} SIGKILLs ({during_start} during start-up), {len(acknowledged)} acknowledged "
        f"updates, {len(lost)} lost, {unacknowledged_commits} kills after a commit but before its ack, "
        f"head {entries[0].version}, {elapsed:.1f} s"
    )
    print(summary)
    record_property("kills", kills)
    record_property("acknowledged", len(acknowledged))
    record_property("lost", len(lost))
    assert lost == []
    assert oldest == 1
    assert kills >= min_kills and len(acknowledged) >= min_acks
    assert unchecked < kills
