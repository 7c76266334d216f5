"""A real LSP client for end-to-end tests: pytest-lsp's client, started against `python -m groundhog
serve` in a private store, with a converter that keeps custom params and results as plain dicts (the
default one renames keys such as `class` or `/src/a.py`, see docs/architecture.md), and lists of every
notification the server sent. Also: the shared assertions on protocol errors, the people CLI runner,
and a peer that writes LSP frames by hand (for the wire, TCP and fuzz tests)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    default_converter,
)
from pytest_lsp import client_capabilities
from pytest_lsp.client import LanguageClient as TestClient
from pytest_lsp.client import register_lsp_features
from pytest_lsp.protocol import LanguageClientProtocol

# The 16 verbs of PROTOCOL.md, written out (not taken from the server) so tests check the contract.
VERBS = (
    "status",
    "list",
    "info",
    "create",
    "delete",
    "switch",
    "deactivate",
    "get",
    "update",
    "snapshot",
    "snapshots",
    "rollback",
    "history",
    "diff",
    "editor",
    "deleteSnapshot",
)


def tool_name(verb: str) -> str:
    """The MCP tool of a request (MCP.md): ``deleteSnapshot`` -> ``context_delete_snapshot``."""
    return "context_" + "".join(f"_{c.lower()}" if c.isupper() else c for c in verb)


PROFILES = {"vscode": "visual-studio-code", "neovim": "neovim@v0.11.0"}
NOTIFICATIONS = ("context/didChange", "context/didSwitch", "context/didRestore", "context/didRecover")


def plain_converter() -> Any:
    converter = default_converter()
    for message_type in (JsonRPCRequestMessage, JsonRPCNotification):
        converter.register_structure_hook(message_type, lambda obj, cls: cls(**{"params": None, **obj}))
    converter.register_structure_hook(JsonRPCResponseMessage, lambda obj, cls: cls(**obj))
    return converter


class PlainClientProtocol(LanguageClientProtocol):
    """pygls' reader runs ``structure_message`` on every nested JSON object (json.loads object_hook),
    so a stored value that looks like a JSON-RPC message would be turned into a message object (or
    fail to convert) on the client side too. Here nested objects stay plain and only the top-level
    message is converted."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        return data

    def handle_message(self, message: Any) -> None:
        if isinstance(message, dict):
            message = super().structure_message(message)
        super().handle_message(message)


@dataclass
class Env:
    """A private store, key dir and workspace for one test."""

    root: Path
    store_dir: Path
    config_dir: Path
    workspace: Path
    store_url: str | None = None  # servers use this shared PostgreSQL store (GROUNDHOG_STORE_URL)

    @classmethod
    def make(cls, tmp: Path, store_url: str | None = None) -> Env:
        workspace = tmp / "workspace"
        workspace.mkdir(parents=True, exist_ok=True)
        return cls(tmp, tmp / "store", tmp / "config", workspace, store_url)

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDHOG_")}
        env.update(GROUNDHOG_HOME=str(self.store_dir), GROUNDHOG_CONFIG_DIR=str(self.config_dir))
        if self.store_url is not None:
            env.update(GROUNDHOG_STORE_URL=self.store_url)
        env.update(extra)
        return env


