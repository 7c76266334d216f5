"""``python -m bench.mcp_face [--quick] [--out DIR] [--keep]``: the agents' face (``groundhog mcp``)
against its floors, in one run; prints a markdown table and writes ``<DIR>/<date>-<machine>-mcp
[-quick].json``. ``python -m bench`` runs it too (group ``mcp``).

- Tool calls: ``context_get`` and ``context_update`` (a 1 KB change) at 10 KB and 1 MB states, through
  real ``groundhog mcp`` processes driven over stdio by the MCP SDK's own client, in alternating rounds
  with (a) the floor: the same client calling the one tool of a minimal SDK server (``bench.mcp_noop``)
  that returns a constant, and (b) the same operation through the LSP face (``groundhog serve``, the
  bench's LSP client) with its own floor, the empty LSP round trip. Target: MCP op p50 <= 1.5 x no-op
  p50 + the LSP server's cost of the operation (LSP op p50 - LSP round trip p50).
- Start-up: spawn to the first successful ``tools/call`` result (``context_status``; the no-op tool
  for the floor), both spawned as ``python -m ...``. Target: within 1.3x of the floor (p50).
- Cross-face propagation: an agent's ``context_update`` to an editor's ``context/didChange``; an
  editor's ``context/update`` to an agent's ``notifications/resources/updated`` (handshake era) and
  to a ``subscriptions/listen`` event (2026-07-28). Target: p99 <= 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import math
import os
import random
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.subscriptions import ResourceUpdated
from mcp_types import CallToolResult, Implementation

from bench import report
from bench.client import METHOD_NOT_FOUND, REPO, Server, Store, server_python, summarize
from bench.workloads import SIZES, Results, Values, interleaved, make_state

LEGACY = "legacy"
MODERN = "2026-07-28"
DEFAULT_CAP = 65536  # groundhog mcp's default --max-result-bytes
FULL_CAP = 4 << 20  # big enough for the whole 1 MB state
OP_SIZES = ("10k", "1m")
CONTEXT_URI = "groundhog://context/default"
POLL_PHASE_S = 0.1  # both faces poll the workspace's change feed every 100 ms: updates land at random phases
EVENT_TIMEOUT_S = 5.0
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
# system names in the result
MCP, MCP_FULL, NOOP, NOOP_1MB = "groundhog_mcp", "groundhog_mcp_full", "sdk_noop", "sdk_noop_1mb"
LSP, LSP_RT = "groundhog_lsp", "lsp_rt"


@dataclass(frozen=True)
class McpPlan:
    """How many operations each MCP workload runs (``--quick`` runs fewer)."""

    quick: bool
    ops: int
    warmup: int
    rounds: int
    spawns: int
    propagation: int

    @classmethod
    def make(cls, quick: bool) -> McpPlan:
        if quick:
            return cls(quick=True, ops=60, warmup=10, rounds=2, spawns=4, propagation=60)
        return cls(quick=False, ops=1000, warmup=100, rounds=5, spawns=20, propagation=300)


# -- agents -----------------------------------------------------------------------------------------


@dataclass
class Arrivals:
    """What a client heard, with the ``perf_counter`` time it arrived; waiters wake on each one."""

    seen: list[tuple[float, Any]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, item: Any) -> None:
        self.seen.append((time.perf_counter(), item))
        self._changed.set()

    async def first(self, match: Callable[[Any], bool], after: float, timeout: float) -> float | None:
        """The arrival time of the first matching item that arrived after ``after`` (None: timeout)."""
        deadline = time.perf_counter() + timeout
        checked = 0
        while True:
            for at, item in self.seen[checked:]:
                if at >= after and match(item):
                    return at
            checked = len(self.seen)
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)


@dataclass
class Agent:
    """One MCP client session on a server process, and the notifications it heard."""

    client: Client
    heard: Arrivals
    last: tuple[str, CallToolResult] | None = None

    async def call(self, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """A tool call that must succeed: its structured result."""
        result = await self.client.call_tool(tool, arguments or {})
        if result.is_error or not isinstance(result.structured_content, dict):
            raise RuntimeError(f"{tool} failed: {result.content}")
        self.last = (tool, result)
        return result.structured_content

    async def validation_ms(self, repeat: int = 20) -> float:
        """p50 of the SDK client's own check of the last result against the tool's output schema
        (``ClientSession.validate_tool_result``, part of every ``call_tool``), in-process."""
        assert self.last is not None
        tool, result = self.last
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            await self.client.session.validate_tool_result(tool, result)
            samples.append((time.perf_counter() - start) * 1000)
        return round(sorted(samples)[len(samples) // 2], 4)


def groundhog_params(store: Store, workspace: Path, *args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=server_python(),
        args=["-m", "groundhog", "mcp", "--workspace", str(workspace), *args],
        env=store.environ(),
        cwd=str(REPO),
    )


def noop_params(store: Store) -> StdioServerParameters:
    return StdioServerParameters(
        command=server_python(), args=["-m", "bench.mcp_noop"], env=store.environ(), cwd=str(REPO)
    )


@contextlib.asynccontextmanager
async def open_agent(
    params: StdioServerParameters, errlog: TextIO, *, mode: str = LEGACY, name: str = "bench-agent"
) -> AsyncIterator[Agent]:
    """Spawn the server and connect the SDK's client (handshake done when this yields)."""
    heard = Arrivals()

    async def on_message(message: Any) -> None:
        method = getattr(message, "method", None)
        if isinstance(method, str):
            params = getattr(message, "params", None)
            uri = getattr(params, "uri", None)
            heard.add((method, None if uri is None else str(uri)))

    client = Client(
        stdio_client(params, errlog=errlog),
        mode=mode,
        client_info=Implementation(name=name, version="1"),
        message_handler=on_message,
        read_timeout_seconds=60,
    )
    async with client:
        yield Agent(client, heard)


