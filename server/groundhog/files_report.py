"""The store's, keys' and token's files judged by the rules the server applies when it opens them
(store/paths.py: ``check_ancestors`` itself, and the same ownership and mode rules), for ``groundhog
doctor``: read only, never creating or tightening anything. Each check sits beside its one-sentence fix."""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import pwd
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundhog.config import ROTATE_TOKEN, TOKEN_FILE
from groundhog.errors import ContextError
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
from groundhog.workspace import platform_config_dir, platform_store_dir, shared_identity, shared_workspace_id

STORE_FILE_SUFFIXES = ("-wal", "-shm", "-journal")  # what SQLite may leave beside store.db


@dataclass
class Findings:
    problems: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)

    def problem(self, subject: str, problem: str, fix: str) -> None:
        self.problems.append({"subject": subject, "problem": problem, "fix": fix})

    def note(self, subject: str, note: str) -> None:
        self.notes.append({"subject": subject, "note": note})


def store_dir_report(chosen: str | None, origin: str) -> dict[str, Any]:
    path = Path(chosen) if chosen else platform_store_dir()
    return {**describe(Path(os.path.abspath(path))), "from": origin}


def config_dir_report(chosen: str | None, origin: str, found: Findings) -> dict[str, Any]:
    path = Path(os.path.abspath(chosen or platform_config_dir()))
    described = {**describe(path), "from": origin}
    _judge_dir(path, "The key directory", "config dir", "GROUNDHOG_CONFIG_DIR", found)
    return described


def workspace_report(workspace: str, store_dir: Path, found: Findings) -> dict[str, Any]:
    root = os.path.abspath(workspace)
    location = StoreLocation.for_root(root, store_dir)
    if not os.path.isdir(root):
        found.problem(
            "workspace",
            f"The workspace {root} is not a directory.",
            "Run `groundhog doctor` in your project, or pass `--workspace PATH`.",
        )
    _judge_dir(location.directory, "The store directory", "store", "GROUNDHOG_HOME", found)
    database = describe(location.database)
    if database["exists"]:
        judge_file(location.database, "The store file", "store", found)
    for suffix in STORE_FILE_SUFFIXES:
        extra = Path(str(location.database) + suffix)
        if os.path.lexists(extra):
            judge_file(extra, "A store file", "store", found)
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


def master_key_report(
    config_dir: Path, store_dir: Path, workspace: dict[str, Any], found: Findings
) -> dict[str, Any]:
    path = config_dir / MASTER_KEY_FILE
    described = describe(path)
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
    if judge_file(path, "The master key file", "master key", found, keys.ROTATE_MASTER):
        _check_key_content(path, found)
    return described


def shared_store_report(
    workspace: str, chosen: Settings, config_dir: Path, found: Findings
) -> dict[str, Any] | None:
    """With a shared store chosen (its URL checked by the settings already): the database (without
    its password), the name this folder has there, and whether this machine holds that workspace's
    key. Never connects."""
    url = chosen.store_url
    if not url:
        return None
    from groundhog.store.pgdatabase import describe_url

    identity = shared_identity(os.path.abspath(workspace), chosen.workspace_id)
    workspace_id = shared_workspace_id(os.path.abspath(workspace), chosen.workspace_id)
    key_path = keys.workspace_key_path(config_dir, workspace_id)
    in_env = bool(os.environ.get(keys.WORKSPACE_KEY_ENV))
    report = {
        "url": describe_url(url),
        "workspaceId": workspace_id,
        "namedBy": identity.split(":", 1)[0],  # git (remote + path), id (explicit) or path (this machine)
        "key": "environment" if in_env else describe(key_path),
    }
    if identity.startswith("path:"):
        found.note(
            "shared store",
            "This folder has no git remote, so its workspace is this machine's alone; set "
            "GROUNDHOG_WORKSPACE_ID (or --workspace-id) to share it.",
        )
    member_path = config_dir / MEMBER_KEY_FILE
    report["memberKey"] = describe(member_path)
    if member_path.exists() or member_path.is_symlink():
        judge_file(member_path, "The member key file", "shared store", found, ROTATE_MEMBER)
    if not in_env and not key_path.exists():
        found.note(
            "shared store",
            "This machine has no shared key for the workspace: the first server to open it makes it a "
            "member; to join one a teammate made, run `groundhog key show-public` and have a member run "
            "`groundhog members add NAME <that line>` (a workspace with one shared key: `groundhog key "
            "import` with the line `groundhog key export` prints).",
        )
    elif not in_env:
        judge_file(key_path, "The workspace key file", "shared store", found, keys.ROTATE_WORKSPACE)
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


def token_report(config_dir: Path, found: Findings) -> None:
    path = config_dir / TOKEN_FILE
    if os.path.lexists(path):
        judge_file(path, "The transport token file", "transport token", found, ROTATE_TOKEN)


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


def judge_file(path: Path, what: str, subject: str, found: Findings, rotate: str | None = None) -> bool:
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


def describe(path: Path) -> dict[str, Any]:
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
def quiet_paths_log() -> Iterator[None]:
    """check_ancestors logs each refusal with its path (for the server's log); the report says it."""
    logger = logging.getLogger("groundhog.store.paths")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)
