"""``python -m bench.profile OPERATION [--keys N] [--seconds S]``: where the server's time goes.

Starts the real server on a fresh store, builds a state of N ~1 KB keys (and a 1000-version history for
rollbacks), then repeats one request on the active context for S seconds while py-spy samples the server
process (``pip install py-spy`` into the venv; it is not a project dependency). Prints the latency
median and the hottest frames of the server, self and inclusive, as shares of all samples."""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.client import Server, Store, percentile
from bench.workloads import Values, create_context, fill_history, make_state

OPERATIONS = ("update", "get", "snapshot", "switch", "diff", "rollback-1", "rollback-500", "rollback-999")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("operation", choices=OPERATIONS)
    parser.add_argument("--keys", type=int, default=1000, help="~1 KB keys in the state (1000: 1 MB)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy is needed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="groundhog-profile-"))
    try:
        raw = root / "profile.txt"
        latencies = asyncio.run(_run(args.operation, args.keys, args.seconds, spy, raw, Store(root)))
        print(
            f"{args.operation} with {args.keys} keys: {len(latencies)} requests, "
            f"p50 {percentile(sorted(latencies), 0.5):.2f} ms"
        )
        print(hot_frames(raw.read_text(), args.top))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


async def _run(operation: str, keys: int, seconds: float, spy: str, raw: Path, store: Store) -> list[float]:
    server = await Server.start(store, store.workspace("profile"), name="profile")
    values = Values()
    try:
        await create_context(server, "other", make_state(keys, seed=2), activate=False)
        await create_context(server, "profiled", make_state(keys))
        if operation.startswith(("rollback", "diff")):
            await fill_history(server, "profiled", keys, 1000, values)
        command = [spy, "record", "-p", str(server.pid), "-d", str(int(seconds) + 1), "-r", "200"]
        sampler = subprocess.Popen(
            [*command, "-f", "raw", "-o", str(raw), "--nonblocking", "--threads"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await asyncio.sleep(0.5)
        latencies = await _repeat(server, operation, keys, seconds, values)
        await asyncio.to_thread(sampler.wait)
        return latencies
    finally:
        await server.close()


async def _repeat(server: Server, operation: str, keys: int, seconds: float, values: Values) -> list[float]:
    head = int((await server.request("context/get", {"keys": []}))["version"])
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        if operation == "update":
            await server.request("context/update", {"set": {values.key(i, keys): values.value(i)}})
        elif operation == "get":
            await server.request("context/get", {})
        elif operation == "snapshot":
            await server.request("context/snapshot", {})
        elif operation == "switch":
            await server.request("context/switch", {"name": "other" if i % 2 == 0 else "profiled"})
        elif operation == "diff":
            await server.request("context/diff", {"fromVersion": head - 1})
        else:
            depth = int(operation.split("-")[1])
            head = int((await server.request("context/rollback", {"toVersion": head - depth}))["version"])
        latencies.append((time.perf_counter() - start) * 1000)
        i += 1
    return latencies


IDLE = ("EpollSelector.select", "_worker (concurrent/futures/thread.py:81)")  # waiting for work


def hot_frames(raw: str, top: int) -> str:
    """py-spy's raw (collapsed) stacks -> the hottest frames, self and inclusive, as shares of the
    busy samples (those not waiting in the event loop's select or the idle worker's queue)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [re.sub(r"\(\S*/(site-packages|server|python3\.\d+)/", "(", f) for f in stack.split(";")[1:]]
        if not frames or frames[-1].startswith(IDLE):
            total -= n
            continue
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"{total} busy samples at 200 Hz; self:"]
    lines += [f"  {n / total * 100:5.1f}% {frame}" for frame, n in own.most_common(top)]
    lines.append("inclusive:")
    lines += [f"  {n / total * 100:5.1f}% {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
