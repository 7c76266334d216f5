"""The benchmarks' LSP client and statistics helpers.

The client is pygls' own language client, with a converter that keeps custom params and results as
plain dicts (the default one renames keys and costs ~100x on large messages, see docs/architecture.md),
started against the real server (``<repo>/.venv/bin/python -m groundhog serve``) over stdio in a private
store.
The server's stderr goes to a log file, never to an unread pipe that could fill up and block it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.io_ import run_async
from pygls.lsp.client import LanguageClient
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    default_converter,
)

REPO = Path(__file__).resolve().parents[1]
NOTIFICATIONS = ("context/didChange", "context/didSwitch", "context/didRestore", "context/didRecover")
METHOD_NOT_FOUND = -32601


def server_python() -> str:
    """The project's venv interpreter (what editors launch), else the running one."""
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def plain_converter() -> Any:
    converter = default_converter()
    for message_type in (JsonRPCRequestMessage, JsonRPCNotification, JsonRPCResponseMessage):
        converter.register_structure_hook(message_type, lambda obj, cls: cls(**obj))
    return converter


# -- statistics ---------------------------------------------------------------------------------


def percentile(ordered: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) of sorted values, linear between the closest ranks."""
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(samples_ms: list[float]) -> dict[str, float]:
    """n, mean, median (p50), p95, p99, min and max of latencies in milliseconds."""
    ordered = sorted(samples_ms)
    n = len(ordered)
    return {
        "n": n,
        "mean": round(sum(ordered) / n, 4) if n else math.nan,
        "p50": round(percentile(ordered, 0.50), 4),
        "p95": round(percentile(ordered, 0.95), 4),
        "p99": round(percentile(ordered, 0.99), 4),
        "min": round(ordered[0], 4) if n else math.nan,
        "max": round(ordered[-1], 4) if n else math.nan,
    }


@contextlib.contextmanager
def quiet_gc() -> Any:
    """The benchmark process's own cyclic GC stays out of timed loops (collected before and after);
    the server's GC is untouched."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


