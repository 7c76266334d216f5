"""Issue 12's growth workloads ("cost proportional to the change"), through the library (no LSP hop).

``python -m bench.growth [--quick] [--out DIR] [--keep] [--workload NAME ...]`` (group ``store_growth``
of ``python -m bench``) prints a markdown table and writes ``<DIR>/<date>-<machine>-growth[-quick].json``
(``-growth-partial``: only the named workloads, e.g. ``--workload many_keys``).

- ``transcript.*``: N appends of 1 KB to a list under one key, two ways: the patch
  ``{"op": "add", "path": "/log/-"}`` and the specification's ``get_state`` / append / ``update_state``;
  the store's size on disk against 2x the final state plus the kept history's appended bytes, and the
  update p50 at the end against the same update on a 10 KB state (alternating, in the same run).
- ``edit.*``: a 1 KB replacement in the middle of a 1 MB / 16 MB string value (``set`` of the whole
  new string): bytes written per update (the version's ``delta_blob``) against the change.
- ``many_keys.*``: 20,000 path-like keys (~2 MB): a one-key update, a snapshot after a one-key change,
  a rollback to the previous version, in alternating rounds. ``snapshot`` is ``take_snapshot`` (what
  the LSP and MCP faces call: the record); ``snapshot_decoded`` is the library's ``create_snapshot``,
  whose answer also decodes the captured state; ``rollback_other_process`` rolls back from a second
  manager, whose tracker did not make the versions (it rebuilds the target from its checkpoint).
- ``retention.*``: N updates with ``historyLimit`` 10: every table's row count and the file size every
  1,000 updates (default ``audit_keep`` and a small one).
- ``large_store.*``: a store of hundreds of MB (a 16 MB state, many versions): peak RSS and time of
  ``create_manager`` (open + check) and of ``verify``, each in a fresh subprocess.

Nothing here is a test: targets are reported PASS/MISS, never asserted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import report
from bench.client import REPO, quiet_gc, server_python, summarize
from bench.workloads import Results, Values

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
ENTRY_BYTES = 1000  # a transcript entry: a 1000-character string (1002 bytes of JSON with its quotes)
EDIT_BYTES = 1000  # a middle edit replaces this many characters
LARGE = 64 << 20  # snapshot_max_bytes for the large states
MANY_KEYS_OPS = ("snapshot", "rollback")
TABLES = ("versions", "checkpoints", "feed", "audit", "snapshots", "snapshot_values", "sessions")
BLOB_COLUMNS = {
    "versions": ("delta_blob", "keys_blob"),
    "checkpoints": ("blob",),
    "snapshots": ("blob", "info_blob"),
    "snapshot_values": ("blob",),
    "audit": ("blob",),
}


@dataclass(frozen=True)
class GrowthPlan:
    quick: bool
    transcript_n: int  # appends per transcript
    tail: int  # the last appends timed against the 10 KB baseline (alternating)
    edit_ops: int  # middle edits per value size
    edit_sizes_mb: tuple[int, ...]
    many_keys: int
    many_ops: int  # timed rounds of update / snapshot / rollback
    retention_n: int
    retention_small_n: int  # updates in the small-audit_keep variant
    retention_every: int
    audit_keep_small: int
    large_target_mb: int  # stop building at this size...
    large_budget_s: float  # ...or after this long
    large_runs: int  # fresh subprocesses per measurement

    @classmethod
    def make(cls, quick: bool) -> GrowthPlan:
        if quick:
            return cls(True, 1000, 200, 100, (1, 16), 20_000, 40, 5_000, 5_000, 1000, 1000, 200, 60.0, 1)
        return cls(
            False, 10_000, 1000, 1000, (1, 16), 20_000, 100, 100_000, 30_000, 1000, 1000, 1024, 180.0, 3
        )

    @classmethod
    def tiny(cls) -> GrowthPlan:
        """For the smoke test: every workload, a few operations each."""
        return cls(True, 30, 10, 5, (1,), 500, 4, 60, 40, 20, 10, 8, 5.0, 1)


# -- helpers --------------------------------------------------------------------------------------


class Workspace:
    """One private store (its own GROUNDHOG_HOME-like directory) per workload, so its file is its own."""

    def __init__(self, root: Path, name: str) -> None:
        self.base = root / name
        self.base.mkdir(parents=True)

    def open(self, **options: Any) -> Any:
        from groundhog import create_manager

        return create_manager(
            self.base / "ws", store_dir=self.base / "store", config_dir=self.base / "config", **options
        )

    @property
    def db(self) -> Path:
        found = sorted((self.base / "store").rglob("store.db"))
        if len(found) != 1:
            raise RuntimeError(f"expected one store.db under {self.base}, found {found}")
        return found[0]

    def file_bytes(self) -> int:
        """The database file plus its WAL (and shared-memory index) right now."""
        db = self.db
        return sum(p.stat().st_size for p in (db, db.with_name("store.db-wal")) if p.exists())

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)


def row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}


def blob_bytes(conn: sqlite3.Connection) -> dict[str, int]:
    """Per table, the sum of its blobs' lengths (what the rows hold, not the pages)."""
    out = {}
    for table, columns in BLOB_COLUMNS.items():
        total = " + ".join(f"coalesce(sum(length({c})), 0)" for c in columns)
        out[table] = conn.execute(f"SELECT {total} FROM {table}").fetchone()[0]
    return out


