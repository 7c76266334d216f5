"""``groundhog doctor``: what a user runs when something is wrong.

It reports the versions, where the server was imported from, the store and config directories and
the master key with their owners and modes, the workspace it would use and whether that has a store,
which editors and agents are set up to start Groundhog, and the last errors and warnings of the
server's log (``--log-file``: the file given to ``serve``/``mcp``, read only from its end, only when
it is ours); then every problem with its fix in one sentence (exit 1 if there is any). It judges the
files by the rules the server applies when it opens them (``groundhog.store.paths``:
``check_ancestors`` itself, and the same ownership and mode rules) and never writes anything: no
directory, no key, no store, no mode change. (Over ~400 lines on purpose: every check sits beside
its one-sentence fix, in one place with the rules it mirrors.)
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import importlib.metadata
import logging
import os
import platform
import pwd
import re
import shutil
import sqlite3
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from groundhog import __version__, doctor_settings
from groundhog.config import ROTATE_TOKEN, TOKEN_FILE
from groundhog.errors import ContextError
from groundhog.flags import add_flags, given
from groundhog.settings import Settings
from groundhog.store import keys
from groundhog.store.keys import KEY_BYTES, MASTER_KEY_FILE
from groundhog.store.members import MEMBER_KEY_FILE, ROTATE_MEMBER
from groundhog.store.paths import (
    DIR_MODE,
    FILE_MODE,
    StoreLocation,
    check_ancestors,
    secret_problem,
    unsafe_ancestor,
)
from groundhog.userconfig import ConfigFile, read_config
from groundhog.workspace import (
    platform_config_dir,
    platform_store_dir,
    shared_identity,
    shared_workspace_id,
)

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
STORE_FILE_SUFFIXES = ("-wal", "-shm", "-journal")  # what SQLite may leave beside store.db
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


@dataclass
class Findings:
    problems: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)

    def problem(self, subject: str, problem: str, fix: str) -> None:
        self.problems.append({"subject": subject, "problem": problem, "fix": fix})

    def note(self, subject: str, note: str) -> None:
        self.notes.append({"subject": subject, "note": note})


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
    found = Findings()
    root = os.path.abspath(workspace)
    with _quiet_paths_log():
        versions = _versions(found)
        server = _server(found)
        settings_report, chosen = doctor_settings.settings_report(root, flags or {}, found.problem)
        sources = {item["name"]: item["from"] for item in settings_report["settings"]}
        store = _store_dir(chosen.store_dir, sources["store_dir"])
        config = _config_dir(chosen.key_dir, sources["key_dir"], found)
        workspace_report = _workspace(workspace, Path(store["path"]), found)
        key = _master_key(Path(config["path"]), Path(store["path"]), workspace_report, found)
        _token(Path(config["path"]), found)
        shared = _shared_store(workspace, chosen, Path(config["path"]), found)
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


def _versions(found: Findings) -> dict[str, str | None]:
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


def _server(found: Findings) -> dict[str, str | None]:
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


def _store_dir(chosen: str | None, origin: str) -> dict[str, Any]:
    path = Path(chosen) if chosen else platform_store_dir()
    return {**_describe(Path(os.path.abspath(path))), "from": origin}


def _config_dir(chosen: str | None, origin: str, found: Findings) -> dict[str, Any]:
    path = Path(os.path.abspath(chosen or platform_config_dir()))
    described = {**_describe(path), "from": origin}
    _judge_dir(path, "The key directory", "config dir", "GROUNDHOG_CONFIG_DIR", found)
    return described


def _workspace(workspace: str, store_dir: Path, found: Findings) -> dict[str, Any]:
    root = os.path.abspath(workspace)
    location = StoreLocation.for_root(root, store_dir)
    if not os.path.isdir(root):
        found.problem(
            "workspace",
            f"The workspace {root} is not a directory.",
            "Run `groundhog doctor` in your project, or pass `--workspace PATH`.",
        )
    _judge_dir(location.directory, "The store directory", "store", "GROUNDHOG_HOME", found)
    database = _describe(location.database)
    if database["exists"]:
        _judge_file(location.database, "The store file", "store", found)
    for suffix in STORE_FILE_SUFFIXES:
        extra = Path(str(location.database) + suffix)
        if os.path.lexists(extra):
            _judge_file(extra, "A store file", "store", found)
    _set_aside(location.directory, location.database.name, found)
    return {
        "root": root,
        "uri": location.workspace_root,
        "id": location.workspace_id,
        "store": {
            **database,
            "directory": str(location.directory),
            "exists": bool(database["exists"]),
        },
    }


def _set_aside(directory: Path, database: str, found: Findings) -> None:
    """A damaged store file a server set aside and salvaged (store/salvage.py) is a problem until
    the user has seen what was lost and discarded it."""
    with contextlib.suppress(OSError):
        for entry in sorted(os.listdir(directory)):
            if entry.startswith(f"{database}.damaged-") and not entry.endswith(("-wal", "-shm", "-journal")):
                found.problem(
                    "store",
                    f"The workspace's store file was damaged and salvaged; the damaged file is kept as "
                    f"{directory / entry}.",
                    "Run `groundhog verify` to see what was kept and lost, then `groundhog verify "
                    "--discard-damaged` to delete the damaged file once you no longer need it.",
                )


def _master_key(
    config_dir: Path, store_dir: Path, workspace: dict[str, Any], found: Findings
) -> dict[str, Any]:
    path = config_dir / MASTER_KEY_FILE
    described = _describe(path)
    if not described["exists"]:
        stores = _count_stores(store_dir)
        if stores:
            found.problem(
                "master key",
                f"The master key file {path} is missing, so the {stores} store(s) under {store_dir} "
                "cannot be read.",
                "Restore master.key from a backup into that directory (a new key reads nothing), or set "
                "GROUNDHOG_CONFIG_DIR to the directory that holds it.",
            )
        else:
            found.note("master key", "No master key yet: the server creates one (0600) on first use.")
        return described
    if _judge_file(path, "The master key file", "master key", found, keys.ROTATE_MASTER):
        _check_key_content(path, found)
    return described


def _shared_store(
    workspace: str, chosen: Settings, config_dir: Path, found: Findings
) -> dict[str, Any] | None:
    """With a shared store chosen (its URL checked by the settings already): the database (without
    its password), the name this folder has there, and whether this machine holds that workspace's
    key. Never connects."""
    url = chosen.store_url
    if not url:
        return None
    from groundhog.store.postgres import describe_url

    identity = shared_identity(os.path.abspath(workspace), chosen.workspace_id)
    workspace_id = shared_workspace_id(os.path.abspath(workspace), chosen.workspace_id)
    key_path = keys.workspace_key_path(config_dir, workspace_id)
    in_env = bool(os.environ.get(keys.WORKSPACE_KEY_ENV))
    report = {
        "url": describe_url(url),
        "workspaceId": workspace_id,
        "namedBy": identity.split(":", 1)[0],  # git (remote + path), id (explicit) or path (this machine)
        "key": "environment" if in_env else _describe(key_path),
    }
    if identity.startswith("path:"):
        found.note(
            "shared store",
            "This folder has no git remote, so its workspace is this machine's alone; set "
            "GROUNDHOG_WORKSPACE_ID (or --workspace-id) to share it.",
        )
    member_path = config_dir / MEMBER_KEY_FILE
    report["memberKey"] = _describe(member_path)
    if member_path.exists() or member_path.is_symlink():
        _judge_file(member_path, "The member key file", "shared store", found, ROTATE_MEMBER)
    if not in_env and not key_path.exists():
        found.note(
            "shared store",
            "This machine has no shared key for the workspace: the first server to open it makes it a "
            "member; to join one a teammate made, run `groundhog key show-public` and have a member run "
            "`groundhog members add NAME <that line>` (a workspace with one shared key: `groundhog key "
            "import` with the line `groundhog key export` prints).",
        )
    elif not in_env:
        _judge_file(key_path, "The workspace key file", "shared store", found, keys.ROTATE_WORKSPACE)
    return report


def _check_key_content(path: Path, found: Findings) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        found.problem(
            "master key",
            f"The master key file cannot be read ({error.strerror}).",
            f"Make {path} readable by you (`chmod 600`).",
        )
        return
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return  # already reported by _judge_file
        raw = handle.read(4096)
    try:
        valid = len(base64.b64decode(raw.strip(), validate=True)) == KEY_BYTES
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        found.problem(
            "master key",
            "The master key file is damaged (not a base64 key of the right length).",
            "Restore master.key from a backup; without the original key the stores cannot be read.",
        )


def _token(config_dir: Path, found: Findings) -> None:
    path = config_dir / TOKEN_FILE
    if os.path.lexists(path):
        _judge_file(path, "The transport token file", "transport token", found, ROTATE_TOKEN)


def _count_stores(store_dir: Path) -> int:
    try:
        return sum(1 for _ in os.scandir(store_dir / "workspaces"))
    except OSError:
        return 0


def _judge_dir(path: Path, what: str, subject: str, variable: str, found: Findings) -> bool:
    """What ``ensure_private_dir`` would say about ``path``, without creating or tightening it.
    True when the server would use it."""
    try:
        check_ancestors(path, what)  # the server's own check; it only reads
    except ContextError as error:
        found.problem(subject, error.message, _ancestor_fix(path, variable))
        return False
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return True  # created on first use, under ancestors that passed
    except OSError as error:
        found.problem(
            subject, f"{what} cannot be examined ({error.strerror}).", f"Check the permissions of {path}."
        )
        return False
    if stat.S_ISLNK(info.st_mode):
        found.problem(
            subject,
            f"{what} is a symbolic link; the server refuses to follow it.",
            f"Replace {path} with a real directory, or set {variable} to where the link points.",
        )
        return False
    if not stat.S_ISDIR(info.st_mode):
        found.problem(
            subject,
            f"{what} path is not a directory.",
            f"Move {path} out of the way; the server creates the directory on first use.",
        )
        return False
    if info.st_uid != os.geteuid():
        found.problem(
            subject, f"{what} belongs to another user ({_owner(info.st_uid)}).", _foreign_fix(path, variable)
        )
        return False
    if stat.S_IMODE(info.st_mode) != DIR_MODE:
        found.note(
            subject,
            f"{path} has mode {stat.S_IMODE(info.st_mode):04o}; the server sets it to {DIR_MODE:04o} "
            "when it next opens it.",
        )
    return True


def _judge_file(path: Path, what: str, subject: str, found: Findings, rotate: str | None = None) -> bool:
    """What ``ensure_private_file`` / ``check_private_file`` would say about the existing ``path``,
    without tightening its mode. True when the server would trust it. ``rotate``: a secret (a key,
    a token), which the server refuses when others may read it, and how to replace it."""
    try:
        info = os.lstat(path)
    except OSError as error:
        found.problem(
            subject, f"{what} cannot be examined ({error.strerror}).", f"Check the permissions of {path}."
        )
        return False
    if stat.S_ISLNK(info.st_mode):
        found.problem(
            subject,
            f"{what} is a symbolic link; the server refuses to follow it.",
            f"Replace the link {path} with the file itself.",
        )
        return False
    if not stat.S_ISREG(info.st_mode):
        found.problem(subject, f"{what} is not a regular file.", f"Move {path} out of the way.")
        return False
    if info.st_uid != os.geteuid():
        found.problem(
            subject,
            f"{what} belongs to another user ({_owner(info.st_uid)}); the server refuses to use it.",
            f"If it is really yours, `chown {_me()} {path}`; otherwise move it away (a key or store "
            "someone else left cannot be trusted).",
        )
        return False
    mode = stat.S_IMODE(info.st_mode)
    problem = secret_problem(mode) if rotate is not None else None
    if problem is not None:
        found.problem(
            subject,
            f"{what} is {problem} by other users (mode {mode:04o}), so it may have been copied; the "
            "server refuses it.",
            f"Rotate it ({rotate}); the file is {path}.",
        )
        return False
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        found.problem(
            subject,
            f"{what} is writable by other users (mode {mode:04o}); the server refuses to trust it.",
            f"Run `chmod 600 {path}` once you are sure nobody else changed it.",
        )
        return False
    if mode != FILE_MODE:
        found.note(
            subject,
            f"{path} has mode {mode:04o}; the server sets it to {FILE_MODE:04o} when it next opens it.",
        )
    return True


def _ancestor_fix(path: Path, variable: str) -> str:
    found = unsafe_ancestor(path)
    if found is None:
        return f"Set {variable} to a directory of your own."
    parent, info, reason = found
    if reason == "foreign":
        return (
            f"{parent} belongs to {_owner(info.st_uid)}: set {variable} to a directory of your own "
            "(or have that directory given to you)."
        )
    return f"Run `chmod o-w {parent}` (or `chmod +t` it), or set {variable} to a directory of your own."


def _foreign_fix(path: Path, variable: str) -> str:
    return (
        f"If its content is yours, `chown -R {_me()} {path}`; otherwise move it away or set {variable} "
        "to a directory of your own."
    )


def _describe(path: Path) -> dict[str, Any]:
    try:
        info = os.lstat(path)
    except OSError:
        return {"path": str(path), "exists": False, "kind": None, "owner": None, "uid": None, "mode": None}
    kind = (
        "symlink"
        if stat.S_ISLNK(info.st_mode)
        else "directory"
        if stat.S_ISDIR(info.st_mode)
        else "file"
        if stat.S_ISREG(info.st_mode)
        else "other"
    )
    return {
        "path": str(path),
        "exists": True,
        "kind": kind,
        "owner": _name(info.st_uid),
        "uid": info.st_uid,
        "mode": f"{stat.S_IMODE(info.st_mode):04o}",
    }


def _name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _owner(uid: int) -> str:
    return f"{_name(uid)}, uid {uid}"


def _me() -> str:
    return _name(os.geteuid())


@contextlib.contextmanager
def _quiet_paths_log() -> Iterator[None]:
    """check_ancestors logs each refusal with its path (for the server's log); the report says it."""
    logger = logging.getLogger("groundhog.store.paths")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


# -- the server's log ----------------------------------------------------------------------------


def _log(option: str | None, found: Findings) -> dict[str, Any]:
    """The last errors and warnings of the log file, judged first as the server judges it when it
    opens it (``check_private_file``: ours, regular, not writable by others): no one else's file is
    read, and the open file is checked again."""
    if option is None:
        return {"path": None, "exists": False, "entries": []}
    path = Path(os.path.abspath(option))
    described: dict[str, Any] = {**_describe(path), "entries": []}
    if not described["exists"]:
        found.note("log", f"The log file {path} does not exist (yet): the server creates it with --log-file.")
        return described
    if _judge_file(path, "The log file", "log", found):
        described["entries"] = _log_tail(path, found)
    return described


def _log_tail(path: Path, found: Findings) -> list[str]:
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


def _clients(workspace: Path, found: Findings) -> list[dict[str, str]]:
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