@dataclass
class Client:
    """One editor session: a connected, initialized client and what the server told it."""

    lsp: TestClient
    init: types.InitializeResult
    notifications: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def messages(self) -> list[types.ShowMessageParams]:
        """``window/showMessage`` notifications received."""
        return list(self.lsp.messages)

    async def request(self, method: str, params: Any = None) -> Any:
        return await self.lsp.protocol.send_request_async(method, params)

    async def error(self, method: str, params: Any = None) -> dict[str, Any]:
        """Send a request that must fail; return {code, message, data}."""
        try:
            result = await self.request(method, params)
        except JsonRpcException as error:
            return {"code": error.code, "message": error.message, "data": error.data}
        raise AssertionError(f"{method} succeeded with {result!r}; an error was expected")

    async def command(self, verb: str, params: Any = None) -> Any:
        arguments = [] if params is None else [params]
        return await self.lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command=f"groundhog.{verb}", arguments=arguments)
        )

    def notify(self, method: str, params: Any) -> None:
        self.lsp.protocol.notify(method, params)

    async def wait_for(
        self, method: str, predicate: Callable[[dict[str, Any]], bool] = lambda _: True, timeout: float = 10
    ) -> dict[str, Any]:
        """The first notification of ``method`` (already received or still to come) matching."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for params in self.notifications.get(method, []):
                if predicate(params):
                    return params
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {method} matching within {timeout}s: {self.notifications}")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.lsp.shutdown_session(), 10)
        except Exception:
            await self.lsp.stop()


async def start_client(
    env: Env,
    *,
    profile: str = "vscode",
    options: dict[str, Any] | None = None,
    workspace: Path | None = None,
    client_name: str = "groundhog-tests",
    extra_args: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> Client:
    lsp = TestClient(converter_factory=plain_converter, protocol_cls=PlainClientProtocol)
    register_lsp_features(lsp)
    client = Client(lsp, types.InitializeResult(capabilities=types.ServerCapabilities()))
    for method in NOTIFICATIONS:
        client.notifications[method] = []
        lsp.feature(method)(_collector(client.notifications[method]))

    await lsp.start_io(
        sys.executable, "-m", "groundhog", "serve", *extra_args, env=env.environ(**(extra_env or {}))
    )
    root = workspace or env.workspace
    capabilities = client_capabilities(PROFILES[profile])
    client.init = await lsp.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            process_id=os.getpid(),
            client_info=types.ClientInfo(name=client_name, version="1"),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            root_uri=root.as_uri(),
            initialization_options=options,
        )
    )
    return client


def _collector(sink: list[dict[str, Any]]) -> Callable[[Any], None]:
    def collect(params: Any) -> None:
        sink.append(params)

    return collect


# -- assertions shared by the e2e tests ---------------------------------------------------------

RFC3339_MS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
SERVER_DIR = str(Path(__file__).resolve().parents[2] / "server")


def assert_error(
    error: dict[str, Any], code: int, kind: str | None = None, *, env: Env | None = None
) -> None:
    """A protocol error: the code, ``data.kind``, and a one-sentence message without a traceback or
    a server path (the store, the sources, the interpreter)."""
    assert error["code"] == code, error
    data = error["data"]
    assert isinstance(data, dict), error
    if kind is not None:
        assert data.get("kind") == kind, error
    text = error["message"] + repr(data)
    assert isinstance(error["message"], str) and error["message"].strip(), error
    for leak in ("Traceback", 'File "', SERVER_DIR, sys.prefix, "site-packages"):
        assert leak not in text, error
    if env is not None:
        assert str(env.root) not in text, error


def compact_size(data: Any) -> int:
    """UTF-8 length of the compact JSON of ``data`` (PROTOCOL.md decision 17)."""
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())


# -- the people CLI -----------------------------------------------------------------------------

CLI_TIMEOUT_S = 60


def run_cli(env: Env, *args: str, cwd: Path | None = None, workspace: bool = True) -> tuple[int, str, str]:
    """Run ``groundhog ARGS`` for the test's workspace; return (exit code, stdout, stderr)."""
    extra = ["--workspace", str(env.workspace)] if workspace and cwd is None else []
    done = subprocess.run(
        [sys.executable, "-m", "groundhog", *args, *extra],
        env=env.environ(),
        cwd=cwd or env.root,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    return done.returncode, done.stdout, done.stderr


def cli_json(env: Env, *args: str, cwd: Path | None = None) -> Any:
    code, out, err = run_cli(env, *args, "--json", cwd=cwd)
    assert code == 0, err
    return json.loads(out)


# -- hand-written frames ------------------------------------------------------------------------

READ_TIMEOUT_S = 15


class RawPeer:
    """An LSP peer that writes and reads frames by hand over any byte stream (pipes, TCP)."""

    def __init__(self, reader: asyncio.StreamReader, writer: Any) -> None:
        self.reader = reader
        self.writer = writer
        self.unsolicited: list[dict[str, Any]] = []
        self._next_id = 100

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    def send(self, message: Any) -> None:
        body = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def read(self) -> dict[str, Any]:
        length = None
        while True:
            line = await asyncio.wait_for(self.reader.readline(), READ_TIMEOUT_S)
            assert line, "the server closed the connection"
            if line == b"\r\n":
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        assert length is not None
        message: dict[str, Any] = json.loads(await self.reader.readexactly(length))
        return message

    async def response(self, msg_id: Any) -> dict[str, Any]:
        """The response to ``msg_id`` (messages before it are kept in ``unsolicited``)."""
        while True:
            message = await self.read()
            if message.get("id") == msg_id and "method" not in message:
                return message
            if "method" in message and "id" in message:  # a request from the server: answer it
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            self.unsolicited.append(message)

    async def call(self, method: str, params: Any = None, *, omit_params: bool = False) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self._next_id, "method": method}
        if not omit_params:
            message["params"] = params
        self.send(message)
        return await self.response(self._next_id)

    async def initialize(self, env: Env, process_id: int | None = None, **options: Any) -> dict[str, Any]:
        """``initialize`` (then ``initialized`` if it succeeded); returns the response."""
        answer = await self.call(
            "initialize",
            {
                "processId": os.getpid() if process_id is None else process_id,
                "rootUri": env.workspace.as_uri(),
                "capabilities": {},
                "initializationOptions": options or None,
            },
        )
        if "result" in answer:
            self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        return answer
