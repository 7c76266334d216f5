"""Durability of snapshots whose manifests are deltas (store/snapshots.py) under SIGKILL: a writer
snapshots after every update and rolls back now and then (a recovery point each time); the test kills
it at random points, reopens the store and checks that every acknowledged snapshot still listed reads
back as acknowledged, that verify passes and (SQLite) that the file's own check passes."""

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

KILLS = 8


def _life(store_env: Any, seed: int, rng: random.Random) -> dict[str, tuple[str, str]]:
    """One writer life, killed after a random number of acknowledged snapshots: id -> (kind, digest)."""
    writer = spawn_writer(store_env, "snapshots", "--seed", str(seed))
    assert writer.stdout is not None
    target = rng.randrange(3, 40)
    acks: dict[str, tuple[str, str]] = {}
    while len(acks) < target:
        line = writer.stdout.readline().decode()
        if not line:
            break
        if line.startswith(("snap", "point")):
            kind, snapshot_id, value = line.split()
            acks[snapshot_id] = (kind, value)
    time.sleep(rng.uniform(0.0, 0.003))  # land anywhere inside the next update, snapshot or rollback
    os.kill(writer.pid, signal.SIGKILL)
    for raw in writer.stdout:
        if raw.startswith((b"snap", b"point")):
            kind, snapshot_id, value = raw.decode().split()
            acks[snapshot_id] = (kind, value)
    writer.wait()
    stderr = writer.stderr.read().decode() if writer.stderr else ""
    assert writer.returncode == -signal.SIGKILL, stderr
    return acks


@pytest.mark.slow
def test_acknowledged_snapshots_survive_sigkill(store_env: Any) -> None:
    rng = random.Random(20261130)
    acknowledged: dict[str, tuple[str, str]] = {}
    for kill in range(KILLS):
        acknowledged |= _life(store_env, kill, rng)
        manager = create_manager(
            store_env.workspace,
            store_dir=store_env.store_dir,
            config_dir=store_env.config_dir,
            store_url=store_env.store_url,
        )
        try:
            assert manager.recoveries == [], "a crash must never look like damage"
            tracker = manager.tracker("durable")
            listed = {s.id for s in tracker.snapshots()}
            for snapshot_id, (kind, value) in acknowledged.items():
                if kind == "point" and snapshot_id not in listed:
                    continue  # recovery points beyond the kept number are pruned; user snapshots never
                data = tracker.get_snapshot(snapshot_id).state.data
                assert digest(data) == value, f"snapshot {snapshot_id} differs from its ack"
            report = manager.verify()
            assert report.ok, report.problems
            assert digest(decode_values(tracker.read().values))  # the head rebuilds
        finally:
            manager.close()
        if store_env.backend == "sqlite":
            with raw_db(manager.store) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(acknowledged) >= KILLS * 3
