"""A salvage while another process writes: the other process's acknowledged versions are never lost.

The salvage holds the directory lock exclusively (store/damage.py), so the writer's transactions wait
and none spans the change of content; the live file keeps its name and inode and gets the salvaged
content through SQLite (the backup API), so the writer's open connection simply sees another
process's commit and goes on. Here the salvage is forced on a whole file (``recheck`` says it is
damaged): everything is real but the finding, so what is checked is the hand-over itself."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from groundhog import create_manager
from groundhog.store.codec import decode_values
from groundhog.store.common import StoreSettings
from groundhog.store.paths import StoreLocation
from groundhog.store.sqlite import SqliteStore
from tests.unit.storetools import digest, spawn_writer

pytestmark = pytest.mark.sqlite_only  # the SQLite file and its lock
SALVAGES = 5


class ForcedSalvage(SqliteStore):
    """A store whose file is taken for damaged whenever a salvage asks."""

    def recheck(self) -> str | None:
        return "forced by the test"


def test_a_salvage_loses_no_acknowledged_write_of_another_process(store_env: Any) -> None:
    writer = spawn_writer(store_env, "crash", "--seed", "7")
    assert writer.stdout is not None
    acks: dict[int, str] = {}

    def read_acks(count: int) -> None:
        while count > 0:
            line = writer.stdout.readline().decode()  # type: ignore[union-attr]
            if not line:
                writer.wait()
                err = writer.stderr.read().decode() if writer.stderr else ""  # type: ignore[union-attr]
                raise AssertionError(f"the writer ended ({writer.returncode}): {err}")
            if line.startswith("ack"):
                _, version, value = line.split()
                acks[int(version)] = value
                count -= 1

    read_acks(20)
    location = StoreLocation.for_root(store_env.workspace, store_env.store_dir)
    store = ForcedSalvage(location, StoreSettings(config_dir=store_env.config_dir))
    try:
        for _ in range(SALVAGES):
            from groundhog.errors import StoreDamaged

            report = store.salvage(StoreDamaged("forced", problem="forced by the test"))
            assert report is not None and report.whole == ["durable"], report
            read_acks(20)  # the writer goes on after each one
    finally:
        store.close()
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    for raw in writer.stdout:  # acks written before the kill
        line = raw.decode()
        if line.startswith("ack"):
            _, version, value = line.split()
            acks[int(version)] = value

    manager = create_manager(
        store_env.workspace,
        store_dir=store_env.store_dir,
        config_dir=store_env.config_dir,
        history_limit=1_000_000,
    )
    try:
        tracker = manager.tracker("durable")
        lost = [v for v, d in sorted(acks.items()) if digest(decode_values(tracker.read(v).values)) != d]
        assert lost == [], f"{len(lost)} of {len(acks)} acknowledged versions lost: {lost[:5]}"
        assert len(manager.salvage_history()) == SALVAGES
        assert manager.recoveries == []
    finally:
        manager.close()
