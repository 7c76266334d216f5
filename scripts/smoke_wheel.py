"""Build the wheel and sdist, install the wheel alone into a new venv outside the checkout, and check
the installed ``groundhog`` as a user would meet it: ``--version``, ``serve`` answering an LSP
``initialize`` over stdio and exiting on EOF, ``mcp`` answering an MCP ``initialize`` and listing its
tools, and ``doctor`` finding a healthy set-up imported from the venv, not from this checkout.

    python scripts/smoke_wheel.py                 # build from this checkout (needs `build`: make install)
    python scripts/smoke_wheel.py --wheel X.whl   # check a wheel built elsewhere
    python scripts/smoke_wheel.py --keep          # leave the temporary directory for a look

Everything happens under one temporary directory (store, key, workspace, venv); nothing is written to
the checkout or the user's Groundhog directories. Exit 0 when every check passes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 60.0
MCP_PROTOCOL = "2025-11-25"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help="check this wheel instead of building one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="groundhog-smoke-"))
    try:
        wheel = args.wheel.resolve() if args.wheel else build(tmp / "dist")
        check(wheel, tmp)
    except SmokeFailure as failure:
        print(f"smoke: FAILED: {failure}", file=sys.stderr)
        if not args.keep:
            print("smoke: rerun with --keep to look at the temporary directory", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"smoke: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"smoke: all checks passed in {time.monotonic() - started:.1f} s")
    return 0


class SmokeFailure(Exception):
    pass


def step(text: str) -> None:
    print(f"smoke: {text}", flush=True)


def build(outdir: Path) -> Path:
    """``python -m build``: the sdist first, then the wheel built from the unpacked sdist, so a file the
    sdist lacks fails here."""
    step("building the sdist and the wheel (python -m build)")
    run([sys.executable, "-m", "build", "--outdir", str(outdir), str(ROOT)], cwd=outdir.parent)
    (sdist,) = outdir.glob("groundhog-*.tar.gz")
    (wheel,) = outdir.glob("groundhog-*.whl")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("LICENSE", "README.md", "pyproject.toml", "server/groundhog/__init__.py"):
        expect(needed in names, f"the sdist lacks {needed}")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for needed in (
        "groundhog/cli.py",
        "groundhog/py.typed",
        "groundhog/lsp/server.py",
        "groundhog/mcp/server.py",
    ):
        expect(needed in names, f"the wheel lacks {needed}")
    expect(any(n.endswith(".dist-info/licenses/LICENSE") for n in names), "the wheel lacks its LICENSE")
    return wheel


def check(wheel: Path, tmp: Path) -> None:
    version = wheel.name.split("-")[1]
    venv = tmp / "venv"
    step(f"installing {wheel.name} into a new venv at {venv}")
    run([base_python(), "-m", "venv", str(venv)], cwd=tmp)
    run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(wheel),
        ],
        cwd=tmp,
    )
    workspace = tmp / "workspace"
    workspace.mkdir()
    env = clean_env(venv, tmp)
    groundhog = str(venv / "bin" / "groundhog")

    step("groundhog --version")
    done = run([groundhog, "--version"], cwd=workspace, env=env)
    expect(done.stdout.strip() == f"groundhog {version}", f"--version printed {done.stdout.strip()!r}")

    step("groundhog serve: LSP initialize over stdio, exit on EOF")
    lsp_initialize(groundhog, workspace, env)

    step(f"groundhog mcp: MCP initialize ({MCP_PROTOCOL}) and tools/list")
    mcp_tools(groundhog, workspace, env)

    step("groundhog doctor: healthy, imported from the venv")
    done = run([groundhog, "doctor", "--json", "--workspace", str(workspace)], cwd=workspace, env=env)
    report = json.loads(done.stdout)
    module = Path(report["server"]["module"])
    expect(module.is_relative_to(venv), f"groundhog was imported from {module}, not from the venv")
    expect(report["versions"]["groundhog"] == version, f"doctor reports version {report['versions']}")
    expect(report["workspace"]["store"]["exists"], "doctor found no store after `groundhog mcp` made one")

    if shutil.which("pipx"):
        step("pipx install of the wheel")
        pipx_env = {**env, "PIPX_HOME": str(tmp / "pipx"), "PIPX_BIN_DIR": str(tmp / "pipx-bin")}
        run(["pipx", "install", str(wheel)], cwd=tmp, env=pipx_env)
        done = run([str(tmp / "pipx-bin" / "groundhog"), "--version"], cwd=workspace, env=pipx_env)
        expect(done.stdout.strip() == f"groundhog {version}", f"pipx's groundhog printed {done.stdout!r}")
    else:
        step("pipx is not installed: its check is skipped")


def base_python() -> str:
    """The interpreter behind this venv (a venv made from a venv's python works, but say what we mean)."""
    base = getattr(sys, "_base_executable", None)
    return str(base) if base and Path(base).exists() else sys.executable


def clean_env(venv: Path, tmp: Path) -> dict[str, str]:
    """The user's environment minus anything pointing into this checkout or its venv, with Groundhog's
    store and key under the temporary directory."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    path = [
        p for p in env.get("PATH", "").split(os.pathsep) if p and not Path(p).resolve().is_relative_to(ROOT)
    ]
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *path])
    env["GROUNDHOG_HOME"] = str(tmp / "home" / "store")
    env["GROUNDHOG_CONFIG_DIR"] = str(tmp / "home" / "config")
    return env


def lsp_initialize(groundhog: str, workspace: Path, env: dict[str, str]) -> None:
    with Child([groundhog, "serve"], workspace, env) as child:
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"processId": os.getpid(), "rootUri": workspace.as_uri(), "capabilities": {}},
            }
        ).encode()
        child.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        header = child.read_until(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in header.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        answer = json.loads(child.read_exactly(length))
        expect(answer.get("id") == 1 and "capabilities" in answer.get("result", {}), f"initialize: {answer}")
        child.close_stdin()
        code = child.wait()
        expect(code == 0, f"serve exited {code} after EOF; stderr: {child.stderr()}")


def mcp_tools(groundhog: str, workspace: Path, env: dict[str, str]) -> None:
    with Child([groundhog, "mcp", "--workspace", str(workspace)], workspace, env) as child:

        def request(ident: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
            child.send_line({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
            while True:
                message = json.loads(child.read_until(b"\n"))
                if message.get("id") == ident:
                    expect("result" in message, f"{method}: {message}")
                    return dict(message["result"])

        result = request(
            1,
            "initialize",
            {
                "protocolVersion": MCP_PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "groundhog-smoke", "version": "1"},
            },
        )
        expect(result.get("protocolVersion") == MCP_PROTOCOL, f"initialize: {result}")
        child.send_line({"jsonrpc": "2.0", "method": "notifications/initialized"})
        tools = {tool["name"] for tool in request(2, "tools/list", {})["tools"]}
        expect("context_get" in tools, f"tools/list lacks context_get: {sorted(tools)}")
        child.close_stdin()
        code = child.wait()
        expect(code == 0, f"mcp exited {code} after EOF; stderr: {child.stderr()}")


class Child:
    """A process on pipes, its stdout read by a thread so every read has a deadline."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.name = " ".join(argv[1:])
        self.process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._buffer = b""
        self._eof = False
        self._changed = threading.Condition()
        self._errors: list[bytes] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        while chunk := os.read(self.process.stdout.fileno(), 65536):
            with self._changed:
                self._buffer += chunk
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        while chunk := os.read(self.process.stderr.fileno(), 65536):
            self._errors.append(chunk)

    def stderr(self) -> str:
        return b"".join(self._errors).decode(errors="replace")[-2000:] or "(empty)"

    def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def send_line(self, message: dict[str, Any]) -> None:
        self.write(json.dumps(message).encode() + b"\n")

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def read_until(self, end: bytes) -> bytes:
        return self._take(lambda: (i + len(end)) if (i := self._buffer.find(end)) >= 0 else None)

    def read_exactly(self, size: int) -> bytes:
        return self._take(lambda: size if len(self._buffer) >= size else None)

    def _take(self, ready: Any) -> bytes:
        deadline = time.monotonic() + TIMEOUT_S
        with self._changed:
            while (cut := ready()) is None:
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    why = "closed stdout" if self._eof else f"did not answer within {TIMEOUT_S:.0f} s"
                    raise SmokeFailure(f"{self.name} {why}; stderr: {self.stderr()}")
                self._changed.wait(left)
            data, self._buffer = self._buffer[:cut], self._buffer[cut:]
            return data

    def wait(self) -> int:
        try:
            return self.process.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise SmokeFailure(f"{self.name} did not exit within {TIMEOUT_S:.0f} s of EOF") from None


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SmokeFailure(
            f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
        )
    return done


def expect(condition: bool, failure: str) -> None:
    if not condition:
        raise SmokeFailure(failure)


if __name__ == "__main__":
    sys.exit(main())
