"""The ``groundhog`` command: ``serve`` for editors, ``mcp`` for agents, read-only views of a workspace
for people (``status``, ``contexts``, ``log``, ``show``, ``verify``, ``audit``) and ``doctor`` for when
something is wrong, each of those with ``--json``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from groundhog import __version__
from groundhog.config import open_log_file, transport_token
from groundhog.errors import ContextError
from groundhog.flags import add_flags, given
from groundhog.settings import DEFAULTS, Settings
from groundhog.userconfig import resolve

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
    from groundhog import configure, doctor, people, sharing, team
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
    add_flags(serve, "serve")
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
    add_flags(mcp, "mcp")
    mcp.set_defaults(run=_mcp)

    people.add_commands(commands)
    sharing.add_commands(commands)
    team.add_commands(commands)
    doctor.add_command(commands)
    agents.add_commands(commands)
    configure.add_commands(commands)
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
            token=token, allowed_roots=tuple(args.allow_workspace), flags=given(args, "serve")
        )

    limit = _process_settings(args).max_message_bytes
    if endpoint is None:
        return serve_stdio(make_server, limit)
    host, _, port = endpoint.rpartition(":")
    host = host or "127.0.0.1"
    if args.tcp:
        return serve_tcp(make_server, host, int(port), limit, args.auth_timeout)
    return serve_ws(make_server, host, int(port), limit, args.auth_timeout)


def _mcp(args: argparse.Namespace) -> int:
    from groundhog.mcp.server import McpSettings, serve
    from groundhog.memory import keep_large_buffers_on_the_heap

    keep_large_buffers_on_the_heap()

    workspace = os.path.abspath(os.path.expanduser(args.workspace)) if args.workspace else None
    settings = McpSettings(workspace=workspace, flags=given(args, "mcp"))
    return serve(settings)


def _process_settings(args: argparse.Namespace) -> Settings:
    """The settings of the server process itself (log, message size): its flags over the user's
    configuration and environment. A configuration every session would refuse is said to the client
    when its session opens; the process itself starts on its flags and the defaults."""
    flags = given(args, args.command)
    try:
        return resolve(flags=flags).settings
    except ContextError:
        return DEFAULTS.with_values(flags)


def _configure_logging(args: argparse.Namespace) -> None:
    """Log to stderr (and the log file) at the level the flags, the environment or the user's
    configuration file say; never to stdout."""
    chosen = _process_settings(args) if args.command in ("serve", "mcp") else None
    level = getattr(logging, (chosen.log_level if chosen else "warning").upper())
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if chosen is not None and chosen.log_file:
        handlers.append(logging.StreamHandler(open_log_file(Path(chosen.log_file))))
    logging.basicConfig(
        level=level, handlers=handlers, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # pygls logs params and error messages, which carry user data: keep it quiet.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