def _log(store: Store, name: str) -> TextIO:
    directory = (store.root / "server-logs").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    return open(directory / f"{name}.log", "a")  # closed by the caller


# -- tool calls -------------------------------------------------------------------------------------


async def tool_calls(store: Store, plan: McpPlan, results: Results, stack: contextlib.AsyncExitStack) -> None:
    """get/update at 10 KB and 1 MB through MCP (default cap, and a full cap for the 1 MB get) and
    LSP, in alternating rounds with the two floors (the SDK's no-op call, the LSP round trip)."""
    errlog = stack.enter_context(_log(store, "mcp-ops"))
    noop = await stack.enter_async_context(open_agent(noop_params(store), errlog, name="noop"))
    agent = await stack.enter_async_context(
        open_agent(groundhog_params(store, store.workspace("mcp-ops")), errlog)
    )
    full = await stack.enter_async_context(
        open_agent(
            groundhog_params(store, store.workspace("mcp-ops-full"), "--max-result-bytes", str(FULL_CAP)),
            errlog,
            name="bench-agent-full",
        )
    )
    editor = await Server.start(store, store.workspace("lsp-ops"), name="lsp-ops")
    stack.push_async_callback(editor.close)

    async def noop_call(_: int) -> None:
        result = await noop.client.call_tool("noop", {})
        if result.is_error:
            raise RuntimeError(f"the no-op tool failed: {result.content}")

    async def lsp_rt(_: int) -> None:
        if await editor.error_code("bench/unknownMethod", {}) != METHOD_NOT_FOUND:
            raise RuntimeError("an unknown method did not answer MethodNotFound")

    for label in OP_SIZES:
        keys = SIZES[label]
        name = f"state-{label}"
        state = make_state(keys)
        for a in (agent, full):
            await a.call("context_create", {"name": name, "activate": False})
            await a.call("context_update", {"context": name, "set": state})
        await editor.request("context/create", {"name": name, "activate": False})
        await editor.request("context/update", {"context": name, "set": state})

    for label in OP_SIZES:
        keys = SIZES[label]
        name = f"state-{label}"
        # requests name no context: they act on the session's active one, as an editor's and agent's do
        await agent.call("context_switch", {"name": name})
        await full.call("context_switch", {"name": name})
        await editor.request("context/switch", {"name": name})
        values = Values()

        async def get(_: int, capped: bool = label == "1m") -> None:
            result = await agent.call("context_get")
            if ("truncated" in result) != capped:
                raise RuntimeError("context_get answered an unexpected shape")

        async def get_full(_: int, keys: int = keys) -> None:
            result = await full.call("context_get")
            if len(result["data"]) != keys or "truncated" in result:
                raise RuntimeError("context_get with a full cap did not answer the whole state")

        async def lsp_get(_: int) -> None:
            await editor.request("context/get", {})

        async def noop_1mb(_: int) -> None:
            result = await noop.client.call_tool("state_1mb", {})
            if result.is_error or len((result.structured_content or {})["data"]) != 1000:
                raise RuntimeError("the 1 MB no-op tool failed")

        systems: dict[str, Callable[[int], Any]] = {MCP: get, LSP: lsp_get, NOOP: noop_call, LSP_RT: lsp_rt}
        if label == "1m":
            systems[MCP_FULL] = get_full
            systems[NOOP_1MB] = noop_1mb
        samples = await interleaved(systems, plan.ops, plan.warmup, plan.rounds)
        extra: dict[str, dict[str, Any]] = {
            MCP: {"max_result_bytes": DEFAULT_CAP, "client_validation_p50": await agent.validation_ms()},
        }
        if label == "1m":
            extra[MCP_FULL] = {
                "max_result_bytes": FULL_CAP,
                "client_validation_p50": await full.validation_ms(),
            }
        for system, xs in samples.items():
            results.add(f"mcp.get.{label}", system, xs, **extra.get(system, {}))

        async def update(i: int, keys: int = keys, values: Values = values) -> None:
            await agent.call("context_update", {"set": {values.key(i, keys): values.value(i)}})

        async def lsp_update(i: int, keys: int = keys, values: Values = values) -> None:
            await editor.request("context/update", {"set": {values.key(i, keys): values.value(i)}})

        systems = {MCP: update, LSP: lsp_update, NOOP: noop_call, LSP_RT: lsp_rt}
        samples = await interleaved(systems, plan.ops, plan.warmup, plan.rounds)
        validation = {"client_validation_p50": await agent.validation_ms()}
        for system, xs in samples.items():
            results.add(f"mcp.update.{label}", system, xs, **(validation if system == MCP else {}))