def page_bytes(conn: sqlite3.Connection) -> dict[str, int]:
    """Per table (with its indexes) the pages it occupies (SQLite's dbstat), and the free pages."""
    out: dict[str, int] = {}
    try:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:  # a SQLite built without dbstat
        return out
    index_of = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'").fetchall())
    for name, size in rows:
        table = index_of.get(name, name)
        out[table] = out.get(table, 0) + size
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    out["(free pages)"] = conn.execute("PRAGMA freelist_count").fetchone()[0] * page_size
    return out


def store_report(ws: Workspace) -> dict[str, Any]:
    """After the manager is closed: the file, the rows, the blobs, the pages."""
    with ws.connect() as conn:
        return {
            "file_bytes": ws.file_bytes(),
            "rows": row_counts(conn),
            "blob_bytes": blob_bytes(conn),
            "page_bytes": page_bytes(conn),
        }


def timed(op: Callable[[], Any]) -> float:
    start = time.perf_counter()
    op()
    return (time.perf_counter() - start) * 1000


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def mb(n: float) -> float:
    return round(n / 1e6, 2)


def entry(i: int) -> str:
    return f"{i:010d}" + "t" * (ENTRY_BYTES - 10)


# -- 1. transcript --------------------------------------------------------------------------------


def transcript(root: Path, plan: GrowthPlan, results: Results, log: Callable[[str], None]) -> None:
    from groundhog.changes import Change
    from groundhog.limits import DEFAULT_HISTORY_LIMIT

    for way in ("patch", "spec"):
        log(f"transcript ({way}, {plan.transcript_n} appends)...")
        ws = Workspace(root, f"transcript-{way}")
        manager = ws.open(snapshot_max_bytes=LARGE)
        manager.create_context("t", {"log": []})
        # the 10 KB baseline lives in a store of its own: the transcript's file holds the transcript alone
        small_manager = Workspace(root, f"transcript-{way}-10kb").open()
        small_manager.create_context("small", {"log": [entry(i) for i in range(10)]})
        tracker, small = manager.tracker("t"), small_manager.tracker("small")
        small_reset = Change(set={"log": [entry(i) for i in range(10)]})

        def append(t: Any, i: int, way: str = way) -> None:
            if way == "patch":
                t.update(Change(patch=[{"op": "add", "path": "/log/-", "value": entry(i)}]))
            else:
                state = t.get_state()
                state.data["log"].append(entry(i))
                t.update_state(state)

        samples: list[float] = []
        baseline: list[float] = []
        began = time.perf_counter()
        with quiet_gc():
            for i in range(plan.transcript_n):
                samples.append(timed(lambda i=i, t=tracker: append(t, i)))
                if i >= plan.transcript_n - plan.tail:  # the same update on a 10 KB state, alternating
                    baseline.append(timed(lambda i=i, t=small: append(t, i)))
                    small.update(small_reset)
        seconds = time.perf_counter() - began
        state_bytes = json_size(tracker.get_state().data)
        kept = min(DEFAULT_HISTORY_LIMIT, plan.transcript_n)
        manager.close()
        small_manager.close()
        stored = store_report(ws)
        budget = 2 * state_bytes + kept * (ENTRY_BYTES + 3)  # ,"..." per appended entry
        name = f"transcript.{way}"
        results.add(f"{name}.update_first_{plan.tail}", "groundhog", samples[: plan.tail])
        results.add(f"{name}.update_last_{plan.tail}", "groundhog", samples[-plan.tail :])
        results.add(f"{name}.update_last_{plan.tail}", "groundhog_10kb_state", baseline)
        results.add_value(
            f"{name}.store",
            "groundhog",
            appends=plan.transcript_n,
            state_bytes=state_bytes,
            history_kept=kept,
            budget_bytes=budget,
            seconds=round(seconds, 1),
            **stored,
        )


