"""The user's configuration file, ``config.toml`` in the user config directory (``GROUNDHOG_CONFIG_DIR``
when set), and the resolution of every setting from its sources (settings.py says the order).

The file holds settings by their names at the top level, and a ``[workspace."<path>"]`` table per
workspace for what differs there (a workspace id, a store, limits)::

    store_url = "postgresql://me@db.internal/groundhog"
    history_limit = 5000

    [workspace."~/src/project"]
    workspace_id = "acme/project"

It is trusted like a key file (it decides which store and key a process uses): ours, not writable
by others, never through a symbolic link; it holds no secrets (a URL with a password is refused).
A setting that would choose a store (``store_dir``, ``key_dir``, ``store_url``, ``workspace_id``)
and is invalid stops the process with a sentence naming it: silently using another store is the
failure this file exists to prevent. Other invalid values are reported and left at their default.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from groundhog.errors import AccessDenied, InvalidParams, PersistenceError
from groundhog.settings import DEFAULTS, SPECS, Settings, Spec, from_text, normalized, problem
from groundhog.store.dirs import open_private_dir
from groundhog.workspace import canonical_root, platform_config_dir, platform_store_dir

CONFIG_FILE = "config.toml"
CONFIG_DIR_ENV = "GROUNDHOG_CONFIG_DIR"
MAX_CONFIG_BYTES = 1 << 20
WORKSPACE_TABLE = "workspace"
# settings that choose a store and key: an invalid one stops the process instead of being ignored
LOCATORS = frozenset({"store_dir", "key_dir", "store_url", "workspace_id"})


def config_dir() -> Path:
    """Where config.toml (and, unless it says otherwise, the keys) live."""
    env = os.environ.get(CONFIG_DIR_ENV)
    return Path(env) if env else platform_config_dir()


def default_store_dir() -> Path:
    """Where workspace stores live: ``GROUNDHOG_HOME``, else the configuration file's
    ``store_dir``, else the platform's user data dir."""
    chosen = user_setting("store_dir")
    return Path(chosen) if chosen else platform_store_dir()


def default_config_dir() -> Path:
    """Where keys and the transport token live: ``GROUNDHOG_CONFIG_DIR``, else the configuration
    file's ``key_dir``, else the platform's user config dir (where the configuration file is)."""
    chosen = user_setting("key_dir")
    return Path(chosen) if chosen else platform_config_dir()


def config_path() -> Path:
    return config_dir() / CONFIG_FILE


@dataclass(frozen=True)
class ConfigFile:
    """What the file says: top-level values, and per-workspace tables keyed by canonical root."""

    path: Path
    exists: bool
    top: dict[str, Any] = field(default_factory=dict)
    workspaces: dict[str, dict[str, Any]] = field(default_factory=dict)  # canonical root -> values
    problems: list[str] = field(default_factory=list)  # values left at their default, one phrase each


def read_config(path: Path | None = None) -> ConfigFile:
    """Read and check the file (absent: empty). Raises for a file we must not trust, one that is not
    TOML, and an invalid store-choosing setting; other problems are listed and those values left out."""
    path = path or config_path()
    text = _read_private(path)
    if text is None:
        return ConfigFile(path, exists=False)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidParams(
            f"The Groundhog configuration file is not valid TOML ({error}); "
            "`groundhog config` shows where it is.",
            field="config",
        ) from None
    problems: list[str] = []
    tables = raw.pop(WORKSPACE_TABLE, {})
    top = _checked(raw, "", problems, per_workspace=False)
    workspaces: dict[str, dict[str, Any]] = {}
    if not isinstance(tables, dict):
        problems.append(f"'{WORKSPACE_TABLE}' must be a table of workspace tables; ignored")
        tables = {}
    for root, values in tables.items():
        if not isinstance(values, dict):
            problems.append(f"'{WORKSPACE_TABLE}.{root}' must be a table; ignored")
            continue
        workspaces[_canonical(root)] = _checked(
            values, f"{WORKSPACE_TABLE}.{root}.", problems, per_workspace=True
        )
    return ConfigFile(path, True, top, workspaces, problems)


