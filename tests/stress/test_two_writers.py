"""Two writer processes on one context, each reading the head, sleeping a random moment and updating
with that (often stale) base version and ``on_conflict="merge"``.

Checked against the history afterwards: no acknowledged update is lost; a merge happened only when no
key it set changed since its base; every refusal is a VersionConflict naming exactly the keys that
changed since its base; the versions are contiguous; and the final state is what the acknowledged
writes, in version order, produce.
"""

from __future__ import annotations

import json
import time
from typing import Any

from groundhog import create_manager
from tests.unit.storetools import data_of, spawn_writer

PER_WRITER = 250


def test_two_writers_with_stale_bases(store_env: Any, record_property: Any) -> None:
    manager = store_env.open()
    manager.create_context("durable", {"initial": True})
    manager.close()

    writers = [
        spawn_writer(store_env, "cas", "--name", name, "--seed", str(seed), "--count", str(PER_WRITER))
        for seed, name in enumerate(["w1", "w2"])
    ]
    for writer in writers:
        assert writer.stdout is not None
        assert writer.stdout.readline().decode().strip() == "ready"
    for writer in writers:  # release both at once
        assert writer.stdin is not None
        writer.stdin.write(b"go\n")
        writer.stdin.flush()
    outcomes: list[dict[str, Any]] = []
    started = time.monotonic()
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()
        outcomes += [json.loads(line) for line in out.decode().splitlines()]
    elapsed = time.monotonic() - started
    assert len(outcomes) == 2 * PER_WRITER

    manager = create_manager(
        store_env.workspace,
        store_dir=store_env.store_dir,
        config_dir=store_env.config_dir,
        store_url=store_env.store_url,
    )
    tracker = manager.tracker("durable")
    entries, oldest = tracker.history(limit=10_000)
    head = tracker.version
    assert oldest == 1
    assert [e.version for e in entries] == list(range(head, 0, -1)), "versions are contiguous"
    changed_at = {e.version: set(e.changed_keys) for e in entries}
    kind_at = {e.version: e.kind for e in entries}

    def changed_between(first: int, last: int) -> set[str]:
        return set().union(*(changed_at[v] for v in range(first, last + 1)))

    committed = [o for o in outcomes if not o["refused"]]
    refused = [o for o in outcomes if o["refused"]]
    # Every acknowledged update made exactly one version, and every version after 1 is one of them.
    assert sorted(o["version"] for o in committed) == list(range(2, head + 1))
    for outcome in committed:
        version, keys = outcome["version"], set(outcome["set"])
        assert changed_at[version] == keys == set(outcome["changed"])
        assert data_of(tracker, version).items() >= outcome["set"].items(), "the write is in its version"
        merged = outcome["base"] != version - 1
        assert outcome["merged"] == merged
        assert kind_at[version] == ("merge" if merged else "update")
        if merged:
            assert not changed_between(outcome["base"] + 1, version - 1) & keys, "merged over a conflict"
    for outcome in refused:
        base, current = outcome["base"], outcome["currentVersion"]
        assert base < current <= head
        expected = sorted(changed_between(base + 1, current) & set(outcome["set"]))
        assert outcome["conflictingKeys"] == expected != [], "a refusal names exactly the conflicting keys"

    final: dict[str, Any] = {"initial": True}
    for outcome in sorted(committed, key=lambda o: o["version"]):
        final |= outcome["set"]
    assert data_of(tracker) == final, "the final state is all acknowledged writes in version order"
    report = manager.verify()
    assert report.ok, report.problems
    manager.close()

    merges = sum(o["merged"] for o in committed)
    summary = (
        f"two writers: {len(committed)} committed ({merges} merged over a stale base), "
        f"{len(refused)} refused with VersionConflict, {elapsed:.1f} s"
    )
    print(summary)
    record_property("two_writers", summary)
    assert merges > 0 and refused, "the interleaving exercised both merges and conflicts"
