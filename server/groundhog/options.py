"""A session's options: an editor's ``initializationOptions`` (fully defaulted; each invalid option
is reported once and replaced by its default, so a typo never stops an editor from starting), or
an agent's command-line flags (``groundhog mcp``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

from groundhog.limits import (
    AUDIT_KEEP_RANGE,
    AUDIT_MAX_AGE_DAYS_RANGE,
    DEFAULT_AUDIT_KEEP,
    DEFAULT_AUDIT_MAX_AGE_DAYS,
    DEFAULT_EDITOR_FLUSH_MS,
    DEFAULT_FEED_KEEP,
    DEFAULT_HISTORY_LIMIT,
    DEFAULT_RECOVERY_POINTS_KEEP,
    DEFAULT_SNAPSHOT_MAX_BYTES,
    DEFAULT_STORE_BUDGET_BYTES,
    EDITOR_FLUSH_MS_RANGE,
    FEED_KEEP_RANGE,
    HISTORY_LIMIT_RANGE,
    RECOVERY_POINTS_KEEP_RANGE,
    SNAPSHOT_MAX_BYTES_RANGE,
    STORE_BUDGET_BYTES_RANGE,
    within,
)
from groundhog.workspace import is_postgres_url, valid_workspace_id


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
    # retention (limits.py says why each default)
    recovery_points_keep: int = DEFAULT_RECOVERY_POINTS_KEEP
    audit_keep: int = DEFAULT_AUDIT_KEEP
    audit_max_age_days: int = DEFAULT_AUDIT_MAX_AGE_DAYS
    feed_keep: int = DEFAULT_FEED_KEEP
    # a shared PostgreSQL store instead of the embedded one, and the workspace's name in it
    store_url: str | None = None
    workspace_id: str | None = None


_WIRE = {
    "storeDir": ("store_dir", str, None),
    "readOnly": ("read_only", bool, None),
    "historyLimit": ("history_limit", int, HISTORY_LIMIT_RANGE),
    "snapshotMaxBytes": ("snapshot_max_bytes", int, SNAPSHOT_MAX_BYTES_RANGE),
    "editorTracking": ("editor_tracking", bool, None),
    "editorFlushMs": ("editor_flush_ms", int, EDITOR_FLUSH_MS_RANGE),
    "storeBudgetBytes": ("store_budget_bytes", int, STORE_BUDGET_BYTES_RANGE),
    "recoveryPointsKeep": ("recovery_points_keep", int, RECOVERY_POINTS_KEEP_RANGE),
    "auditKeep": ("audit_keep", int, AUDIT_KEEP_RANGE),
    "auditMaxAgeDays": ("audit_max_age_days", int, AUDIT_MAX_AGE_DAYS_RANGE),
    "feedKeep": ("feed_keep", int, FEED_KEEP_RANGE),
    "token": ("token", str, None),
    "storeUrl": ("store_url", str, None),
    "workspaceId": ("workspace_id", str, None),
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
        if bounds is not None:  # an integer option: the message says which range
            valid = within(value, bounds)
            why = f"must be an integer from {bounds[0]} to {bounds[1]}"
        else:
            valid, why = isinstance(value, kind), "is invalid"
            if valid and name == "store_dir":
                # relative to what? the server's working directory depends on how the editor started it
                value = os.path.expanduser(value)
                valid = os.path.isabs(value)
            elif valid and name == "store_url":
                valid, why = is_postgres_url(value), "must be a postgresql:// URL"
            elif valid and name == "workspace_id":
                valid, why = (
                    valid_workspace_id(value),
                    "must be 1 to 128 letters, digits, '.', '_', '-' or '/'",
                )
        if not valid:
            problems.append(f"option {key!r} {why}; using the default {defaults[name]!r}")
            continue
        values[name] = value
    return Options(**values), problems
