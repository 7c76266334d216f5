"""``groundhog doctor``: what a user runs when something is wrong.

It reports the versions, where the server was imported from, the store and config directories and
the master key with their owners and modes, the workspace it would use and whether that has a store,
which editors and agents are set up to start Groundhog, and the last errors and warnings of the
server's log (``--log-file``: the file given to ``serve``/``mcp``, read only from its end, only when
it is ours); then every problem with its fix in one sentence (exit 1 if there is any). The files
are judged by ``groundhog.files_report`` (the server's own rules) and the settings and agents' set-ups
by ``groundhog.doctor_settings``; nothing is ever written: no directory, no key, no store, no mode
change.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import platform
import re
import shutil
import sqlite3
import stat
import sys
from pathlib import Path
from typing import Any

import orjson

from groundhog import __version__, doctor_settings
from groundhog import files_report as files
from groundhog.errors import ContextError
from groundhog.flags import add_flags, given
from groundhog.userconfig import ConfigFile, read_config

DEPENDENCIES = (
    "pygls",
    "lsprotocol",
    "mcp",
    "cryptography",
    "pydantic",
    "orjson",
    "platformdirs",
    "websockets",
)
LOG_TAIL_BYTES = 64 * 1024  # how much of the log's end is read: never the whole file
LOG_ENTRIES = 10  # the last this many errors and warnings are shown
LOG_PROBLEM = re.compile(r"^\S+ \S+ (?:WARNING|ERROR|CRITICAL) ")  # cli.py's "%(asctime)s %(levelname)s"
REINSTALL = (
    "Reinstall Groundhog (`pipx reinstall groundhog`, `pip install --force-reinstall groundhog`, "
    "or `make install` in a checkout)."
)


def add_command(commands: Any) -> None:
    """Register ``doctor`` on the ``groundhog`` command's subparsers (as ``people.add_commands`` does)."""
    parser = commands.add_parser(
        "doctor",
        help="check the installation, the store and key files and the workspace; exit 1 on any problem",
        allow_abbrev=False,
    )
    parser.add_argument("--workspace", default=".", help="the workspace root (default: .)")
    add_flags(parser, "doctor")
    parser.add_argument(
        "--log-file",
        dest="server_log_file",  # not log_file: the CLI would open that to write its own log
        help="the server's log file (its --log-file): show its last errors and warnings",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    report = diagnose(str(args.workspace), given(args, "doctor"), args.server_log_file)
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print(report)
    return 0 if report["ok"] else 1


def diagnose(
    workspace: str, flags: dict[str, Any] | None = None, log_file: str | None = None
) -> dict[str, Any]:
    """The whole report as JSON-ready data; reads only. ``flags``: settings given on the command
    line (``store_dir``, ``key_dir``, ``store_url``, ``workspace_id``) over the user's own."""
    found = files.Findings()
    root = os.path.abspath(workspace)
    with files.quiet_paths_log():
        versions = _versions(found)
        server = _server(found)
        settings_report, chosen = doctor_settings.settings_report(root, flags or {}, found.problem)
        sources = {item["name"]: item["from"] for item in settings_report["settings"]}
        store = files.store_dir_report(chosen.store_dir, sources["store_dir"])
        config = files.config_dir_report(chosen.key_dir, sources["key_dir"], found)
        workspace_report = files.workspace_report(workspace, Path(store["path"]), found)
        key = files.master_key_report(Path(config["path"]), Path(store["path"]), workspace_report, found)
        files.token_report(Path(config["path"]), found)
        shared = files.shared_store_report(workspace, chosen, Path(config["path"]), found)
        clients = _clients(Path(root), found)
        agents = doctor_settings.agent_environment(Path(root), _config_or_none(), found.problem)
        log = _log(log_file or chosen.log_file, found)
    return {
        "ok": not found.problems,
        "versions": versions,
        "server": server,
        "configFile": settings_report,
        "storeDir": store,
        "configDir": config,
        "masterKey": key,
        "workspace": workspace_report,
        "clients": clients,
        "agentEnvironment": agents,
        "log": log,
        "sharedStore": shared,
        "problems": found.problems,
        "notes": found.notes,
    }


def _config_or_none() -> ConfigFile | None:
    try:
        return read_config()
    except ContextError:  # already a problem of the report
        return None


# -- versions and the installation ----------------------------------------------------------------


def _versions(found: files.Findings) -> dict[str, str | None]:
    versions: dict[str, str | None] = {
        "groundhog": __version__,
        "groundhogInstalled": _distribution_version("groundhog"),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    for name in DEPENDENCIES:
        versions[name] = _distribution_version(name)
        if versions[name] is None:
            found.problem("installation", f"{name} is not installed, so Groundhog cannot start.", REINSTALL)
    installed = versions["groundhogInstalled"]
    if installed is not None and installed != __version__:
        found.problem(
            "installation",
            f"The installed package metadata says {installed} but the code imported is {__version__}.",
            REINSTALL,
        )
    return versions


def _distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _server(found: files.Findings) -> dict[str, str | None]:
    import groundhog

    command = shutil.which("groundhog")
    if command is None:
        found.note(
            "installation",
            "No `groundhog` command on PATH: editors and agents set up with the command `groundhog` "
            "will not find it; give them the full path, or install with pipx.",
        )
    return {
        "module": str(Path(groundhog.__file__).resolve().parent),
        "python": sys.executable,
        "command": command,
    }


# -- directories and files ------------------------------------------------------------------------


# -- the server's log ----------------------------------------------------------------------------


def _log(option: str | None, found: files.Findings) -> dict[str, Any]:
    """The last errors and warnings of the log file, judged first as the server judges it when it
    opens it (``check_private_file``: ours, regular, not writable by others): no one else's file is
    read, and the open file is checked again."""
    if option is None:
        return {"path": None, "exists": False, "entries": []}
    path = Path(os.path.abspath(option))
    described: dict[str, Any] = {**files.describe(path), "entries": []}
    if not described["exists"]:
        found.note("log", f"The log file {path} does not exist (yet): the server creates it with --log-file.")
        return described
    if files.judge_file(path, "The log file", "log", found):
        described["entries"] = _log_tail(path, found)
    return described


def _log_tail(path: Path, found: files.Findings) -> list[str]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        found.problem(
            "log", f"The log file cannot be read ({error.strerror}).", f"Check the permissions of {path}."
        )
        return []
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return []  # swapped since it was judged: not ours to read
        start = max(0, info.st_size - LOG_TAIL_BYTES)
        handle.seek(start)
        lines = handle.read(LOG_TAIL_BYTES).decode("utf-8", errors="replace").splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # the first one is cut
    return [line for line in lines if LOG_PROBLEM.match(line)][-LOG_ENTRIES:]


# -- editors and agents ---------------------------------------------------------------------------


def _clients(workspace: Path, found: files.Findings) -> list[dict[str, str]]:
    """Where Groundhog is set up to start: MCP configurations naming it, and the editor plugins.
    Only files known to the set-up sections of docs/editors.md and docs/agents.md are read, and only
    to look for "groundhog"."""
    home = Path.home()
    candidates = [
        ("Claude Code (project)", workspace / ".mcp.json"),
        ("VS Code agent (project)", workspace / ".vscode" / "mcp.json"),
        ("Cursor (project)", workspace / ".cursor" / "mcp.json"),
        ("mcphub.nvim (project)", workspace / ".mcphub" / "servers.json"),
        ("Claude Code (user)", home / ".claude.json"),
        ("Codex CLI", home / ".codex" / "config.toml"),
        ("Continue (user)", home / ".continue" / "config.yaml"),
        ("mcphub.nvim (user)", home / ".config" / "mcphub" / "servers.json"),
        ("Zed", home / ".config" / "zed" / "settings.json"),
        ("Helix", home / ".config" / "helix" / "languages.toml"),
    ]
    continue_dir = workspace / ".continue" / "mcpServers"
    with contextlib.suppress(OSError):
        candidates += [("Continue (project)", entry) for entry in sorted(continue_dir.iterdir())]
    clients: list[dict[str, str]] = []
    for name, path in candidates:
        if _mentions_groundhog(path):
            clients.append({"client": name, "where": str(path)})
    for name, directory in (
        ("VS Code extension", home / ".vscode" / "extensions"),
        ("VS Code extension (remote)", home / ".vscode-server" / "extensions"),
        ("code-server extension", home / ".local" / "share" / "code-server" / "extensions"),
        ("Neovim plugin (lazy.nvim)", home / ".local" / "share" / "nvim" / "lazy"),
    ):
        with contextlib.suppress(OSError):
            for entry in sorted(directory.iterdir()):
                if "groundhog" in entry.name.lower():
                    clients.append({"client": name, "where": str(entry)})
    if not clients:
        found.note(
            "clients",
            "No editor or agent configuration naming groundhog was found in the usual places "
            "(docs/editors.md and docs/agents.md have one step per editor and agent).",
        )
    return clients


def _mentions_groundhog(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return b"groundhog" in handle.read(1 << 20).lower()
    except OSError:
        return False


# -- the readable report --------------------------------------------------------------------------


def _print(report: dict[str, Any]) -> None:
    versions = report["versions"]
    server = report["server"]
    lines = [
        f"groundhog {versions['groundhog']}  (imported from {server['module']})",
        f"  python   {versions['python']}  {server['python']}",
        f"  command  {server['command'] or '- (not on PATH)'}",
        "  versions "
        + ", ".join(
            f"{name} {versions[name] or 'MISSING'}" for name in ("sqlite", "pygls", "lsprotocol", "mcp")
        ),
        f"config     {report['configFile']['path']}"
        + ("" if report["configFile"]["exists"] else "  (none: defaults and the environment)"),
        *(
            f"  {item['name']:<12} {item['value'] if item['value'] is not None else '-'}  ({item['from']})"
            for item in report["configFile"]["settings"]
        ),
        _place("store dir", report["storeDir"]),
        _place("config dir", report["configDir"]),
        _place("master key", report["masterKey"]),
        f"workspace  {report['workspace']['root']}",
        _place("  store", report["workspace"]["store"]),
    ]
    if report["clients"]:
        lines.append("set up in  " + "; ".join(f"{c['client']} ({c['where']})" for c in report["clients"]))
    shared = report["sharedStore"]
    if shared is not None and shared.get("workspaceId"):
        key = shared["key"]
        where = "GROUNDHOG_WORKSPACE_KEY" if key == "environment" else key["path"]
        lines.append(
            f"shared     {shared['url']} workspace {shared['workspaceId']} (named by {shared['namedBy']})"
        )
        lines.append(f"  key      {where}" + ("" if key == "environment" or key["exists"] else " (missing)"))
    log = report["log"]
    if log["path"] is None:
        lines.append("log        - (--log-file PATH shows the last errors of the server's log)")
    else:
        lines.append(_place("log", log))
        if log["entries"]:
            lines.append(f"  last errors and warnings ({len(log['entries'])}):")
            lines.extend(f"    {entry}" for entry in log["entries"])
        elif log["exists"]:
            lines.append("  no errors or warnings at its end")
    for note in report["notes"]:
        lines.append(f"note: {note['note']}")
    if report["problems"]:
        lines.append(f"{len(report['problems'])} problem(s):")
        for item in report["problems"]:
            lines.append(f"  - [{item['subject']}] {item['problem']}\n    fix: {item['fix']}")
    else:
        lines.append("no problems found")
    print("\n".join(lines))


def _place(label: str, place: dict[str, Any]) -> str:
    text = f"{label:<10} {place['path']}"
    if not place["exists"]:
        return text + "  (not there yet)"
    origin = f", from {place['from']}" if place.get("from") else ""
    return text + f"  ({place['owner']}, {place['mode']}{origin})"


__all__ = ["add_command", "diagnose", "run"]