# -- start-up ---------------------------------------------------------------------------------------


async def spawns(store: Store, plan: McpPlan, results: Results) -> None:
    """Spawn -> initialize handshake -> first ``tools/call`` result, closed after each sample; the
    two servers take turns (after one untimed start each, which also writes the workspace's state)."""
    workspace = store.workspace("mcp-spawn")
    samples: dict[str, list[float]] = {MCP: [], NOOP: []}
    handshakes: dict[str, list[float]] = {MCP: [], NOOP: []}
    with _log(store, "mcp-spawns") as errlog:

        async def once(system: str) -> tuple[float, float]:
            params = groundhog_params(store, workspace) if system == MCP else noop_params(store)
            tool = "context_status" if system == MCP else "noop"
            start = time.perf_counter()
            async with open_agent(params, errlog, name=f"spawn-{system}") as agent:
                initialized = (time.perf_counter() - start) * 1000
                result = await agent.client.call_tool(tool, {})
                elapsed = (time.perf_counter() - start) * 1000
                if result.is_error:
                    raise RuntimeError(f"{tool} failed: {result.content}")
            return initialized, elapsed

        async with open_agent(groundhog_params(store, workspace), errlog, name="spawn-setup") as agent:
            await agent.call("context_update", {"set": make_state(SIZES["10k"], seed=31)})
        for system in samples:
            await once(system)
        for _ in range(plan.spawns):
            for system in samples:
                initialized, elapsed = await once(system)
                handshakes[system].append(initialized)
                samples[system].append(elapsed)
    for system, xs in samples.items():
        handshake = summarize(handshakes[system])["p50"]
        results.add("mcp.spawn_to_first_result", system, xs, to_initialize_result_p50=handshake)


# -- cross-face propagation -------------------------------------------------------------------------