def _checked(
    values: Mapping[str, Any], where: str, problems: list[str], *, per_workspace: bool
) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in values.items():
        spec = SPECS.get(key)
        why: str | None
        if spec is None or not spec.config:
            why = "is not a setting of the configuration file"
        elif per_workspace and not spec.per_workspace:
            why = "applies to every workspace: set it at the top level"
        else:
            why = file_problem(spec, value)
        if why is None:
            kept[key] = normalized(spec, value) if spec is not None else value
            continue
        if key in LOCATORS:
            raise InvalidParams(
                f"The configuration file's '{where}{key}' {why} (fix it with `groundhog config set`).",
                field=f"config.{where}{key}",
            )
        problems.append(f"'{where}{key}' {why}; ignored")
    return kept


def file_problem(spec: Spec, value: Any) -> str | None:
    """``settings.problem``, and no secrets: the file is a configuration, not a key store."""
    why = problem(spec, value)
    if why is None and spec.name == "store_url" and urlparse(value).password:
        return "must not hold a password (put it in ~/.pgpass or PGPASSWORD)"
    return why


def _canonical(root: str) -> str:
    return canonical_root(os.path.expanduser(root))


def _read_private(path: Path) -> str | None:
    """The file's text, read through one descriptor checked as ours and not writable by others."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as error:
        if os.path.islink(path):
            raise AccessDenied(
                "The Groundhog configuration file is a symbolic link; refusing to follow it (copy the file)."
            ) from None
        raise PersistenceError(
            f"The Groundhog configuration file cannot be read ({error.strerror})."
        ) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise AccessDenied("The Groundhog configuration file is not a regular file; refusing to read it.")
        if info.st_uid != os.geteuid():
            raise AccessDenied(
                "The Groundhog configuration file belongs to another user; refusing to trust it."
            )
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise AccessDenied(
                "The Groundhog configuration file is writable by other users; refusing to trust it "
                "(chmod 600 it and check what it says)."
            )
        data = handle.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise InvalidParams(
            "The Groundhog configuration file is over 1 MiB; refusing to read it.", field="config"
        )
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise InvalidParams("The Groundhog configuration file is not UTF-8 text.", field="config") from None


# -- resolution ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """The settings and, for each one that is not its default, where its value came from."""

    settings: Settings
    sources: dict[str, str]
    config: ConfigFile


def resolve(
    root: str | os.PathLike[str] | None = None,
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config: ConfigFile | None = None,
) -> Resolved:
    """Every setting for the workspace ``root``: defaults, the config file (top level, then the
    workspace's table), the environment, then ``flags`` (already checked, by setting name; None
    values mean "not given")."""
    environ = os.environ if environ is None else environ
    config = config if config is not None else read_config()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, value in config.top.items():
        values[name], sources[name] = value, f"config file ({config.path})"
    if root is not None:
        table = config.workspaces.get(_canonical(os.fspath(root)), {})
        for name, value in table.items():
            values[name], sources[name] = value, f"config file ({config.path}, workspace table)"
    for spec in SPECS.values():
        text = environ.get(spec.env) if spec.env else None
        if text:
            values[spec.name] = _from_environment(spec, text)
            sources[spec.name] = f"environment ({spec.env})"
    for name, value in (flags or {}).items():
        if value is not None:
            values[name], sources[name] = value, f"flag ({SPECS[name].flag})"
    return Resolved(DEFAULTS.with_values(values), sources, config)


def user_setting(name: str) -> Any:
    """One workspace-independent setting (``store_dir``, ``key_dir``): its environment variable, else
    the configuration file's top level, else None. A problem with another setting does not stop it."""
    spec = SPECS[name]
    text = os.environ.get(spec.env) if spec.env else None
    if text:
        return _from_environment(spec, text)
    return read_config().top.get(name)


