"""A writer process for the durability and concurrency tests (run as a script, never collected).

``crash``: update one context forever; after each update returns, write ``ack <version> <digest>``
(the digest of the whole state the writer believes it committed) to stdout. The test kills it with
SIGKILL at random points and checks every acknowledged version afterwards.

``snapshots``: snapshots and rollbacks of a many-key context (manifest deltas), each acknowledged.

``cas``: read the head, sleep a little, update with that base version (``on_conflict="merge"``), and
report each outcome as a JSON line: committed (version, merged) or refused (VersionConflict details).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time

import orjson
from storetools import digest  # this script's directory is on sys.path

from groundhog import AlreadyExists, ContextManager, VersionConflict, create_manager
from groundhog.changes import Change
from groundhog.store.codec import decode_values

CONTEXT = "durable"
HISTORY_LIMIT = 1_000_000  # keep every version: the crash test checks all of them


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()  # into the pipe: it survives the writer's SIGKILL


def _durable(args: argparse.Namespace, data: dict[str, str] | None = None) -> ContextManager:
    """A manager keeping every version, with the context the modes write (created if needed)."""
    manager = create_manager(
        args.workspace,
        store_dir=args.store_dir,
        config_dir=args.config_dir,
        store_url=args.store_url,
        history_limit=HISTORY_LIMIT,
    )
    with contextlib.suppress(AlreadyExists):
        manager.create_context(CONTEXT, data)
    return manager


def crash(args: argparse.Namespace) -> None:
    manager = _durable(args)
    tracker = manager.tracker(CONTEXT)
    head = tracker.read()
    data = decode_values(head.values)
    emit(f"ready {head.version} {digest(data)}")
    rng = random.Random(args.seed)
    number = 0
    while True:
        number += 1
        key = f"k{rng.randrange(16)}"
        if rng.random() < 0.1 and len(data) > 2:
            victim = rng.choice(sorted(data))
            change = Change(remove=[victim])
            data.pop(victim)
        else:
            size = 4_000 if rng.random() < 0.02 else rng.randrange(1, 300)
            value = {"seed": args.seed, "n": number, "text": "x" * size}
            change = Change(set={key: value})
            data[key] = value
        result = tracker.update(change)
        emit(f"ack {result.version} {digest(data)}")


def snapshots(args: argparse.Namespace) -> None:
    """Update one key of a many-key context, snapshot after each update, and now and then roll back
    one version (which records a recovery point); ``snap <id> <digest>`` after each snapshot returns,
    ``point <id> <digest>`` after each rollback (the digest of the head its recovery point captured)."""
    manager = _durable(args, {f"src/{i:04d}.py": f"v0 {i}" for i in range(500)})
    tracker = manager.tracker(CONTEXT)
    emit("ready")
    rng = random.Random(args.seed)
    number = 0
    while True:
        number += 1
        tracker.update(Change(set={f"src/{rng.randrange(500):04d}.py": f"{args.seed} {number}"}))
        data = decode_values(tracker.read().values)
        emit(f"snap {tracker.create_snapshot().id} {digest(data)}")
        if number % 4 == 0:
            point = tracker.rollback(to_version=tracker.version - 1).recovery_point
            emit(f"point {point} {digest(data)}")


def cas(args: argparse.Namespace) -> None:
    manager = create_manager(
        args.workspace, store_dir=args.store_dir, config_dir=args.config_dir, store_url=args.store_url
    )
    tracker = manager.tracker(CONTEXT)
    rng = random.Random(args.seed)
    emit("ready")
    sys.stdin.readline()  # "go": both writers start together
    for number in range(args.count):
        base = tracker.get_state().version
        time.sleep(rng.uniform(0, 0.003))
        roll = rng.random()
        keys = []
        if roll < 0.7:
            keys.append(f"{args.name}-{rng.randrange(4)}")
        if roll > 0.4:
            keys.append(f"shared-{rng.randrange(3)}")
        values = {key: f"{args.name}:{number}" for key in keys}
        try:
            result = tracker.update(Change(set=values), base_version=base, on_conflict="merge")
        except VersionConflict as conflict:
            emit(orjson.dumps({"refused": True, "base": base, "set": values, **conflict.details}).decode())
        else:
            outcome = {"refused": False, "base": base, "set": values, "version": result.version}
            outcome |= {"merged": result.merged, "changed": result.changed_keys}
            emit(orjson.dumps(outcome).decode())
    manager.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["crash", "cas", "snapshots"])
    parser.add_argument("--store-dir", required=True)
    parser.add_argument("--config-dir", required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--store-url", help="a shared PostgreSQL store (default: the SQLite one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="w")
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    {"crash": crash, "cas": cas, "snapshots": snapshots}[args.mode](args)


if __name__ == "__main__":
    main()
