"""The ``groundhog`` command: ``serve`` for editors, ``mcp`` for agents, read-only views of a workspace
for people (``status``, ``contexts``, ``log``, ``show``, ``verify``, ``audit``) and ``doctor`` for when
something is wrong, each of those with ``--json``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from groundhog import __version__
from groundhog.config import open_log_file, transport_token
from groundhog.errors import ContextError
from groundhog.limits import (
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_SNAPSHOT_MAX_BYTES,
    HISTORY_LIMIT_RANGE,
    SNAPSHOT_MAX_BYTES_RANGE,
    within,
)

STORE_HELP = (
    "a shared PostgreSQL store, postgresql://user@host/db (default: GROUNDHOG_STORE_URL, else SQLite)"
)
WORKSPACE_ID_HELP = "the workspace's name in a shared store (default: its repository's remote and path)"
QUIET_LOGGERS = (
    "pygls",
    "pygls.protocol",
    "pygls.server",
    "pygls.feature_manager",
    "websockets",
    "mcp",  # the MCP SDK logs tool arguments and failures, which carry user data
)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        _configure_logging(args)
        result: int = args.run(args)
        return result
    except ContextError as error:
        print(f"groundhog: {error.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # never a traceback for a person: one line, the details at debug level
        logging.getLogger(__name__).debug("the command failed", exc_info=True)
        print(
            f"groundhog: the command failed ({type(error).__name__}); if the store is damaged, "
            "'groundhog verify' says where (details with --log-level debug).",
            file=sys.stderr,
        )
        return 1


def _parser() -> argparse.ArgumentParser:
    from groundhog import doctor, people, sharing
    from groundhog.agents import commands as agents

    # no abbreviations: `--store` must not silently mean `--store-dir`
    parser = argparse.ArgumentParser(
        prog="groundhog", description="Groundhog context server.", allow_abbrev=False
    )
    parser.add_argument("--version", action="version", version=f"groundhog {__version__}")
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the LSP server (stdio by default)", allow_abbrev=False)
    transport = serve.add_mutually_exclusive_group()
    transport.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP (loopback by default)")
    transport.add_argument("--ws", metavar="HOST:PORT", help="listen on WebSocket")
    transport.add_argument(
        "--stdio",
        action="store_true",
        help="serve over stdin/stdout (the default; accepted because clients pass it)",
    )
    serve.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--log-file", help="also log to this file (logs never go to stdout)")
    serve.add_argument("--store-dir", help="where workspace stores live (default: GROUNDHOG_HOME)")
    serve.add_argument("--store", metavar="URL", type=sharing.store_url, help=STORE_HELP)
    serve.add_argument("--max-message-bytes", type=int, default=64 * 1024 * 1024)
    serve.add_argument(
        "--auth-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="TCP / WebSocket: close a connection that has not authenticated within this time",
    )
    serve.add_argument(
        "--allow-workspace",
        action="append",
        default=[],
        metavar="PATH",
        help="only serve these workspaces (repeatable)",
    )
    serve.set_defaults(run=_serve)

    mcp = commands.add_parser("mcp", help="run the MCP server for agents (stdio)", allow_abbrev=False)
    mcp.add_argument("--workspace", metavar="PATH", help="default: the client's first root, else the cwd")
    mcp.add_argument("--read-only", action="store_true", help="refuse every write (AccessDenied, audited)")
    mcp.add_argument("--context", metavar="NAME", help="start in this context (default: the last active)")
    mcp.add_argument(
        "--max-result-bytes", type=_positive, default=65536, metavar="N", help="cap on a tool result's JSON"
    )
    mcp.add_argument(
        "--history-limit",
        type=_in_range(HISTORY_LIMIT_RANGE),
        default=DEFAULT_HISTORY_LIMIT,
        metavar="N",
        help=f"versions kept per context, as the editors' historyLimit (default {DEFAULT_HISTORY_LIMIT})",
    )
    mcp.add_argument(
        "--snapshot-max-bytes",
        type=_in_range(SNAPSHOT_MAX_BYTES_RANGE),
        default=DEFAULT_SNAPSHOT_MAX_BYTES,
        metavar="N",
        help="largest state an update or snapshot may make, as the editors' snapshotMaxBytes "
        f"(default {DEFAULT_SNAPSHOT_MAX_BYTES})",
    )
    mcp.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    mcp.add_argument("--log-file", help="also log to this file (logs never go to stdout)")
    mcp.add_argument("--store-dir", help="where workspace stores live (default: GROUNDHOG_HOME)")
    mcp.add_argument("--store", metavar="URL", type=sharing.store_url, help=STORE_HELP)
    mcp.add_argument("--workspace-id", metavar="ID", help=WORKSPACE_ID_HELP)
    mcp.set_defaults(run=_mcp)

    people.add_commands(commands)
    sharing.add_commands(commands)
    doctor.add_command(commands)
    agents.add_commands(commands)
    return parser


def _serve(args: argparse.Namespace) -> int:
    # pygls and lsprotocol are imported only here: the people CLI and `mcp` never pay for them
    from groundhog.lsp.server import GroundhogServer
    from groundhog.lsp.transport import serve_stdio, serve_tcp, serve_ws
    from groundhog.memory import keep_large_buffers_on_the_heap

    keep_large_buffers_on_the_heap()

    endpoint = args.tcp or args.ws
    token = transport_token() if endpoint else None

    def make_server() -> GroundhogServer:
        return GroundhogServer(
            token=token,
            allowed_roots=tuple(args.allow_workspace),
            store_dir=args.store_dir,
            store_url=args.store,
        )

    if endpoint is None:
        return serve_stdio(make_server, args.max_message_bytes)
    host, _, port = endpoint.rpartition(":")
    host = host or "127.0.0.1"
    if args.tcp:
        return serve_tcp(make_server, host, int(port), args.max_message_bytes, args.auth_timeout)
    return serve_ws(make_server, host, int(port), args.max_message_bytes, args.auth_timeout)


def _mcp(args: argparse.Namespace) -> int:
    from groundhog.mcp.server import McpSettings, serve
    from groundhog.memory import keep_large_buffers_on_the_heap
    from groundhog.names import validate_name

    keep_large_buffers_on_the_heap()

    if args.context is not None:
        validate_name(args.context, "--context")
    workspace = os.path.abspath(os.path.expanduser(args.workspace)) if args.workspace else None
    settings = McpSettings(
        workspace=workspace,
        read_only=args.read_only,
        context=args.context,
        max_result_bytes=args.max_result_bytes,
        store_dir=args.store_dir,
        store_url=args.store,
        workspace_id=args.workspace_id,
        history_limit=args.history_limit,
        snapshot_max_bytes=args.snapshot_max_bytes,
    )
    return serve(settings)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1024:
        raise argparse.ArgumentTypeError("must be at least 1024")
    return value


def _in_range(bounds: tuple[int, int]) -> Callable[[str], int]:
    """An argparse type: an integer within ``bounds`` (the rule the initialization options follow)."""

    def parse(text: str) -> int:
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        if value is None or not within(value, bounds):
            raise argparse.ArgumentTypeError(f"must be an integer from {bounds[0]} to {bounds[1]}")
        return value

    return parse


def _configure_logging(args: argparse.Namespace) -> None:
    level = getattr(logging, str(getattr(args, "log_level", "warning")).upper())
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if getattr(args, "log_file", None):
        handlers.append(logging.StreamHandler(open_log_file(Path(args.log_file))))
    logging.basicConfig(
        level=level, handlers=handlers, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # pygls logs params and error messages, which carry user data: keep it quiet.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
