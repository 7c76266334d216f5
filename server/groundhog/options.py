"""A session's options: an editor's ``initializationOptions`` (fully defaulted; each invalid option
is reported once and replaced by its default, so a typo never stops an editor from starting), or
an agent's command-line flags (``groundhog mcp``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

from groundhog.limits import (
    DEFAULT_EDITOR_FLUSH_MS,
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_SNAPSHOT_MAX_BYTES,
    DEFAULT_STORE_BUDGET_BYTES,
    EDITOR_FLUSH_MS_RANGE,
    HISTORY_LIMIT_RANGE,
    SNAPSHOT_MAX_BYTES_RANGE,
    STORE_BUDGET_BYTES_RANGE,
)


@dataclass(frozen=True)
class Options:
    store_dir: str | None = None
    read_only: bool = False
    history_limit: int = DEFAULT_HISTORY_LIMIT
    snapshot_max_bytes: int = DEFAULT_SNAPSHOT_MAX_BYTES
    editor_tracking: bool = True
    editor_flush_ms: int = DEFAULT_EDITOR_FLUSH_MS
    token: str | None = None
    context: str | None = None  # the context to start in (``groundhog mcp --context``)
    store_budget_bytes: int = DEFAULT_STORE_BUDGET_BYTES


_WIRE = {
    "storeDir": ("store_dir", str, None),
    "readOnly": ("read_only", bool, None),
    "historyLimit": ("history_limit", int, HISTORY_LIMIT_RANGE),
    "snapshotMaxBytes": ("snapshot_max_bytes", int, SNAPSHOT_MAX_BYTES_RANGE),
    "editorTracking": ("editor_tracking", bool, None),
    "editorFlushMs": ("editor_flush_ms", int, EDITOR_FLUSH_MS_RANGE),
    "storeBudgetBytes": ("store_budget_bytes", int, STORE_BUDGET_BYTES_RANGE),
    "token": ("token", str, None),
}


def parse_options(raw: Any) -> tuple[Options, list[str]]:
    """Return the options and a list of problems (one sentence each)."""
    if raw is None:
        return Options(), []
    if not isinstance(raw, dict):
        return Options(), ["initializationOptions must be an object; using the defaults."]
    values: dict[str, Any] = {}
    problems = []
    defaults = {f.name: f.default for f in fields(Options)}
    for key, value in raw.items():
        if key not in _WIRE:
            problems.append(f"unknown option {key!r} ignored")
            continue
        name, kind, bounds = _WIRE[key]
        if value is None:
            continue
        valid = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if valid and bounds is not None and not bounds[0] <= value <= bounds[1]:
            valid = False
        if valid and name == "store_dir":
            # relative to what? the server's working directory depends on how the editor started it
            value = os.path.expanduser(value)
            valid = os.path.isabs(value)
        if not valid:
            problems.append(f"option {key!r} is invalid; using the default {defaults[name]!r}")
            continue
        values[name] = value
    return Options(**values), problems