async def propagation(
    store: Store, plan: McpPlan, results: Results, stack: contextlib.AsyncExitStack
) -> None:
    """One editor (LSP, its own process) and two agents (handshake era and 2026-07-28, each its own
    ``groundhog mcp``) on one workspace's ``default`` context. Each sample waits a random fraction of
    the feed's poll period first, so that updates land at every phase of the other side's poll."""
    workspace = store.workspace("live")
    errlog = stack.enter_context(_log(store, "mcp-live"))
    editor = await Server.start(store, workspace, name="live-editor")
    stack.push_async_callback(editor.close)
    did_change = Arrivals()
    editor.listeners.append(
        lambda method, params: did_change.add(params["version"]) if method == "context/didChange" else None
    )
    legacy = await stack.enter_async_context(open_agent(groundhog_params(store, workspace), errlog))
    modern = await stack.enter_async_context(
        open_agent(groundhog_params(store, workspace), errlog, mode=MODERN, name="bench-agent-modern")
    )
    with warnings.catch_warnings():  # removed from 2026-07-28 on; what handshake-era agents send
        warnings.simplefilter("ignore")
        await legacy.client.subscribe_resource(CONTEXT_URI)
    await modern.call("context_status")  # opens its session (and the watcher that serves its streams)
    values = Values(seed=37)
    rnd = random.Random(41)
    keys = SIZES["10k"]

    async def agent_to_editor(i: int) -> tuple[float, float | None]:
        start = time.perf_counter()
        version = (await legacy.call("context_update", {"set": {values.key(i, keys): values.value(i)}}))[
            "version"
        ]
        return start, await did_change.first(lambda v: v == version, start, EVENT_TIMEOUT_S)

    async def editor_to_legacy(i: int) -> tuple[float, float | None]:
        start = time.perf_counter()
        params = {"set": {values.key(i, keys): values.value(50_000 + i)}}  # new values: a new version
        await editor.request("context/update", params)
        return start, await legacy.heard.first(
            lambda m: m == ("notifications/resources/updated", CONTEXT_URI), start, EVENT_TIMEOUT_S
        )

    await _sample("mcp.propagation.mcp_update_to_lsp_didChange", agent_to_editor, plan, results, rnd)
    await _sample("mcp.propagation.lsp_update_to_mcp_resources_updated", editor_to_legacy, plan, results, rnd)

    async with modern.client.listen(resource_subscriptions=[CONTEXT_URI]) as stream:
        events = Arrivals()

        async def read() -> None:
            async for event in stream:
                events.add(event)

        reader = asyncio.create_task(read())
        try:

            async def editor_to_listen(i: int) -> tuple[float, float | None]:
                start = time.perf_counter()
                params = {"set": {values.key(i, keys): values.value(100_000 + i)}}
                await editor.request("context/update", params)
                return start, await events.first(
                    lambda e: e == ResourceUpdated(uri=CONTEXT_URI), start, EVENT_TIMEOUT_S
                )

            await _sample("mcp.propagation.lsp_update_to_mcp_listen", editor_to_listen, plan, results, rnd)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def _sample(
    workload: str,
    once: Callable[[int], Any],
    plan: McpPlan,
    results: Results,
    rnd: random.Random,
) -> None:
    warmup = max(2, plan.warmup // 10)
    samples: list[float] = []
    lost = 0
    for i in range(warmup + plan.propagation):
        await asyncio.sleep(rnd.uniform(0, POLL_PHASE_S))
        start, arrived = await once(i)
        if i < warmup:
            continue
        if arrived is None:
            lost += 1
        else:
            samples.append((arrived - start) * 1000)
    results.add(workload, "groundhog", samples, lost=lost, timeout_s=EVENT_TIMEOUT_S)


# -- the run ----------------------------------------------------------------------------------------


async def run(plan: McpPlan, store: Store, *, log: Any = lambda text: None) -> dict[str, Any]:
    """Every MCP workload; returns the result document."""
    started = time.perf_counter()
    # Byte-compiled as an installed package is (the SDK's modules in the venv already are).
    package = _server_package()
    compileall.compile_dir(str(package), quiet=1)
    compileall.compile_dir(str(REPO / "bench"), quiet=1)
    meta = report.machine_info(plan.quick)
    meta["server_package"] = str(package)
    meta["dirty_files"] = _dirty_files() if package == REPO / "server" / "groundhog" else []
    meta["server_package_is_commit"] = _same_as_commit(package, meta["commit"])
    results = Results()
    timings: dict[str, float] = {}
    for group, step in (("tool_calls", tool_calls), ("spawns", None), ("propagation", propagation)):
        log(f"mcp: {group}...")
        began = time.perf_counter()
        if step is None:
            await spawns(store, plan, results)
        else:
            async with contextlib.AsyncExitStack() as stack:
                await step(store, plan, results, stack)
        timings[group] = round(time.perf_counter() - began, 1)
    meta.update(
        duration_s=round(time.perf_counter() - started, 1),
        group_seconds=timings,
        plan=asdict(plan),
        load_average_end=list(os.getloadavg()),
        mcp_sdk=_version("mcp"),
    )
    workloads = results.workloads
    return {
        "meta": meta,
        "workloads": workloads,
        "ratios": ratios(workloads),
        "targets": targets(workloads),
        "notes": _notes(plan, meta),
    }


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _server_package() -> Path:
    """Where the measured processes import ``groundhog`` from: the checkout's ``server/`` (the
    editable install), or a clean tree put first on ``PYTHONPATH``."""
    import subprocess

    code = "import os, groundhog; print(os.path.dirname(os.path.abspath(groundhog.__file__)))"
    out = subprocess.run(
        [server_python(), "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return Path(out.strip()).resolve()


def _same_as_commit(package: Path, commit: str) -> bool:
    """Whether the package's files are exactly ``server/groundhog`` at ``commit`` (blob hashes)."""
    import subprocess

    listed = subprocess.run(
        ["git", "ls-tree", "-r", commit, "--", "server/groundhog"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    committed = {line.split("\t", 1)[1]: line.split()[2] for line in listed.splitlines()}
    local = sorted(path for path in package.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    hashed = subprocess.run(
        ["git", "hash-object", "--stdin-paths"],
        input="\n".join(str(path) for path in local),
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    if len(hashed) != len(local):
        return False
    names = [f"server/groundhog/{path.relative_to(package)}" for path in local]
    ours = dict(zip(names, hashed, strict=True))
    return bool(committed) and ours == committed


def _dirty_files() -> list[str]:
    """Uncommitted changes in the server's code, which the measured processes run (not ``commit``)."""
    import subprocess

    command = ["git", "status", "--porcelain", "--", "server"]
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False).stdout
    return [line[3:] for line in out.splitlines()]


def _notes(plan: McpPlan, meta: dict[str, Any]) -> list[str]:
    notes = [
        "groundhog_mcp: a real `groundhog mcp` process driven over stdio by the MCP SDK's own client "
        f"(mcp {meta.get('mcp_sdk')}, handshake era: mode='legacy', what most agents speak); sdk_noop: the "
        "same client calling the one tool of a minimal MCPServer (bench/mcp_noop.py) that returns a constant",
        "groundhog_lsp / lsp_rt: the same operation through `groundhog serve` and the bench's LSP client, "
        "and that client's unknown-method round trip; the LSP server's cost of an operation = LSP op p50 - "
        "lsp_rt p50",
        f"tool calls: {plan.ops} timed calls after {plan.warmup} warm-up, the systems of a workload in "
        f"{plan.rounds} alternating rounds; every figure includes the client's own work (the SDK client "
        "parses and validates each result against the tool's output schema)",
        f"mcp.get.1m: groundhog_mcp is what agents get, capped at the default --max-result-bytes "
        f"{DEFAULT_CAP} (the keys that fit, then `truncated`); groundhog_mcp_full runs with "
        f"--max-result-bytes {FULL_CAP} and answers the whole 1 MB, as the LSP face does",
        f"spawns: {plan.spawns} per server after one untimed start each, spawned the same way "
        "(`python -m groundhog mcp` / `python -m bench.mcp_noop`, modules byte-compiled), timed from the "
        "spawn through the initialize handshake to the first tools/call result (context_status on a "
        "workspace with a 10 KB context; the SDK client also lists the tools before validating a result)",
        f"propagation: {plan.propagation} samples per direction on one workspace, each after a random wait "
        f"of 0-{POLL_PHASE_S * 1000:.0f} ms (both faces poll the change feed every 100 ms), timed from "
        "sending the update to the other process's event arriving at its client",
    ]
    if plan.quick:
        notes.insert(0, f"QUICK RUN: {plan.ops} calls per workload, indicative only")
    if meta["server_package"] != str(REPO / "server" / "groundhog"):
        same = "identical to" if meta.get("server_package_is_commit") else "NOT identical to"
        notes.append(
            f"the measured server is the groundhog package in {meta['server_package']}, {same} "
            f"server/groundhog at commit {meta['commit']}"
        )
    if meta["dirty_files"]:
        notes.append(
            "the measured server ran the working tree, with uncommitted changes in: "
            + ", ".join(meta["dirty_files"])
        )
    start_load, end_load = meta["load_average_start"][0], meta["load_average_end"][0]
    notes.append(
        f"machine: {meta['cpus']} CPUs, 1-min load average {start_load:.1f} at start, {end_load:.1f} at "
        "the end (other work on a shared machine inflates every figure, p95/p99 most)"
    )
    return notes


# -- ratios and targets -----------------------------------------------------------------------------

Workloads = dict[str, dict[str, dict[str, Any]]]
OPS = [
    ("mcp.get.10k", MCP, "context_get, 10 KB"),
    ("mcp.get.1m", MCP, "context_get, 1 MB, default cap (what agents get)"),
    ("mcp.get.1m", MCP_FULL, "context_get, 1 MB, full cap (the whole state)"),
    ("mcp.update.10k", MCP, "context_update, 1 KB change, 10 KB state"),
    ("mcp.update.1m", MCP, "context_update, 1 KB change, 1 MB state"),
]
PROPAGATIONS = [
    ("mcp.propagation.mcp_update_to_lsp_didChange", "MCP context_update -> LSP context/didChange"),
    (
        "mcp.propagation.lsp_update_to_mcp_resources_updated",
        "LSP context/update -> MCP notifications/resources/updated (handshake era)",
    ),
    ("mcp.propagation.lsp_update_to_mcp_listen", "LSP context/update -> MCP subscriptions/listen event"),
]


def budget(workloads: Workloads, workload: str, system: str) -> dict[str, float]:
    """The MCP op against its budget: 1.5 x the SDK's no-op call + the LSP server's cost of the same
    op, p50s of the same workload's alternating rounds."""
    w = workloads[workload]
    noop, lsp, rt, ours = (w[s]["p50"] for s in (NOOP, LSP, LSP_RT, system))
    cost = lsp - rt
    allowed = 1.5 * noop + cost
    carried: dict[str, float] = {}
    if system == MCP_FULL and NOOP_1MB in w:  # what the SDK alone pays to carry a 1 MB result
        sdk = w[NOOP_1MB]["p50"]
        carried = {
            "sdk_noop_1mb_p50": sdk,
            "mcp_over_sdk_noop_1mb": round(ours / sdk, 3) if sdk else math.inf,
        }
    return {
        "mcp_p50": ours,
        "mcp_p99": w[system]["p99"],
        "noop_p50": noop,
        "lsp_op_p50": lsp,
        "lsp_rt_p50": rt,
        "lsp_server_cost_p50": round(cost, 4),
        "budget_p50": round(allowed, 4),
        "mcp_over_budget": round(ours / allowed, 3) if allowed > 0 else math.inf,
        "mcp_over_noop": round(ours / noop, 3) if noop else math.inf,
        "mcp_over_lsp_op": round(ours / lsp, 3) if lsp else math.inf,
        **carried,
    }


def ratios(workloads: Workloads) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for workload, system, _ in OPS:
        with contextlib.suppress(KeyError):
            out[f"{workload}.{system}"] = budget(workloads, workload, system)
    with contextlib.suppress(KeyError, ZeroDivisionError):
        spawn = workloads["mcp.spawn_to_first_result"]
        out["mcp.spawn_to_first_result"] = {
            "groundhog_over_noop_p50": round(spawn[MCP]["p50"] / spawn[NOOP]["p50"], 3)
        }
    return out


def targets(workloads: Workloads) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(key: str, text: str, check: Callable[[], tuple[str, bool]]) -> None:
        try:
            measured, ok = check()
        except (KeyError, ValueError, ZeroDivisionError) as error:
            out.append({"key": key, "target": text, "measured": f"not measured ({error!r})", "pass": None})
            return
        out.append({"key": key, "target": text, "measured": measured, "pass": ok})

    for workload, system, label in OPS:

        def op(workload: str = workload, system: str = system) -> tuple[str, bool]:
            b = budget(workloads, workload, system)
            text = (
                f"p50 {b['mcp_p50']:.2f} ms vs budget {b['budget_p50']:.2f} ms ({b['mcp_over_budget']:.2f}x; "
                f"1.5 x no-op {b['noop_p50']:.2f} + LSP {b['lsp_op_p50']:.2f} - {b['lsp_rt_p50']:.2f})"
            )
            if "sdk_noop_1mb_p50" in b:
                floor = b["sdk_noop_1mb_p50"]
                text += f"; the SDK no-op returning the same 1 MB with its text copy: p50 {floor:.2f} ms"
            return text, b["mcp_p50"] <= b["budget_p50"]

        add(f"{workload}.{system}", f"{label}: p50 <= 1.5 x SDK no-op + LSP server cost", op)

    def spawn() -> tuple[str, bool]:
        w = workloads["mcp.spawn_to_first_result"]
        ours, floor = w[MCP]["p50"], w[NOOP]["p50"]
        text = f"p50 {ours:.0f} ms vs SDK no-op server {floor:.0f} ms ({ours / floor:.2f}x)"
        return text, ours <= 1.3 * floor

    add("mcp.spawn_to_first_result", "spawn to first tool result p50 <= 1.3 x the SDK no-op server's", spawn)
    for workload, label in PROPAGATIONS:

        def prop(workload: str = workload) -> tuple[str, bool]:
            w = workloads[workload]["groundhog"]
            lost = f", {w['lost']} lost" if w["lost"] else ""
            return f"p50 {w['p50']:.0f} ms, p99 {w['p99']:.0f} ms{lost}", w["p99"] <= 200 and not w["lost"]

        add(workload, f"{label}: p99 <= 200 ms", prop)
    return out


def table(result: dict[str, Any]) -> str:
    workloads: Workloads = result["workloads"]
    lines = [
        "| workload | system | n | p50 ms | p95 ms | p99 ms | details |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for name, systems in workloads.items():
        for system, stats in systems.items():
            extra = ", ".join(f"{k}={v}" for k, v in stats.items() if k not in report.STAT_KEYS)
            lines.append(
                f"| {name} | {system} | {stats['n']} | {stats['p50']:.3f} | {stats['p95']:.3f}"
                f" | {stats['p99']:.3f} | {extra} |"
            )
    lines += [
        "",
        "| operation | MCP p50 (p99) ms | SDK no-op p50 | LSP op p50 | LSP rt p50 | budget p50 "
        "| MCP / budget |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for workload, system, label in OPS:
        b = result["ratios"].get(f"{workload}.{system}")
        if b:
            lines.append(
                f"| {label} | {b['mcp_p50']:.2f} ({b['mcp_p99']:.2f}) | {b['noop_p50']:.2f} | "
                f"{b['lsp_op_p50']:.2f} | {b['lsp_rt_p50']:.2f} | {b['budget_p50']:.2f} | "
                f"{b['mcp_over_budget']:.2f}x |"
            )
    return "\n".join(lines + report.targets_and_notes(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mcp_face", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer operations (about a minute)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the result JSON goes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stores and server logs")
    args = parser.parse_args(argv)
    return run_and_report(McpPlan.make(args.quick), args.out, keep=args.keep, log=_progress)


def run_and_report(plan: McpPlan, out: Path, *, keep: bool = False, log: Any = lambda text: None) -> int:
    """Run, print the table, write the JSON (what ``python -m bench`` calls for its ``mcp`` group)."""
    root = Path(tempfile.mkdtemp(prefix="groundhog-bench-mcp-"))
    try:
        result = asyncio.run(run(plan, Store(root), log=log))
    finally:
        if keep:
            print(f"kept the stores in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(table(result))
    path = report.write(result, out, kind="mcp")
    print(f"\nwrote {path}")
    return 0


def _progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
