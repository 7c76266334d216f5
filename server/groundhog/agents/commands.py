"""The command line of the agents' integration: ``groundhog hook <agent> <event>`` (run by the
agent; fails open), ``groundhog hook install|uninstall claude-code [--project [DIR]]``, and
``groundhog agent-sessions [list | restore ID | capture on|off]``. Wired into ``cli.py`` by
``add_commands``. A hook imports only what it needs: it runs at every session start."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from groundhog.flags import add_flags, given
from groundhog.limits import DEFAULT_HOOK_TIMEOUT_S, HOOK_TIMEOUT_S_RANGE

MAX_INPUT_BYTES = 16 << 20


def add_commands(commands: Any) -> None:
    hook = commands.add_parser(
        "hook",
        help="run an agent hook (stdin: the agent's hook JSON), or install / uninstall the hooks",
        allow_abbrev=False,
    )
    hook.add_argument("agent", help="claude-code | codex | gemini | cursor, or install | uninstall")
    hook.add_argument(
        "event", help="the agent's event name (SessionStart, Stop, ...), or the agent to install"
    )
    hook.add_argument("payload", nargs="?", help="the hook JSON as an argument (Codex's notify), else stdin")
    add_flags(hook, "hook")  # --brief-max-bytes (settings.py)
    hook.add_argument("--timeout", type=float, default=DEFAULT_HOOK_TIMEOUT_S, metavar="SECONDS")
    hook.add_argument(
        "--project", nargs="?", const=".", default=None, metavar="DIR", help="install: the project's settings"
    )
    hook.set_defaults(run=_hook)

    sessions = commands.add_parser(
        "agent-sessions", help="agent sessions captured in this workspace's store", allow_abbrev=False
    )
    sessions.add_argument("action", nargs="?", default="list", choices=["list", "restore", "capture"])
    sessions.add_argument("target", nargs="?", help="restore: the session id; capture: on | off")
    sessions.add_argument(
        "--agent", default=None, help="restore: the agent (default: the one that has the id)"
    )
    sessions.add_argument("--workspace", default=".", help="the workspace root (default: .)")
    sessions.add_argument("--force", action="store_true", help="restore: replace an existing session file")
    sessions.add_argument(
        "--to",
        metavar="DIR",
        default=None,
        help="restore: the checkout to continue in (default: the workspace)",
    )
    sessions.add_argument("--json", action="store_true", help="print JSON for scripts")
    sessions.set_defaults(run=_agent_sessions)


def _hook(args: argparse.Namespace) -> int:
    if args.agent in ("install", "uninstall"):
        return _install(args)
    from groundhog.agents import run

    return run.main(args.agent, args.event, given(args, "hook"), _timeout(args), args.payload)


def _timeout(args: argparse.Namespace) -> float:
    low, high = HOOK_TIMEOUT_S_RANGE
    value = float(args.timeout)
    return value if low <= value <= high else DEFAULT_HOOK_TIMEOUT_S


def _install(args: argparse.Namespace) -> int:
    from groundhog.agents import install

    if args.event != "claude-code":
        print(
            f"groundhog: {args.agent} knows claude-code only (other agents: docs/agents.md)", file=sys.stderr
        )
        return 2
    path = install.settings_path(args.project)
    shared = args.project is not None
    changes = install.install(path, shared=shared) if args.agent == "install" else install.uninstall(path)
    for change in changes:
        print(f"{path}: {change}")
    if not changes:
        print(f"{path}: nothing to change")
    return 0


def _agent_sessions(args: argparse.Namespace) -> int:
    from groundhog.agents import sessions_cli

    return sessions_cli.run(args)


def watchdog(seconds: float, on_timeout: Any) -> threading.Timer:
    """A timer that ends the process if the hook has not answered in time (a store that hangs)."""
    timer = threading.Timer(seconds, on_timeout)
    timer.daemon = True
    timer.start()
    return timer