# -- 2. edits in the middle of a large string -----------------------------------------------------


def edits(root: Path, plan: GrowthPlan, results: Results, log: Callable[[str], None]) -> None:
    from groundhog.changes import Change

    rnd = random.Random(12)
    for size_mb in plan.edit_sizes_mb:
        log(f"edit ({size_mb} MB string, {plan.edit_ops} middle edits)...")
        ws = Workspace(root, f"edit-{size_mb}mb")
        manager = ws.open(snapshot_max_bytes=LARGE, history_limit=plan.edit_ops + 100)
        length = size_mb << 20
        text = base64.b64encode(rnd.randbytes(length * 3 // 4 + 3)).decode()[:length]
        manager.create_context("doc", {"doc": text})
        tracker = manager.tracker("doc")
        middle = length // 2
        # one 1-character edit first: the delta's fixed overhead (framing, nonce, tag)
        tiny = text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1 :]
        tracker.update(Change(set={"doc": tiny}))
        text = tiny
        first_version = tracker.version
        samples = []
        with quiet_gc():
            for _ in range(plan.edit_ops):
                piece = base64.b64encode(rnd.randbytes(EDIT_BYTES)).decode()[:EDIT_BYTES]  # all new
                new = text[:middle] + piece + text[middle + EDIT_BYTES :]
                samples.append(timed(lambda new=new, t=tracker: t.update(Change(set={"doc": new}))))
                text = new
        manager.close()
        with ws.connect() as conn:
            overhead = conn.execute(
                "SELECT length(delta_blob) FROM versions WHERE version = ?", (first_version,)
            ).fetchone()[0]
            rows = conn.execute(
                "SELECT version, length(delta_blob) FROM versions WHERE version > ? ORDER BY version",
                (first_version,),
            ).fetchall()
            checkpoints = conn.execute(
                "SELECT count(*), coalesce(sum(length(blob)), 0) FROM checkpoints WHERE version > ?",
                (first_version,),
            ).fetchone()
        deltas = sorted(length or 0 for _, length in rows)  # NULL: the checkpoint holds that version
        written = sum(deltas) + checkpoints[1]
        results.add(
            f"edit.{size_mb}mb",
            "groundhog",
            samples,
            change_bytes=EDIT_BYTES,
            delta_bytes_p50=deltas[len(deltas) // 2],
            delta_bytes_max=deltas[-1],
            fixed_overhead_bytes=overhead,
            checkpoints_written=checkpoints[0],
            checkpoint_bytes=checkpoints[1],
            amortized_bytes_per_update=round(written / max(len(rows), 1)),
            file_bytes=ws.file_bytes(),
        )


# -- 3. many keys ---------------------------------------------------------------------------------


def many_keys(root: Path, plan: GrowthPlan, results: Results, log: Callable[[str], None]) -> None:
    from groundhog.changes import Change
    from groundhog.limits import DEFAULT_RECOVERY_POINTS_KEEP

    log(f"many keys ({plan.many_keys} keys, {plan.many_ops} rounds)...")
    ws = Workspace(root, "many-keys")
    manager = ws.open(snapshot_max_bytes=LARGE)

    def path(i: int) -> str:
        return f"src/package_{i // 400:03d}/module_{i // 20 % 20:02d}/file_{i:05d}.py"

    def value(i: int, v: int) -> str:
        return f"{v:08d} summary of {path(i)}: " + "s" * 40

    state = {path(i): value(i, 0) for i in range(plan.many_keys)}
    manager.create_context("repo", state)
    tracker = manager.tracker("repo")
    keys = list(state)
    rnd = random.Random(3)
    counter = iter(range(1, 10**9))

    def one_key() -> None:
        i = rnd.randrange(len(keys))
        tracker.update(Change(set={keys[i]: value(i, next(counter))}))

    # another process's tracker: it did not make the versions it rolls back over (no undo steps)
    other_manager = ws.open(snapshot_max_bytes=LARGE)
    other = other_manager.tracker("repo")
    updates, snapshots, rollbacks, decoded, colds = [], [], [], [], []
    warmup = 5
    with quiet_gc():
        for r in range(warmup + plan.many_ops):
            u = timed(one_key)
            one_key()  # untimed: the change the snapshot captures
            # what the LSP and MCP faces do: the snapshot, answered with its record
            s = timed(lambda r=r: tracker.take_snapshot(f"s{r}"))
            one_key()
            # the library's create_snapshot also answers the captured state, decoded (~20,000 values)
            d = timed(lambda r=r: tracker.create_snapshot(f"d{r}"))
            one_key()  # untimed: the version the rollback undoes
            b = timed(lambda: tracker.rollback(to_version=tracker.version - 1))
            one_key()
            other.read()  # untimed: it catches up with the head
            c = timed(lambda: other.rollback(to_version=other.version - 1))
            tracker.read()  # untimed: the next update does not pay for catching up with it
            if r >= warmup:
                updates.append(u)
                snapshots.append(s)
                decoded.append(d)
                rollbacks.append(b)
                colds.append(c)
    other_manager.close()
    manager.close()
    stored = store_report(ws)
    results.add_value(
        "many_keys.state",
        "groundhog",
        keys=plan.many_keys,
        state_bytes=json_size(state),
        file_bytes=stored["file_bytes"],
        rows=stored["rows"],
    )
    base = summarize(updates)["p50"]
    # recovery points start being pruned at the (recovery_points_keep + 1)-th rollback (warm-up included;
    # two rollbacks a round)
    before = max(DEFAULT_RECOVERY_POINTS_KEEP // 2 - warmup, 1)
    for name, samples in (
        ("update", updates),
        ("snapshot", snapshots),
        ("snapshot_decoded", decoded),
        ("rollback", rollbacks),
        ("rollback_other_process", colds),
        ("rollback_before_pruning", rollbacks[:before]),
        ("rollback_pruning", rollbacks[before:] or rollbacks[-1:]),
    ):
        stats = summarize(samples)
        results.add(f"many_keys.{name}", "groundhog", samples, over_update_p50=round(stats["p50"] / base, 2))


# -- 4. retention ---------------------------------------------------------------------------------


def retention(root: Path, plan: GrowthPlan, results: Results, log: Callable[[str], None]) -> None:
    from groundhog.changes import Change
    from groundhog.limits import DEFAULT_AUDIT_KEEP

    values = Values(seed=12)  # distinct ~1 KB values: each version's delta is ~1 KB
    for variant, audit_keep, n in (
        ("default_audit_keep", DEFAULT_AUDIT_KEEP, plan.retention_n),
        ("small_audit_keep", plan.audit_keep_small, plan.retention_small_n),
    ):
        log(f"retention ({variant}={audit_keep}, {n} updates, historyLimit 10)...")
        ws = Workspace(root, f"retention-{variant}")
        manager = ws.open(history_limit=10, audit_keep=audit_keep)
        manager.create_context("r", {f"k{i}": values.value(i) for i in range(10)})
        tracker = manager.tracker("r")
        samples: list[float] = []
        series: list[dict[str, Any]] = []
        reader = ws.connect()
        began = time.perf_counter()
        with quiet_gc():
            for i in range(1, n + 1):
                change = Change(set={f"k{i % 10}": values.value(i)})
                samples.append(timed(lambda c=change, t=tracker: t.update(c)))
                if i % plan.retention_every == 0:
                    series.append({"updates": i, "file_bytes": ws.file_bytes(), **row_counts(reader)})
        seconds = time.perf_counter() - began
        reader.close()
        manager.close()
        closed = store_report(ws)
        ranges = {key: _trend(series, key) for key in ("file_bytes", *TABLES)}
        grew = [key for key, r in ranges.items() if not r["flat"]]
        unbounded = [key for key, r in ranges.items() if not r["bounded"]]
        name = f"retention.{variant}"
        every = plan.retention_every
        results.add(f"{name}.update_first_{every}", "groundhog", samples[:every])
        results.add(f"{name}.update_last_{every}", "groundhog", samples[-every:])
        results.add_value(
            name,
            "groundhog",
            updates=n,
            history_limit=10,
            audit_keep=audit_keep,
            seconds=round(seconds, 1),
            at_first_sample=series[0],
            at_end=series[-1],
            ranges=ranges,
            grew=grew,
            unbounded=unbounded,
            closed=closed,
            series=series,
        )


def _trend(series: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """After the first sample, the range of ``key``; ``flat``: it never exceeds the first sample's level
    by more than 10% (+100 rows: history rows rise and fall between checkpoints, a sawtooth); ``bounded``:
    no trend, the later half of the samples peaks no higher than the earlier half (same slack)."""
    later = [s[key] for s in series[1:]] or [series[0][key]]
    half = len(later) // 2
    early = [series[0][key], *later[:half]]
    late = later[half:]
    slack = 0 if key == "file_bytes" else 100
    return {
        "first": series[0][key],
        "min_after": min(later),
        "max_after": max(later),
        "early_max": max(early),
        "late_max": max(late),
        "flat": max(later) <= 1.1 * series[0][key] + slack,
        "bounded": max(late) <= 1.1 * max(early) + slack,
    }


# -- 5. a large store: verify and open ------------------------------------------------------------

_PROBE = """
import json, sys, time
def hwm_kb():  # the process's own high-water RSS (ru_maxrss would carry the forking parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
mode, workspace, store_dir, config_dir = sys.argv[1:5]
import groundhog
base = hwm_kb()
start = time.perf_counter()
manager = groundhog.create_manager(workspace, store_dir=store_dir, config_dir=config_dir,
                                   snapshot_max_bytes=64 << 20)
opened = time.perf_counter() - start
after_open = hwm_kb()
verify_s = None
if mode == "verify":
    start = time.perf_counter()
    report = manager.verify()
    verify_s = time.perf_counter() - start
manager.close()
print(json.dumps({"import_rss_kb": base, "open_s": opened, "open_rss_kb": after_open,
                  "verify_s": verify_s, "peak_rss_kb": hwm_kb()}))
"""


def large_store(root: Path, plan: GrowthPlan, results: Results, log: Callable[[str], None]) -> None:
    from groundhog.changes import Change

    ws = Workspace(root, "large")
    manager = ws.open(snapshot_max_bytes=LARGE, history_limit=100_000)
    key_bytes = 1 << 20
    keys = max(1, min(16, plan.large_target_mb // 16))
    rnd = random.Random(5)

    def noise(n: int) -> str:  # incompressible, as encrypted text would be
        return base64.b64encode(rnd.randbytes(n * 3 // 4)).decode()

    values = {f"part-{k:02d}": noise(key_bytes) for k in range(keys)}
    manager.create_context("big", values)
    tracker = manager.tracker("big")
    log(
        f"large store: building ({keys} MB state) up to {plan.large_target_mb} MB "
        f"or {plan.large_budget_s:.0f} s..."
    )
    began = time.perf_counter()
    updates = 0
    while (
        time.perf_counter() - began < plan.large_budget_s
        and ws.db.stat().st_size < plan.large_target_mb << 20
    ):
        # new bytes at the start of one key: one update in 8 a 1 KB edit, the others 256 KB
        key = f"part-{updates % keys:02d}"
        size = 1024 if updates % 8 == 7 else 256 << 10
        values[key] = noise(size) + values[key][size:]
        tracker.update(Change(set={key: values[key]}))
        updates += 1
    build_s = time.perf_counter() - began
    manager.close()
    stored = store_report(ws)
    log(
        f"large store: {mb(stored['file_bytes'])} MB after {updates} updates in {build_s:.0f} s; measuring..."
    )
    runs: dict[str, list[dict[str, Any]]] = {"open": [], "verify": []}
    env = {
        **os.environ,
        "GROUNDHOG_HOME": str(ws.base / "store"),
        "GROUNDHOG_CONFIG_DIR": str(ws.base / "config"),
    }
    for _ in range(plan.large_runs):
        for mode in ("open", "verify"):
            out = subprocess.run(
                [
                    server_python(),
                    "-c",
                    _PROBE,
                    mode,
                    str(ws.base / "ws"),
                    str(ws.base / "store"),
                    str(ws.base / "config"),
                ],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            ).stdout
            runs[mode].append(json.loads(out.strip().splitlines()[-1]))
    results.add_value(
        "large_store.build",
        "groundhog",
        file_mb=mb(stored["file_bytes"]),
        state_mb=keys,
        updates=updates,
        build_s=round(build_s, 1),
        rows=stored["rows"],
        blob_mb={k: mb(v) for k, v in stored["blob_bytes"].items()},
    )
    results.add(
        "large_store.open_check",
        "groundhog",
        [r["open_s"] * 1000 for r in runs["open"]],
        peak_rss_mb=round(max(r["peak_rss_kb"] for r in runs["open"]) / 1024, 1),
        import_rss_mb=round(max(r["import_rss_kb"] for r in runs["open"]) / 1024, 1),
        file_mb=mb(stored["file_bytes"]),
    )
    results.add(
        "large_store.verify",
        "groundhog",
        [r["verify_s"] * 1000 for r in runs["verify"]],
        peak_rss_mb=round(max(r["peak_rss_kb"] for r in runs["verify"]) / 1024, 1),
        rss_after_open_mb=round(max(r["open_rss_kb"] for r in runs["verify"]) / 1024, 1),
        file_mb=mb(stored["file_bytes"]),
    )


# -- the run, the targets, the table ---------------------------------------------------------------

STEPS = (
    ("transcript", transcript),
    ("edit", edits),
    ("many_keys", many_keys),
    ("retention", retention),
    ("large_store", large_store),
)


def run(
    plan: GrowthPlan,
    root: Path,
    *,
    log: Callable[[str], None] = lambda text: None,
    only: tuple[str, ...] = (),
    allocator: str = "server",
) -> dict[str, Any]:
    import groundhog
    from groundhog.memory import keep_large_buffers_on_the_heap

    meta = report.machine_info(plan.quick)
    # as `groundhog serve` and `groundhog mcp` run (server/groundhog/memory.py), unless told otherwise
    meta["allocator"] = "server" if allocator == "server" and keep_large_buffers_on_the_heap() else "default"
    package = Path(groundhog.__file__).resolve().parent
    meta["server_package"] = str(package)
    meta["dirty_files"] = _dirty_files() if package == REPO / "server" / "groundhog" else []
    results = Results()
    timings = {}
    started = time.perf_counter()
    old_env = {k: os.environ.get(k) for k in ("GROUNDHOG_HOME", "GROUNDHOG_CONFIG_DIR")}
    os.environ["GROUNDHOG_HOME"] = str(root / "home")
    os.environ["GROUNDHOG_CONFIG_DIR"] = str(root / "config")
    try:
        for group, step in STEPS:
            if only and group not in only:
                continue
            began = time.perf_counter()
            step(root, plan, results, log)
            timings[group] = round(time.perf_counter() - began, 1)
    finally:
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    meta.update(
        workloads_run=list(only or (group for group, _ in STEPS)),
        duration_s=round(time.perf_counter() - started, 1),
        group_seconds=timings,
        plan=asdict(plan),
        load_average_end=list(os.getloadavg()),
    )
    workloads = results.workloads
    notes = [
        "library level, in-process (no LSP hop), durable settings as shipped (WAL, synchronous FULL, "
        "encryption); each workload has its own store; the benchmark's GC is paused in timed loops",
        "latencies in ms; sizes in bytes unless named _mb; 'blob_bytes' sums the rows' blob lengths, "
        "'page_bytes' the pages each table and its indexes occupy (SQLite dbstat) and the free pages",
        "transcript: the 10 KB baseline is a store of its own; each of its appends alternates with one of "
        "the transcript's last appends and is followed by an untimed reset to 10 entries",
        "retention: 'flat' means no sample after the first exceeds the first (at 1,000 updates) by more "
        "than 10% (+100 rows: history rows rise and fall between checkpoints); 'bounded' means the later "
        "half of the samples peaks no higher than the earlier half (same slack): no trend",
        "large_store: each measurement in a fresh subprocess (peak RSS = its VmHWM), on a store the page "
        "cache still holds (just written)",
        f"allocator: {meta['allocator']} ('server': glibc's large-buffer thresholds as the server "
        "processes set them, server/groundhog/memory.py; 'default': as glibc starts)",
        f"the measured engine is the groundhog package in {meta['server_package']}"
        + (
            ", the working tree with uncommitted changes in: " + ", ".join(meta["dirty_files"])
            if meta["dirty_files"]
            else ""
        ),
        *results.notes,
        f"machine: {meta['cpus']} CPUs, 1-min load average {meta['load_average_start'][0]:.1f} at start, "
        f"{meta['load_average_end'][0]:.1f} at the end (other work inflates every figure, p99 most)",
    ]
    if plan.quick:
        notes.insert(0, "QUICK RUN: fewer operations and a smaller store: indicative only")
    return {
        "meta": meta,
        "workloads": workloads,
        "ratios": ratios(workloads, plan),
        "targets": targets(workloads, plan),
        "notes": notes,
    }


def ratios(w: report.Workloads, plan: GrowthPlan) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    tail = plan.tail
    for way in ("patch", "spec") if "transcript.patch.store" in w else ():
        end = w[f"transcript.{way}.update_last_{tail}"]
        store = w[f"transcript.{way}.store"]["groundhog"]
        out[f"transcript.{way}"] = {
            "end_over_10kb_p50": _div(end["groundhog"]["p50"], end["groundhog_10kb_state"]["p50"]),
            "end_over_10kb_p99": _div(end["groundhog"]["p99"], end["groundhog_10kb_state"]["p99"]),
            "file_over_budget": _div(store["file_bytes"], store["budget_bytes"]),
            "file_over_state": _div(store["file_bytes"], store["state_bytes"]),
        }
    for size in plan.edit_sizes_mb if "edit.1mb" in w else ():
        e = w[f"edit.{size}mb"]["groundhog"]
        out[f"edit.{size}mb"] = {
            "delta_p50_over_change": _div(e["delta_bytes_p50"], e["change_bytes"]),
            "amortized_over_change": _div(e["amortized_bytes_per_update"], e["change_bytes"]),
        }
    if "many_keys.update" in w:
        out["many_keys"] = {
            f"{op}_over_update_p50": w[f"many_keys.{op}"]["groundhog"]["over_update_p50"]
            for op in MANY_KEYS_OPS
        }
    return out


def _p50(w: report.Workloads, name: str) -> float:
    return float(w[name]["groundhog"]["p50"])


def _div(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


def targets(w: report.Workloads, plan: GrowthPlan) -> list[dict[str, Any]]:
    out = []

    def add(key: str, target: str, measured: str, ok: bool | None) -> None:
        out.append({"key": key, "target": target, "measured": measured, "pass": ok})

    tail = plan.tail
    ways = (("patch", "patch add /log/-"), ("spec", "get_state/append/update_state"))
    for way, label in ways if "transcript.patch.store" in w else ():
        s = w[f"transcript.{way}.store"]["groundhog"]
        add(
            f"transcript_{way}_store",
            f"transcript ({label}), {s['appends']} appends: file <= 2x state + kept history's appends",
            f"{mb(s['file_bytes'])} MB vs {mb(s['budget_bytes'])} MB (state {mb(s['state_bytes'])} MB): "
            f"{s['file_bytes'] / s['budget_bytes']:.2f}x",
            s["file_bytes"] <= s["budget_bytes"],
        )
        end = w[f"transcript.{way}.update_last_{tail}"]
        g, b = end["groundhog"]["p50"], end["groundhog_10kb_state"]["p50"]
        add(
            f"transcript_{way}_update",
            f"transcript ({label}): update p50 over the last {tail} appends <= 1.3x the same on 10 KB",
            f"{g:.2f} ms vs {b:.2f} ms: {g / b:.2f}x",
            g <= 1.3 * b,
        )
    for size in plan.edit_sizes_mb if "edit.1mb" in w else ():
        e = w[f"edit.{size}mb"]["groundhog"]
        limit = 2 * e["change_bytes"] + e["fixed_overhead_bytes"]
        add(
            f"edit_{size}mb_bytes",
            f"1 KB edit in a {size} MB string: delta bytes p50 <= 2x change + fixed overhead "
            "(a 1-character edit's delta)",
            f"{e['delta_bytes_p50']} B vs {limit} B; with checkpoints, {e['amortized_bytes_per_update']} B "
            f"per update ({e['checkpoints_written']} checkpoints)",
            e["delta_bytes_p50"] <= limit,
        )
    for op in MANY_KEYS_OPS if "many_keys.update" in w else ():
        m = w[f"many_keys.{op}"]["groundhog"]
        add(
            f"many_keys_{op}",
            f"{plan.many_keys} keys: {op} p50 <= 2x a one-key update's",
            f"{m['p50']:.2f} ms vs {w['many_keys.update']['groundhog']['p50']:.2f} ms: "
            f"{m['over_update_p50']}x"
            + (
                f" (before recovery points are pruned: {_p50(w, 'many_keys.rollback_before_pruning'):.1f}"
                f" ms; after: {_p50(w, 'many_keys.rollback_pruning'):.1f} ms)"
                if op == "rollback"
                else ""
            ),
            m["over_update_p50"] <= 2,
        )
    for variant in ("default_audit_keep", "small_audit_keep") if "retention.small_audit_keep" in w else ():
        r = w[f"retention.{variant}"]["groundhog"]
        ranges = r["ranges"]
        grown = {
            k: f"{ranges[k]['first']} -> {ranges[k]['max_after']}"
            + (", still rising at the end" if k in r["unbounded"] else ", then level")
            for k in r["grew"]
            if k != "file_bytes"
        }
        rows = {k: f"{ranges[k]['min_after']}-{ranges[k]['max_after']}" for k in TABLES if k not in grown}
        f = ranges["file_bytes"]
        add(
            f"retention_{variant}",
            f"{r['updates']} updates, historyLimit 10, audit_keep {r['audit_keep']}: every table's rows and "
            f"the file flat after the first {plan.retention_every}",
            (f"grew: {grown}; " if grown else "")
            + f"flat (range after the first sample): {rows}; file {mb(f['first'])} MB at "
            f"{plan.retention_every}, then {mb(f['min_after'])}-{mb(f['max_after'])} MB"
            + (" (still rising at the end)" if "file_bytes" in r["unbounded"] else ""),
            not r["grew"],
        )
    if "large_store.verify" not in w:
        return out
    v = w["large_store.verify"]["groundhog"]
    o = w["large_store.open_check"]["groundhog"]
    add(
        "large_store_rss",
        "verify and open-with-check: peak RSS < 100 MB (the issue: on a 1 GB store)",
        f"{v['file_mb']} MB store: verify {v['peak_rss_mb']} MB in {v['p50'] / 1000:.1f} s, "
        f"open {o['peak_rss_mb']} MB in {o['p50'] / 1000:.2f} s",
        v["peak_rss_mb"] < 100 and o["peak_rss_mb"] < 100,
    )
    return out


def table(result: dict[str, Any]) -> str:
    lines = [
        "| workload | system | n | p50 ms | p95 ms | p99 ms | details |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for name, systems in result["workloads"].items():
        for system, stats in systems.items():
            if "p50" in stats:
                extra = ", ".join(f"{k}={v}" for k, v in stats.items() if k not in report.STAT_KEYS)
                lines.append(
                    f"| {name} | {system} | {stats['n']} | {stats['p50']:.3f} | {stats['p95']:.3f}"
                    f" | {stats['p99']:.3f} | {extra} |"
                )
            else:
                shown = {k: v for k, v in stats.items() if k not in ("series", "page_bytes", "closed")}
                extra = ", ".join(f"{k}={v}" for k, v in shown.items())
                lines.append(f"| {name} | {system} | | | | | {extra} |")
    return "\n".join(lines + report.targets_and_notes(result))


def run_and_report(
    plan: GrowthPlan,
    out: Path,
    *,
    keep: bool = False,
    log: Callable[[str], None] = lambda t: None,
    only: tuple[str, ...] = (),
    allocator: str = "server",
) -> Path:
    """Run, print the table, write the JSON (``python -m bench`` calls it for the ``store_growth`` group)."""
    root = Path(tempfile.mkdtemp(prefix="groundhog-bench-growth-"))
    try:
        result = run(plan, root, log=log, only=only, allocator=allocator)
    finally:
        if keep:
            print(f"kept the stores in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(table(result))
    path = report.write(result, out, kind="growth-partial" if only else "growth")
    print(f"\nwrote {path}")
    return path


def _dirty_files() -> list[str]:
    """Uncommitted changes in the server's code, which this run measured (not ``commit``)."""
    command = ["git", "status", "--porcelain", "--", "server"]
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False).stdout
    return [line[3:] for line in out.splitlines()]


def _progress(text: str) -> None:
    print(f"[bench.growth] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer operations and a ~200 MB store (~2-3 min)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the result JSON goes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stores")
    parser.add_argument(
        "--workload",
        action="append",
        default=[],
        choices=[group for group, _ in STEPS],
        help="run only these workloads (repeatable; the result file is then named -partial)",
    )
    parser.add_argument(
        "--allocator",
        choices=["server", "default"],
        default="server",
        help="glibc's thresholds as the server sets them (default), or as glibc starts",
    )
    args = parser.parse_args(argv)
    only = tuple(args.workload)
    plan = GrowthPlan.make(args.quick)
    run_and_report(plan, args.out, keep=args.keep, log=_progress, only=only, allocator=args.allocator)
    return 0


if __name__ == "__main__":
    sys.exit(main())