async def measure(op: Callable[[int], Awaitable[Any]], n: int, warmup: int) -> list[float]:
    """Run ``op(i)`` ``warmup`` times untimed, then ``n`` times timed; latencies in ms."""
    for i in range(warmup):
        await op(i)
    samples = []
    with quiet_gc():
        for i in range(warmup, warmup + n):
            start = time.perf_counter()
            await op(i)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def measure_sync(op: Callable[[int], Any], n: int, warmup: int) -> list[float]:
    """``measure`` for in-process (peer) operations."""
    for i in range(warmup):
        op(i)
    samples = []
    with quiet_gc():
        for i in range(warmup, warmup + n):
            start = time.perf_counter()
            op(i)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def peak_rss_mb(pid: int) -> float | None:
    """The process's high-water resident set (VmHWM) in MB, while it is still alive."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


# -- the store and the server -------------------------------------------------------------------


@dataclass
class Store:
    """A private GROUNDHOG_HOME and key directory, and workspaces inside ``root``."""

    root: Path

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    def workspace(self, name: str) -> Path:
        path = self.root / "workspaces" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDHOG_")}
        env.update(GROUNDHOG_HOME=str(self.store_dir), GROUNDHOG_CONFIG_DIR=str(self.config_dir))
        return env


@dataclass
class Startup:
    """Milliseconds from spawning the server to the initialize response and to didRestore."""

    initialized_ms: float
    restored_ms: float | None


@dataclass
class Server:
    """One editor session: a running ``groundhog serve`` and a connected, initialized client."""

    client: LanguageClient
    process: asyncio.subprocess.Process
    startup: Startup
    counts: dict[str, int] = field(default_factory=dict)
    # called with (method, params) on every Groundhog notification, as it arrives
    listeners: list[Callable[[str, Any], None]] = field(default_factory=list)
    store: Store | None = None  # where it was started (another server can join the same workspace)
    workspace: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    async def start(
        cls,
        store: Store,
        workspace: Path,
        *,
        options: dict[str, Any] | None = None,
        expect_restore: bool = False,
        name: str = "groundhog-bench",
    ) -> Server:
        """Spawn, initialize (and wait for ``context/didRestore`` when the workspace has state)."""
        client = LanguageClient(name, "1", converter_factory=plain_converter)
        counts = dict.fromkeys(NOTIFICATIONS, 0)
        listeners: list[Callable[[str, Any], None]] = []
        loop = asyncio.get_running_loop()
        restored: asyncio.Future[Any] = loop.create_future()
        for method in NOTIFICATIONS:
            client.feature(method)(_counter(counts, listeners, method, restored))
        log = (store.root / "server-logs").resolve()
        log.mkdir(exist_ok=True)
        start = time.perf_counter()
        with open(log / f"{name}.log", "ab") as stderr:
            process = await asyncio.create_subprocess_exec(
                server_python(),
                "-m",
                "groundhog",
                "serve",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=store.environ(),
                cwd=str(REPO),
            )
        assert process.stdin is not None and process.stdout is not None
        client.protocol.set_writer(process.stdin)
        client._server = process
        client._async_tasks.append(
            asyncio.create_task(
                run_async(stop_event=client._stop_event, reader=process.stdout, protocol=client.protocol)
            )
        )
        await client.protocol.send_request_async(
            types.INITIALIZE,
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                process_id=os.getpid(),
                client_info=types.ClientInfo(name=name, version="1"),
                workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name=workspace.name)],
                root_uri=workspace.as_uri(),
                initialization_options=options,
            ),
        )
        initialized_ms = (time.perf_counter() - start) * 1000
        client.protocol.notify(types.INITIALIZED, types.InitializedParams())
        restored_ms = None
        if expect_restore:
            await asyncio.wait_for(restored, 30)
            restored_ms = (time.perf_counter() - start) * 1000
        return cls(client, process, Startup(initialized_ms, restored_ms), counts, listeners, store, workspace)

    async def request(self, method: str, params: Any = None) -> Any:
        return await self.client.protocol.send_request_async(method, params)

    async def error_code(self, method: str, params: Any = None) -> int:
        """Send a request that must fail; its JSON-RPC error code."""
        try:
            await self.request(method, params)
        except JsonRpcException as error:
            return error.code
        raise RuntimeError(f"{method} unexpectedly succeeded")

    def peak_rss_mb(self) -> float | None:
        return peak_rss_mb(self.pid)

    async def close(self) -> None:
        """shutdown + exit, then wait for the process (killed if it hangs)."""
        try:
            await asyncio.wait_for(self.request(types.SHUTDOWN), 30)
            self.client.protocol.notify(types.EXIT)
            await asyncio.wait_for(self.process.wait(), 30)
        except (TimeoutError, RuntimeError, JsonRpcException, ConnectionError):
            self.kill()
            await self.process.wait()
        finally:
            await self._stop_client()

    def kill(self) -> None:
        """kill -9 of the server process this client started."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)

    async def wait_killed(self) -> None:
        self.kill()
        await self.process.wait()
        await self._stop_client()

    async def _stop_client(self) -> None:
        self.client._stop_event.set()
        for task in self.client._async_tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self.client._async_tasks, return_exceptions=True)
        self.client._async_tasks.clear()
        for future in self.client.protocol._request_futures.values():
            if not future.done():
                future.cancel()


def _counter(
    counts: dict[str, int],
    listeners: list[Callable[[str, Any], None]],
    method: str,
    restored: asyncio.Future[Any],
) -> Callable[[Any], None]:
    def count(params: Any) -> None:
        counts[method] += 1
        for listener in listeners:
            listener(method, params)
        if method == "context/didRestore" and not restored.done():
            restored.set_result(params)

    return count
