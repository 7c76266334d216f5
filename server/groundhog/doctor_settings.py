"""``groundhog doctor``'s view of the settings: the user's configuration file, where each setting that
matters came from, and agent set-ups that would start ``groundhog mcp`` without what this shell's
environment says (mcp-hub and Codex pass a server only a few variables unless told: the agent would
then silently open another store with another key)."""

from __future__ import annotations

import contextlib
import json
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from groundhog.errors import ContextError
from groundhog.settings import SPECS, Settings, for_people
from groundhog.userconfig import ConfigFile, config_path, read_config, resolve

# Always shown: they decide which store and key a process uses.
SHOWN = ("store_dir", "key_dir", "store_url", "workspace_id")
WORKSPACE_KEY_ENV = "GROUNDHOG_WORKSPACE_KEY"  # a secret: environment only, never in the file
Problem = Callable[[str, str, str], None]  # (subject, problem, fix)


def settings_report(root: str, flags: Mapping[str, Any], problem: Problem) -> tuple[dict[str, Any], Settings]:
    """The configuration file's state and each setting's value and source; a file or variable the
    servers would refuse is a problem, and doctor goes on with what remains."""
    path = config_path()
    try:
        config = read_config(path)
    except ContextError as error:
        problem("configuration", error.message, f"Fix or remove {path} (`groundhog config` shows it).")
        config = ConfigFile(path, exists=True)
    try:
        resolved = resolve(root, flags, config=config)
    except ContextError as error:  # an environment variable every server would refuse
        problem("configuration", error.message, "Fix or unset that environment variable.")
        resolved = resolve(root, flags, config=config, environ={})
    for text in config.problems:
        problem("configuration", f"The configuration file's {text}.", "Fix it with `groundhog config set`.")
    shown = []
    for name, spec in SPECS.items():
        if name not in SHOWN and name not in resolved.sources:
            continue
        value = getattr(resolved.settings, name)
        shown.append(
            {
                "name": name,
                "value": for_people(spec, value),
                "from": resolved.sources.get(name, "default"),
            }
        )
    report = {"path": str(path), "exists": config.exists, "settings": shown}
    return report, resolved.settings


def agent_environment(
    workspace: Path, config: ConfigFile | None, problem: Problem, environ: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Agent entries that start groundhog without a GROUNDHOG_* variable this shell sets (and the
    configuration file does not say): each is a problem with its fix."""
    environ = os.environ if environ is None else environ
    config = config if config is not None else ConfigFile(config_path(), exists=False)
    wanted = _variables_that_matter(environ, config)
    if not wanted:
        return []
    found = []
    for agent, where, entry, passed in _filtering_entries(workspace):
        missing = [name for name in wanted if name not in passed]
        if not missing:
            continue
        found.append({"agent": agent, "where": str(where), "entry": entry, "missing": missing})
        names = ", ".join(missing)
        problem(
            "agents",
            f"{agent} starts groundhog ('{entry}' in {where}) with only a few environment variables, "
            f"not {names}, which this shell sets: that agent would open another store or key.",
            _fix(agent, missing),
        )
    return found


def _variables_that_matter(environ: Mapping[str, str], config: ConfigFile) -> list[str]:
    """The GROUNDHOG_* variables set here whose value the configuration file does not already give."""
    wanted = []
    for spec in SPECS.values():
        if spec.env is None or not environ.get(spec.env):
            continue
        if spec.config and spec.name in config.top:
            from groundhog.settings import from_text, normalized

            if config.top[spec.name] == normalized(spec, from_text(spec, environ[spec.env])):
                continue  # the file says the same: every process finds it
        wanted.append(spec.env)
    if environ.get(WORKSPACE_KEY_ENV):
        wanted.append(WORKSPACE_KEY_ENV)
    return wanted


def _fix(agent: str, missing: list[str]) -> str:
    settable = [spec.name for spec in SPECS.values() if spec.env in missing and spec.config]
    steps = []
    if settable:
        steps.append(
            "put them in the configuration file, which every Groundhog process reads: "
            + "; ".join(f"`groundhog config set {name} ...`" for name in settable)
        )
    field = "env_vars" if agent.startswith("Codex") else "env"
    steps.append(f"or list them in the entry's `{field}`")
    return ", ".join(steps) + "."


def _filtering_entries(workspace: Path) -> list[tuple[str, Path, str, set[str]]]:
    """(agent, file, entry name, variables it passes) for each entry naming groundhog in the
    set-ups of agents that filter the environment."""
    entries: list[tuple[str, Path, str, set[str]]] = []
    codex_home = Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex")
    codex = _load_toml(codex_home / "config.toml")
    for name, entry in _named_groundhog(codex.get("mcp_servers")):
        passed = set(entry.get("env") or {}) | set(entry.get("env_vars") or [])
        entries.append(("Codex CLI", codex_home / "config.toml", name, passed))
    for path in (Path.home() / ".config" / "mcphub" / "servers.json", workspace / ".mcphub" / "servers.json"):
        servers = _load_json(path).get("mcpServers")
        for name, entry in _named_groundhog(servers):
            entries.append(("mcp-hub", path, name, set(entry.get("env") or {})))
    return entries


def _named_groundhog(servers: Any) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(servers, dict):
        return []
    named = []
    for name, entry in servers.items():
        if not isinstance(entry, dict):
            continue
        words = [str(entry.get("command") or ""), *[str(arg) for arg in entry.get("args") or []]]
        if any("groundhog" in word.lower() for word in words):
            named.append((str(name), entry))
    return named


def _load_toml(path: Path) -> dict[str, Any]:
    with (
        contextlib.suppress(OSError, tomllib.TOMLDecodeError, UnicodeDecodeError),
        open(path, "rb") as handle,
    ):
        return tomllib.loads(handle.read(1 << 20).decode())
    return {}


def _load_json(path: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError), open(path, "rb") as handle:
        loaded = json.loads(handle.read(1 << 20))
        return loaded if isinstance(loaded, dict) else {}
    return {}