def _from_environment(spec: Spec, text: str) -> Any:
    value = from_text(spec, text)
    why = problem(spec, value)
    if why is not None:
        shown = "" if spec.secret else f" ({text!r})"
        raise InvalidParams(f"The environment variable {spec.env}{shown} {why}.", field=spec.env or spec.name)
    return normalized(spec, value)


# -- writing (groundhog config set / unset) -----------------------------------------------------


def set_value(name: str, value: Any, workspace: str | None = None, path: Path | None = None) -> Path:
    """Write ``name = value`` (checked) at the top level or in the workspace's table, keeping every
    other line (and comment) of the file as it was."""
    spec = SPECS.get(name)
    if spec is None or not spec.config:
        raise InvalidParams(f"{name!r} is not a setting of the configuration file.", field="name")
    if workspace is not None and not spec.per_workspace:
        raise InvalidParams(f"{name!r} applies to every workspace: set it without --workspace.", field="name")
    why = file_problem(spec, value)
    if why is not None:
        raise InvalidParams(f"The setting {name!r} {why}.", field=name)
    return _edit(name, _toml_value(value), workspace, path or config_path())


def unset_value(name: str, workspace: str | None = None, path: Path | None = None) -> Path:
    if name not in SPECS:
        raise InvalidParams(f"{name!r} is not a setting.", field="name")
    return _edit(name, None, workspace, path or config_path())


def _edit(name: str, rendered: str | None, workspace: str | None, path: Path) -> Path:
    text = _read_private(path) or ""
    lines = text.splitlines()
    table = None if workspace is None else f"{WORKSPACE_TABLE}.{_toml_value(_canonical_path(workspace))}"
    start, end = _table_span(lines, table)
    if start is None:  # a new workspace table at the end
        if rendered is None:
            return path
        lines += ["", f"[{table}]"]
        start, end = len(lines), len(lines)
    key = re.compile(rf"^\s*{re.escape(name)}\s*=")
    found = next((i for i in range(start, end) if key.match(lines[i])), None)
    if found is not None:
        if rendered is None:
            del lines[found]
        else:
            lines[found] = f"{name} = {rendered}"
    elif rendered is not None:
        insert = end
        while insert > start and not lines[insert - 1].strip():
            insert -= 1  # after the table's last setting, before the blank lines that end it
        lines.insert(insert, f"{name} = {rendered}")
    new_text = "\n".join(lines).strip("\n") + "\n"
    tomllib.loads(new_text)  # what we write must read back
    _write_private(path, new_text)
    return path


def _table_span(lines: list[str], table: str | None) -> tuple[int | None, int]:
    """The lines of the top level (``table`` None) or of ``[table]``: (first, end)."""
    headers = [(i, _header(line)) for i, line in enumerate(lines)]
    starts = [i for i, header in headers if header is not None]
    if table is None:
        return 0, starts[0] if starts else len(lines)
    wanted = tomllib.loads(f"[{table}]\n")
    for i, header in headers:
        if header == wanted:
            end = next((j for j in starts if j > i), len(lines))
            return i + 1, end
    return None, len(lines)


def _header(line: str) -> dict[str, Any] | None:
    """What a ``[table]`` header line declares, or None for any other line."""
    if not line.lstrip().startswith("[") or line.lstrip().startswith("[["):
        return None
    try:
        return tomllib.loads(line + "\n")
    except tomllib.TOMLDecodeError:
        return None  # e.g. a line of a multi-line array


def _canonical_path(workspace: str) -> str:
    return os.path.normpath(os.path.abspath(os.path.expanduser(workspace)))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string: JSON's escapes are TOML's


def _write_private(path: Path, text: str) -> None:
    """Replace the file atomically, 0600, in a private directory."""
    open_private_dir(path.parent, "The config directory").close()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
